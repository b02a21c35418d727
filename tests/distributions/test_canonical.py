"""Closed-form GLM conditionals against TFP's log_prob, the generic tapes and closed forms."""
import numpy as np
import pytest
from scipy import special

import bayesquad  # noqa: F401  (quiet TF import)
from bayesquad.distributions import _canonical
from bayesquad.distributions._latent import GaussianLatentMarginal

import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions

RNG = np.random.default_rng(7)
ETA0 = RNG.normal(0.0, 3.0, 50)
Y01 = (RNG.random(50) < 0.4).astype(np.int32)
YCOUNT = RNG.poisson(2.0, 50).astype(np.int32)

FAMILIES = {
    # name: (conditional of u, data, closed-form log p in numpy at eta)
    "bernoulli": (lambda eta: tfd.Bernoulli(logits=eta), Y01,
                  lambda eta, y: y * special.log_expit(eta) + (1 - y) * special.log_expit(-eta)),
    "poisson": (lambda eta: tfd.Poisson(log_rate=eta), YCOUNT,
                lambda eta, y: y * eta - np.exp(eta) - special.gammaln(y + 1.0)),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("dtype", [tf.float64, tf.float32])
def test_log_prob_matches_closed_form_and_tfp(family, dtype):
    make, y, exact = FAMILIES[family]
    eta = np.clip(ETA0, -8, 3) if family == "poisson" else ETA0
    dist = make(tf.constant(eta, dtype))
    kind, nat = _canonical.natural_parameter(dist)
    assert kind == family
    ours = _canonical.log_prob(kind, nat, y).numpy()
    tol = 1e-12 if dtype == tf.float64 else 2e-5
    np.testing.assert_allclose(ours, exact(eta, y), rtol=tol, atol=tol * 10)
    np.testing.assert_allclose(ours, dist.log_prob(y).numpy(), rtol=tol, atol=tol * 10)


def test_poisson_off_support_is_minus_inf_like_tfp():
    y = np.array([-1, 0, 2], np.int32)
    lp = _canonical.log_prob("poisson", tf.constant([0.1, 0.2, 0.3], tf.float64), y).numpy()
    assert lp[0] == -np.inf and np.all(np.isfinite(lp[1:]))


def tape_derivatives(conditional, u, y):
    with tf.GradientTape() as outer:
        outer.watch(u)
        with tf.GradientTape() as inner:
            inner.watch(u)
            lp = conditional(u).log_prob(y)
        d1 = inner.gradient(lp, u)
    return d1, outer.gradient(d1, u)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("curved", [False, True])
def test_derivatives_match_nested_tapes(family, curved):
    make, y, _ = FAMILIES[family]
    base = tf.constant(np.clip(ETA0, -3, 2), tf.float64)
    # curved: eta not affine in u, so the eta'' term is exercised
    eta_of = (lambda u: base + 0.7 * u + 0.2 * u ** 2) if curved else (lambda u: base + u)
    conditional = lambda u: make(eta_of(u))  # noqa: E731
    u = tf.constant(RNG.normal(0.0, 0.5, 50))
    closed = _canonical.derivatives(conditional, u, y)
    taped = tape_derivatives(conditional, u, y)
    for c, t in zip(closed, taped):
        np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-12, atol=1e-12)


def test_derivatives_under_xla():
    make, y, _ = FAMILIES["bernoulli"]
    base = tf.constant(ETA0)
    f = tf.function(lambda u: _canonical.derivatives(lambda v: make(base + v), u, y),
                    jit_compile=True)
    u = tf.constant(RNG.normal(size=50))
    p = special.expit(ETA0 + u.numpy())
    d1, d2 = f(u)
    np.testing.assert_allclose(d1.numpy(), Y01 - p, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(d2.numpy(), -p * (1 - p), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dist", [
    tfd.Bernoulli(probs=0.3), tfd.Poisson(rate=2.0), tfd.Normal(0.0, 1.0),
    tfd.Binomial(total_count=3.0, logits=0.1),
    tfd.Poisson(log_rate=0.1, force_probs_to_zero_outside_support=True)])
def test_other_conditionals_keep_the_generic_path(dist):
    """Negative control: only the exact families with natural parameters are recognised."""
    assert _canonical.natural_parameter(dist) is None


def test_subclass_is_not_recognised():
    class MyBernoulli(tfd.Bernoulli):
        def _log_prob(self, event):  # a user's override must be honoured
            return super()._log_prob(event) + 1.0
    assert _canonical.natural_parameter(MyBernoulli(logits=0.0)) is None


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_marginal_same_by_closed_form_and_generic_path(family):
    """The closed forms change the cost, not the value: a ``probs=``/``rate=`` conditional
    (generic tapes) gives the same marginal and gradient as ``logits=``/``log_rate=``."""
    groups, n = 30, 8
    ids = np.repeat(np.arange(groups), n)
    x = tf.constant(RNG.normal(size=groups * n))
    y = (RNG.random(groups * n) < 0.5).astype(np.int32) if family == "bernoulli" \
        else RNG.poisson(1.5, groups * n).astype(np.int32)
    b = tf.Variable([-0.3, 0.8], dtype=tf.float64)
    tau = tf.constant(0.9, tf.float64)
    if family == "bernoulli":
        canonical = lambda u: tfd.Bernoulli(logits=b[0] + b[1] * x + u)  # noqa: E731
        generic = lambda u: tfd.Bernoulli(probs=tf.sigmoid(b[0] + b[1] * x + u))  # noqa: E731
    else:
        canonical = lambda u: tfd.Poisson(log_rate=b[0] + 0.3 * b[1] * x + u)  # noqa: E731
        generic = lambda u: tfd.Poisson(rate=tf.exp(b[0] + 0.3 * b[1] * x + u))  # noqa: E731
    out = []
    for conditional in (canonical, generic):
        with tf.GradientTape() as tape:
            lp = GaussianLatentMarginal(conditional, tau, ids, num_nodes=12).log_prob(y)
        out.append((lp.numpy(), tape.gradient(lp, b).numpy()))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-10)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-8, atol=1e-10)
