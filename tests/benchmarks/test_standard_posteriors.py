"""benchmarks/standard_posteriors.py's models, on synthetic data of posteriordb's shapes
(posteriordb itself is not vendored): each builds, has a finite log density at a point,
and its reference names map onto its variables."""
import importlib.util
import json
import os
import sys
import zipfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import bayesquad  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = os.path.join(ROOT, "benchmarks")


def _load():
    if BENCH not in sys.path:
        sys.path.insert(0, BENCH)
    spec = importlib.util.spec_from_file_location(
        "standard_posteriors", os.path.join(BENCH, "standard_posteriors.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rng = np.random.default_rng(0)
SYNTHETIC = {
    "eight_schools": {"J": 8, "y": rng.normal(0, 10, 8).tolist(),
                      "sigma": rng.uniform(5, 15, 8).tolist()},
    "diamonds": {"N": 50, "K": 25, "Y": rng.normal(8, 1, 50).tolist(),
                 "X": np.c_[np.ones(50), rng.normal(size=(50, 24))].tolist()},
    "arK": {"K": 5, "T": 60, "y": rng.normal(size=60).tolist()},
    "mesquite": {k: rng.uniform(1, 3, 20).tolist() for k in
                 ("weight", "diam1", "diam2", "canopy_height", "total_height", "density",
                  "group")},
    "kidiq": {"N": 30, "kid_score": rng.uniform(50, 120, 30).tolist(),
              "mom_iq": rng.uniform(70, 130, 30).tolist()},
    "mcycle_gp": {"N": 40, "Y": rng.normal(-20, 40, 40).tolist(),
                  "Xgp_1": rng.normal(0, 0.3, (40, 40)).tolist(),
                  "slambda_1": rng.uniform(0.5, 30, (40, 1)).tolist(),
                  "Xgp_sigma_1": rng.normal(0, 0.3, (40, 20)).tolist(),
                  "slambda_sigma_1": rng.uniform(0.5, 15, (20, 1)).tolist()},
}


@pytest.fixture(scope="module")
def bench():
    return _load()


@pytest.mark.parametrize("name", ["eight_schools-eight_schools_noncentered",
                                  "diamonds-diamonds", "arK-arK", "mesquite-logmesquite",
                                  "kidiq-kidscore_momiq", "mcycle_gp-accel_gp"])
def test_models_build_and_evaluate(bench, name):
    data_name, build = bench._models(tf, tfp.distributions)[name]
    model, observed, names, derived = build(SYNTHETIC[data_name])
    values = model.sample(seed=(1, 2), **{k: tf.constant(v) for k, v in observed.items()})
    lp = model.log_prob(values)
    assert np.isfinite(lp.numpy())
    variables = dict(zip(model._flat_resolve_names(), tf.nest.flatten(values)))
    if derived is not None:
        variables.update({k: v for k, v in derived(variables).items()})
    for var, index in names.values():
        assert var in variables
        if index is not None:
            assert index < variables[var].shape[-1]


def test_reads_posteriordb_zip_files(bench, tmp_path):
    folder = tmp_path / "posterior_database" / "data" / "data"
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "arK.json.zip", "w") as z:
        z.writestr("arK.json", json.dumps(SYNTHETIC["arK"]))
    assert bench._read(str(tmp_path), "data", "arK")["T"] == 60
