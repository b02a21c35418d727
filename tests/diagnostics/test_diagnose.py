"""diagnose: the verdict's checks on good and deliberately bad fits."""
import math

import numpy as np
import pytest

import bayesquad  # noqa: F401
import arviz as az
import bq_inference_models as M
from bayesquad.diagnostics import Check, Verdict, diagnose


def test_verdict_table_and_lookup():
    v = Verdict((Check("r_hat", 1.002, 1.01, True, "ok"),
                 Check("quadrature", math.nan, 0.01, None, "not run: pass model=..."),
                 Check("divergences", 3.0, 0.0, False, "3 of 800 transitions diverged")))
    assert not v.passed and [c.name for c in v.failed] == ["divergences"]
    assert v["quadrature"].status == "n/a" and len(v.not_run) == 1
    text = str(v)
    assert text.splitlines()[0] == "bayesquad verdict: FAILED (1 check(s))"
    assert "divergences" in text and "FAIL" in text and "1.002" in text
    assert v.to_dicts()[0]["name"] == "r_hat"
    with pytest.raises(KeyError, match="no check named"):
        v["nope"]


def test_conjugate_run_passes_every_check():
    # 4 x 300 draws: r_hat's own noise is ~0.005, so the 1.01 default is a coin toss here
    v = diagnose(M.conjugate_run(), rhat_max=1.03)
    names = [c.name for c in v]
    assert names == ["r_hat", "ess_bulk", "ess_tail", "divergences", "e_bfmi", "tree_depth",
                     "quadrature", "loo_pareto_k"]
    assert v.passed, str(v)
    assert v["quadrature"].passed and v["quadrature"].value == 0.0  # no integrals here
    assert "elpd_loo" in v["loo_pareto_k"].message


def test_quadrature_check_passes_with_accurate_integrals():
    good = diagnose(M.normalized_run(), model=M.normalized_model(method="adaptive-gk"))
    assert good["quadrature"].passed, good["quadrature"].message
    assert good["quadrature"].value < 1e-6


def test_quadrature_check_passes_for_the_default_model():
    good = diagnose(M.normalized_run(), seed=1)  # model found through the weak registry
    assert good["quadrature"].passed, good["quadrature"].message
    assert good["quadrature"].value < 1e-6


@pytest.mark.parametrize("quadrature", [
    dict(method="trapezoid", panels=2),
    dict(method="simpson", panels=2),
])
def test_quadrature_check_flags_too_few_nodes(quadrature):
    """Too few nodes (trapezoid or Simpson with 2 panels) for the normaliser."""
    # The draws of the accurate model, re-evaluated with a crude rule for the normaliser.
    dt = M.normalized_run()
    bad = diagnose(dt, model=M.normalized_model(**quadrature))
    assert bad["quadrature"].passed is False
    assert bad["quadrature"].value > 0.01
    assert "too inaccurate" in bad["quadrature"].message
    assert not bad.passed


def test_quadrature_not_run_without_model(tmp_path):
    fit = M.conjugate_run()
    assert isinstance(fit, bayesquad.Fit) and fit.target.model is M.CONJUGATE
    assert diagnose(fit)["quadrature"].passed  # the Fit carries its Target
    path = tmp_path / "fit.nc"
    fit.to_netcdf(path)
    back = az.from_netcdf(path)  # a plain DataTree: no model, nothing looked up elsewhere
    v = diagnose(back)
    assert v["quadrature"].passed is None
    assert "pass model=" in v["quadrature"].message
    assert v["ess_bulk"].passed
    # reopened with its model, it diagnoses as the live fit did
    again = bayesquad.load_fit(path, M.CONJUGATE)
    assert again.target.observed.keys() == fit.target.observed.keys()
    live, reopened = diagnose(fit), diagnose(again)
    assert [(c.name, c.passed) for c in reopened] == [(c.name, c.passed) for c in live]
    np.testing.assert_allclose([c.value for c in reopened], [c.value for c in live],
                               rtol=1e-9)


def test_funnel_divergences_fail_the_verdict():
    v = diagnose(M.funnel_run())
    assert v["divergences"].passed is False and v["divergences"].value > 0
    assert not v.passed
    # 'obs' is a single pointwise term: nothing to leave out, so LOO does not apply
    assert v["loo_pareto_k"].passed is None and "LOO n/a" in v["loo_pareto_k"].message


def test_vi_and_map_verdicts():
    from bayesquad.inference import find_map, fit_vi
    dt = fit_vi(M.CONJUGATE, M.CONJ_OBS, steps=200, draws=50)
    v = diagnose(dt)
    assert [c.name for c in v] == ["vi_converged", "quadrature"]
    r = find_map(M.CONJUGATE, M.CONJ_OBS, laplace_draws=50)
    v = diagnose(r.datatree)
    assert [c.name for c in v] == ["map_converged", "quadrature"] and v.passed


def test_diagnose_rejects_trees_without_posterior():
    with pytest.raises(ValueError, match="posterior"):
        diagnose(az.from_dict({"observed_data": {"y": np.zeros(3)}}))
