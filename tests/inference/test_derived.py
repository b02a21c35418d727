"""derived=: functions of the parameters recorded with the draws (sample, MAP, VI, CLI)."""
import arviz as az
import bq_inference_models as M
import numpy as np
import pytest
import tensorflow as tf

from bayesquad.inference import find_map, fit_vi, sample

SETTINGS = dict(chains=2, warmup=150, draws=100, seed=3, progress=False,
                log_likelihood=False)


def _derived(values):
    return {"log_mu_sq": tf.math.log(tf.square(values["mu"])),
            "mu_plus_p": values["mu"] + values["p"]}


@pytest.fixture(scope="module")
def fit():
    return sample(M.CONJUGATE, M.CONJ_OBS, derived=_derived, **SETTINGS)


def test_derived_quantities_are_recorded_and_summarised(fit):
    post = fit.posterior
    np.testing.assert_allclose(post["mu_plus_p"].values, post["mu"].values + post["p"].values,
                               rtol=1e-12)
    np.testing.assert_allclose(post["log_mu_sq"].values, np.log(post["mu"].values ** 2),
                               rtol=1e-12)
    summary = az.summary(fit, var_names=["mu_plus_p"])
    assert np.isfinite(summary["ess_bulk"].iloc[0])


def test_derived_does_not_change_the_draws(fit):
    plain = sample(M.CONJUGATE, M.CONJ_OBS, **SETTINGS)
    np.testing.assert_array_equal(plain.posterior["mu"].values, fit.posterior["mu"].values)


@pytest.mark.parametrize("derived, error, match", [
    ("not a function", TypeError, "must be a function"),
    (lambda v: v["mu"], TypeError, "must return a dict"),
    (lambda v: {"mu": v["mu"] * 2}, ValueError, "already a variable"),
    (lambda v: {"mean_mu": tf.reduce_mean(v["mu"])}, ValueError, "leading"),
    (lambda v: {"x": v["no_such_variable"]}, ValueError, "derived failed"),
])
def test_bad_derived_is_refused_before_sampling(derived, error, match, monkeypatch):
    from bayesquad.inference import _chains

    def never(*a, **k):
        raise AssertionError("sampling started")
    monkeypatch.setattr(_chains, "run_chunks", never)
    with pytest.raises(error, match=match):
        sample(M.CONJUGATE, M.CONJ_OBS, derived=derived, **SETTINGS)


def test_map_and_vi_record_derived_quantities():
    result = find_map(M.CONJUGATE, M.CONJ_OBS, laplace_draws=50, derived=_derived)
    post = result.datatree.posterior
    np.testing.assert_allclose(post["mu_plus_p"].values, post["mu"].values + post["p"].values)
    dt = fit_vi(M.CONJUGATE, M.CONJ_OBS, steps=200, draws=50, derived=_derived, jit=False)
    np.testing.assert_allclose(dt.posterior["mu_plus_p"].values,
                               dt.posterior["mu"].values + dt.posterior["p"].values)
