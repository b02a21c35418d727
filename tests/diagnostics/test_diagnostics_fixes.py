"""Regression tests: chunked quadrature check, tfd.Sample statuses, LOO on one term."""
import math
import types

import numpy as np
import pytest

import bayesquad
import arviz as az
import tensorflow as tf
import tensorflow_probability as tfp
from bayesquad.diagnostics import _quadrature_check as Q
from bayesquad.diagnostics import diagnose, quadrature_check
from bayesquad.diagnostics._loo import loo_check as _loo_check
from bayesquad.inference import Target, _model
from bayesquad.inference._statuses import status_tensors

tfd = tfp.distributions
N_OBS = 50


def _sample_model():
    def m():
        tau = yield tfd.JointDistributionCoroutine.Root(
            tfd.HalfNormal(tf.constant(3.0, tf.float64), name="tau"))
        yield tfd.Sample(bayesquad.Convolved(tfd.Exponential(1 / tau),
                                             tfd.Normal(tf.constant(0.0, tf.float64), 0.3)),
                         N_OBS, name="t")
    return tfd.JointDistributionCoroutine(m)


@pytest.fixture(scope="module")
def sample_fit():
    rng = np.random.default_rng(0)
    t = rng.exponential(1.5, N_OBS) + rng.normal(0, 0.3, N_OBS)
    dt = az.from_dict({"posterior": {"tau": rng.uniform(1.2, 1.8, (2, 10))}})
    return _sample_model(), {"t": t}, dt


def test_sample_wrapped_integrals_report_statuses(sample_fit):
    model, observed, dt = sample_fit
    c = quadrature_check(dt, model, observed, draws=20)
    assert c.passed, c.message
    assert f"of {20 * N_OBS} integrals" in c.message
    # the batched path: the observed [n] must not collide with the draws' batch [20]
    st = Target(model, observed).quadrature_statuses(tf.zeros([20, 1], tf.float64))
    assert int(st.shape[0]) == 20 * N_OBS


def test_check_is_chunked_with_one_trace_per_setting(sample_fit, monkeypatch):
    model, observed, dt = sample_fit
    traces = []
    real = _model.log_prob_fn

    def counting(*a, **k):  # called by the layout's set-up and once per trace of the check
        traces.append(1)
        return real(*a, **k)
    monkeypatch.setattr(_model, "log_prob_fn", counting)
    whole = quadrature_check(dt, model, observed, draws=7, chunk_draws=7)
    n_whole = len(traces)
    chunked = quadrature_check(dt, model, observed, draws=7, chunk_draws=3)  # 3 + 3 + 1 (+2 pad)
    assert len(traces) - n_whole == n_whole  # no retrace for the second and padded chunks
    assert chunked.passed and whole.passed
    assert abs(chunked.value - whole.value) < 1e-10  # same draws: round-off apart
    assert chunked.message.split("; ")[1:] == whole.message.split("; ")[1:]
    assert f"of {7 * N_OBS} integrals" in chunked.message  # padding rows not counted
    with pytest.raises(ValueError, match="chunk_draws"):
        quadrature_check(dt, model, observed, chunk_draws=0)


def test_default_chunk_bounds_draws_times_observations():
    def observing(n):
        return types.SimpleNamespace(num_observations=lambda: n)
    assert Q._chunk_size(20, observing(50)) == 20
    assert Q._chunk_size(20, observing(1000)) == Q._CHUNK_OBSERVATIONS // 1000
    assert Q._chunk_size(20, observing(5000)) == 1  # one draw at a time, not zero


def test_loo_on_a_single_pointwise_term_is_not_applicable():
    rng = np.random.default_rng(1)
    post = {"rate": rng.gamma(50.0, 0.02, (2, 100))}
    stats = {"diverging": np.zeros((2, 100), bool)}
    one = {"events": rng.normal(-40.0, 3.0, (2, 100))}  # one term per realisation
    v = diagnose(az.from_dict({"posterior": post, "sample_stats": stats, "log_likelihood": one}))
    loo = v["loo_pareto_k"]
    assert loo.passed is None and loo.status == "n/a" and "n/a" in loo.message
    assert math.isnan(loo.value)
    # a variable with many terms is still checked alongside
    many = dict(one, y=rng.normal(-1.0, 0.05, (2, 100, 30)))
    loo = diagnose(az.from_dict({"posterior": post, "sample_stats": stats,
                                 "log_likelihood": many}))["loo_pareto_k"]
    assert loo.passed is True and "events: LOO n/a" in loo.message
    assert "y: elpd_loo" in loo.message


def test_loo_that_cannot_be_fitted_is_reported_not_failed():
    # several terms that do not depend on the parameters: PSIS cannot fit, the check says so
    post = {"rate": np.random.default_rng(0).normal(size=(2, 100))}
    ll = {"obs": np.broadcast_to(np.array([-1.0, -2.0, -3.0, -0.5]), (2, 100, 4)).copy()}
    loo = _loo_check(az.from_dict({"posterior": post, "log_likelihood": ll}), None)
    assert loo.passed is None and "LOO failed" in loo.message


def test_mixture_components_report_statuses():
    # W1's normalised shapes sit inside a tfd.Mixture: their integrals must be counted
    def m():
        mu = yield tfd.JointDistributionCoroutine.Root(
            tfd.Normal(tf.constant(5.0, tf.float64), 1.0, name="mu"))
        peak = bayesquad.Normalized(lambda x, mu: -0.5 * (x - mu) ** 2, 0.0, 10.0,
                                    params={"mu": mu})
        flat = bayesquad.Normalized(lambda x, mu: -0.1 * x + 0.0 * mu, 0.0, 10.0,
                                    params={"mu": mu})
        weights = tf.stack([0.3 + 0.0 * mu, 0.7 + 0.0 * mu], axis=-1)  # batch like mu
        mix = tfd.Mixture(tfd.Categorical(probs=weights), [peak, flat])
        yield tfd.Sample(mix, 20, name="x")
    model = tfd.JointDistributionCoroutine(m)
    x = np.linspace(1.0, 9.0, 20)
    target = Target(model, {"x": x})
    z = target.unconstrain({"mu": np.float64(5.0)})[None]
    statuses = status_tensors(target.working_model, target.layout, target.observed_tensors, z)
    assert len(statuses) == 2  # one per Normalized component
    assert all(int(tf.reduce_max(s)) == int(bayesquad.Status.CONVERGED) for s in statuses)
    flat = target.quadrature_statuses(z[0])
    assert int(tf.size(flat)) == sum(int(tf.size(s)) for s in statuses)


def test_loo_results_travel_in_the_check(monkeypatch):
    # diagnose() runs PSIS once (W1: seconds); what the report needs is in the details
    rng = np.random.default_rng(1)
    dt = az.from_dict({"posterior": {"m": rng.normal(size=(2, 50))},
                       "log_likelihood": {"y": rng.normal(-1.0, 0.1, size=(2, 50, 30))}})
    calls = []
    real = az.loo
    monkeypatch.setattr(az, "loo", lambda *a, **k: calls.append(1) or real(*a, **k))
    check = _loo_check(dt, None)
    assert len(calls) == 1
    d = check.details["variables"]["y"]
    from bayesquad.diagnostics._loo import relative_efficiency
    res = real(dt, pointwise=True, var_name="y", reff=relative_efficiency(dt, "y"))
    assert d["elpd"] == pytest.approx(float(res.elpd)) and d["n_terms"] == 30
    assert d["pareto_k"] == pytest.approx(np.round(np.asarray(res.pareto_k), 3).tolist())
    assert d["n_good"] + d["n_bad"] + d["n_very_bad"] == 30
