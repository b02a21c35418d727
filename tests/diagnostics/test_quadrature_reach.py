"""The quadrature check reaches every integral-defined distribution (issue 10, part 4).

For each distribution a model built with a deliberately coarse rule must show, under the
check, the change its coarse rule makes: the check's value is compared with the fit's
own error against a closed form (or scipy.integrate.quad), never with the code under test.
A check that does not reach an integral reports 0 instead.
"""
import numpy as np
import pytest
import scipy.integrate as si
import scipy.stats as st

import bayesquad
import arviz as az
import tensorflow as tf
import tensorflow_probability as tfp
from bayesquad.diagnostics import quadrature_check
from bayesquad.distributions import (Convolved, ExtendedUnbinned, GaussianLatentMarginal,
                                     Normalized, PoissonProcess, SurvivalFromHazard,
                                     expected_bin_counts, pad_events)

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root
F64 = tf.float64


def c(v):
    return tf.constant(v, F64)


def _likelihood_error(jd, observed, draws, exact):
    """max over draws |log-likelihood of the model - exact|; the priors are the same."""
    names = jd._flat_resolve_names()  # pylint: disable=protected-access
    worst = 0.0
    for s in range(len(next(iter(draws.values())))):
        point = {k: v[s] for k, v in draws.items()}
        values = [c(point[n]) if n in point else c(observed[n]) for n in names]
        parts = jd.log_prob_parts(values)
        lik = sum(float(p) for n, p in zip(names, parts) if n in observed)
        worst = max(worst, abs(lik - exact(**point)))
    return worst


def _assert_reached(jd, observed, draws, exact, at_least=1e-6):
    expected = _likelihood_error(jd, observed, draws, exact)
    assert expected > at_least, f"the coarse rule is not coarse: error {expected:.3g}"
    dt = az.from_dict({"posterior": {k: np.asarray(v)[None] for k, v in draws.items()}})
    check = quadrature_check(dt, jd, observed, draws=len(next(iter(draws.values()))),
                             tolerance=10.0)
    # the reference is accurate to ~1e-12 relative: the check measures the coarse error
    assert check.value == pytest.approx(expected, rel=1e-6, abs=1e-9), check.message
    return check


X = np.linspace(0.05, 0.95, 12) ** 1.3


def test_normalized():
    def m():
        lam = yield Root(tfd.Gamma(c(2.0), c(0.5), name="lam"))
        yield tfd.Sample(Normalized(lambda x, lam: -lam * x, 0.0, 1.0, params={"lam": lam},
                                    method="trapezoid", panels=2), X.size, name="x")
    jd = tfd.JointDistributionCoroutine(m)

    def exact(lam):
        return float(np.sum(-lam * X) - X.size * np.log(-np.expm1(-lam) / lam))
    _assert_reached(jd, {"x": X}, {"lam": np.array([1.5, 3.0])}, exact)


def test_extended_unbinned():
    def m():
        lam = yield Root(tfd.Gamma(c(2.0), c(0.5), name="lam"))
        shape = Normalized(lambda x, lam: -lam * x, 0.0, 1.0, params={"lam": lam},
                           method="simpson", panels=2)
        # one realisation of exactly max_events events: the inference layer refuses NaN
        yield ExtendedUnbinned(shape, c(10.0), max_events=X.size, name="x")
    jd = tfd.JointDistributionCoroutine(m)
    events = pad_events([X])[0]

    def exact(lam):
        return float(X.size * np.log(10.0) + np.sum(-lam * X)
                     - X.size * np.log(-np.expm1(-lam) / lam) - 10.0)
    _assert_reached(jd, {"x": events}, {"lam": np.array([1.5, 3.0])}, exact)


def test_poisson_process():
    T = 2.0

    def m():
        b = yield Root(tfd.Normal(c(0.0), c(1.0), name="b"))
        yield PoissonProcess(lambda t, b: np.log(5.0) - b * t, 0.0, T, params={"b": b},
                             method="trapezoid", panels=2, max_events=X.size, name="events")
    jd = tfd.JointDistributionCoroutine(m)
    ev = pad_events([X * T])[0]

    def exact(b):  # ∫_0^T 5 exp(-b t) dt
        return float(np.sum(np.log(5.0) - b * X * T) - 5.0 * -np.expm1(-b * T) / b)
    _assert_reached(jd, {"events": ev}, {"b": np.array([0.4, 1.1])}, exact)


def test_expected_bin_counts():
    edges = np.linspace(0.0, 1.0, 6)
    counts = np.array([9.0, 6.0, 4.0, 3.0, 2.0])

    def m():
        lam = yield Root(tfd.Gamma(c(2.0), c(0.5), name="lam"))
        # normalize=False: rescaling would cancel the trapezoid rule's error, which is the
        # same fraction of every bin for an exponential
        rate = expected_bin_counts(lambda x, lam: -lam * x, edges, 24.0,
                                   params={"lam": lam}, normalize=False,
                                   method="trapezoid", panels=2)
        yield tfd.Independent(tfd.Poisson(rate=rate), 1, name="n")
    jd = tfd.JointDistributionCoroutine(m)

    def exact(lam):
        mass = -np.diff(np.exp(-lam * edges)) / lam
        return float(np.sum(st.poisson.logpmf(counts, 24.0 * mass)))
    _assert_reached(jd, {"n": counts}, {"lam": np.array([1.5, 3.0])}, exact)


def test_survival_from_hazard():
    t = np.array([0.3, 0.8, 1.5, 2.2, 3.0])
    event = np.array([1.0, 1.0, 0.0, 1.0, 0.0])
    lam = 2.0

    def m():
        k = yield Root(tfd.Gamma(c(4.0), c(4.0), name="k"))
        yield tfd.Independent(SurvivalFromHazard(
            lambda u, k: tf.math.log(k / lam) + (k - 1.0) * tf.math.log(u / lam),
            event=event, params={"k": k[..., None]}, power=1.0, nodes=4), 1, name="t")
    jd = tfd.JointDistributionCoroutine(m)

    def exact(k):  # Weibull: log h = log(k/lam) + (k-1) log(t/lam), H = (t/lam)^k
        return float(np.sum(event * (np.log(k / lam) + (k - 1) * np.log(t / lam))
                            - (t / lam) ** k))
    _assert_reached(jd, {"t": t}, {"k": np.array([0.8, 1.7])}, exact)


def _emg_loglik(t, rate, r):
    return float(np.sum(st.exponnorm.logpdf(t, 1.0 / (r * rate), loc=0.0, scale=r)))


T_SMEARED = np.array([-0.4, 0.1, 0.6, 1.4, 2.9])


@pytest.mark.parametrize("coarse", [dict(nodes=6), dict(window=1.0)],
                         ids=["few-nodes", "narrow-window"])
def test_convolved(coarse):
    def m():
        rate = yield Root(tfd.Gamma(c(2.0), c(2.0), name="rate"))
        yield tfd.Sample(Convolved(tfd.Exponential(rate), tfd.Normal(c(0.0), c(0.3)),
                                   **coarse), T_SMEARED.size, name="t")
    jd = tfd.JointDistributionCoroutine(m)
    _assert_reached(jd, {"t": T_SMEARED}, {"rate": np.array([0.7, 1.6])},
                    lambda rate: _emg_loglik(T_SMEARED, rate, 0.3))


# ---- GaussianLatentMarginal ---------------------------------------------------------
Y_GROUPS = np.array([[0.3, -0.2, 0.9, 0.4], [1.6, 2.1, 1.2, 1.9], [-0.8, -1.4, -0.3, -1.0]])
IDS = np.repeat(np.arange(3), 4)


def test_gaussian_latent_normal_closed_form():
    """Normal conditional: each group is exactly MVN(mu, s^2 I + tau^2 11')."""
    s = 0.5

    def m():
        mu = yield Root(tfd.Normal(c(0.0), c(2.0), name="mu"))
        tau = yield Root(tfd.HalfNormal(c(2.0), name="tau"))
        yield GaussianLatentMarginal(
            lambda u: tfd.Normal(mu[..., None] + u, s), tau, IDS, adaptive=False,
            num_nodes=3, name="y")
    jd = tfd.JointDistributionCoroutine(m)

    def exact(mu, tau):
        cov = s ** 2 * np.eye(4) + tau ** 2
        return float(sum(st.multivariate_normal(np.full(4, mu), cov).logpdf(g)
                         for g in Y_GROUPS))
    _assert_reached(jd, {"y": Y_GROUPS.ravel()},
                    {"mu": np.array([0.2, 0.5]), "tau": np.array([1.0, 2.5])}, exact)


def test_gaussian_latent_w3_against_the_independent_reference():
    """W3 with a 12-node Gauss-Hermite plan (what the model file used to hard-code): the
    check reported a change of 0 here, while the model is ~3e-6 off the independent
    per-group integration of model_references. The plan travels in the DataTree's attrs,
    as after a fit, so the check compares exactly the rule that was sampled with."""
    from bayesquad.distributions import Plan, _plans
    from bayesquad.inference._planning import plans_to_attrs
    import importlib.util
    import os
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "models"))
    import model_references as R  # noqa: E402  (numpy/scipy only)
    spec = importlib.util.spec_from_file_location(
        "bq_w3", os.path.join(here, "..", "..", "models", "glmm_logistic.py"))
    w3 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(w3)
    data = w3.load_data()
    jd = w3.build(data)
    obs = w3.observed(data)
    draws = {"b0": np.array([-0.5, -0.45]), "b1": np.array([1.0, 1.05]),
             "tau": np.array([1.2, 1.4])}
    values = lambda point: [c(point["b0"]), c(point["b1"]), c(point["tau"]),  # noqa: E731
                            tf.constant(obs["y"])]
    with _plans.recording() as recorded:
        jd.log_prob(values({k: v[0] for k, v in draws.items()}))
    (key,) = recorded
    plans = {key: Plan.make("12-node adaptive Gauss–Hermite", 12, ladder="nodes", nodes=12)}
    expected = 0.0
    for s in range(2):
        point = {k: v[s] for k, v in draws.items()}
        with _plans.applying(plans):
            lp = float(jd.log_prob(values(point)))
        expected = max(expected, abs(lp - R.LOG_POSTERIOR["glmm_logistic"](data, **point)))
    assert expected > 1e-7
    dt = az.from_dict({"posterior": {k: v[None] for k, v in draws.items()}})
    dt.attrs["quadrature_plans"] = plans_to_attrs(plans, {})
    check = quadrature_check(dt, jd, obs, draws=2)
    assert check.passed and check.value == pytest.approx(expected, rel=1e-3), check.message


def test_a_reference_that_does_not_reach_the_integrals_is_named(monkeypatch):
    import contextlib
    from bayesquad.diagnostics import _quadrature_check as Q

    def m():
        lam = yield Root(tfd.Gamma(c(2.0), c(0.5), name="lam"))
        yield tfd.Sample(Normalized(lambda x, lam: -lam * x, 0.0, 1.0, params={"lam": lam}),
                         X.size, name="x")
    jd = tfd.JointDistributionCoroutine(m)
    dt = az.from_dict({"posterior": {"lam": np.array([[1.5, 3.0]])}})
    # a "reference" that changes nothing, like a distribution integrating on its own
    monkeypatch.setattr(Q, "reference_settings", lambda **kw: contextlib.nullcontext())
    check = quadrature_check(dt, jd, {"x": X}, draws=2)
    assert check.value == 0.0
    assert "the reference did not reach them" in check.message
