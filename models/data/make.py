"""Regenerate the bundled data sets ``models/data/<name>.npz`` (fixed seeds).

    .venv/bin/python models/data/make.py [--check]

Each file is ``simulate(seed)`` of its model at the WORKLOADS.md truths and sizes, with
the seeds of ``../shared/benchmarks/make_data.py``, so the bundled data are the reference
workloads W1-W6 themselves (``simulate`` reproduces that generator's random stream).
``--check`` compares freshly simulated data with the files instead of writing them and
exits non-zero on a difference. Needs numpy and the model files (which import
bayesquad, hence TensorFlow, although ``simulate`` itself is numpy only).
"""
import importlib.util
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)

#: model name -> seed (the workload seeds of make_data.py)
SEEDS = {
    "peak_on_background": 20240101,
    "poisson_process": 20240102,
    "glmm_logistic": 20240103,
    "survival_tvc": 20240104,
    "lifetime_resolution": 20240105,
    "spatial_poisson": 20240106,
}


def load_model(name):
    """Import ``models/<name>.py`` by path (``models/`` is not a package)."""
    spec = importlib.util.spec_from_file_location(f"bayesquad_model_{name}",
                                                  os.path.join(MODELS, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv):
    check = "--check" in argv
    failed = False
    for name, seed in SEEDS.items():
        data = load_model(name).simulate(seed)
        path = os.path.join(HERE, name + ".npz")
        if check:
            with np.load(path) as f:
                same = sorted(f.files) == sorted(data) and all(
                    f[k].dtype == data[k].dtype and np.array_equal(f[k], data[k])
                    for k in data)
            failed |= not same
            print(f"{name}: {'matches' if same else 'DIFFERS from'} {path}")
        else:
            np.savez_compressed(path, **data)
            print(f"{name}: wrote {path} ({os.path.getsize(path) / 1024:.0f} KB)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
