"""GaussianLatentMarginal inside ``reference_settings``: adaptive integration over the latent.

The quadrature check re-traces a model inside ``bayesquad.quadrature.reference_settings``;
there each group's integral must be computed at reference accuracy instead of by the fixed
Gauss-Hermite rule (issue 10, part 4: the check reported a change of 0 on W3).  The
reference is scipy.integrate.quad per group, split at the group's mode.
"""
import numpy as np
import pytest
from scipy import integrate as si
from scipy import optimize as so
from scipy import special

import bayesquad  # noqa: F401  (quiet TF import)
from bayesquad.distributions import GaussianLatentMarginal
from bayesquad.quadrature import Status, reference_settings

import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions

GROUPS, PER = 5, 8
_rng = np.random.default_rng(7)
IDS = np.repeat(np.arange(GROUPS), PER)
X = _rng.normal(size=GROUPS * PER)
Y = (_rng.random(GROUPS * PER) < special.expit(0.3 + X + np.repeat(
    _rng.normal(0, 1.5, GROUPS), PER))).astype(np.int32)
Y[IDS == 4] = 1  # an all-ones group: a one-sided, skewed posterior for the latent
B0, B1, TAU = -0.4, 1.3, 2.0


def quad_group_log_lik(y, x, b0, b1, tau):
    """log ∫ prod_i p(y_i | u) N(u | 0, tau) du by scipy.integrate.quad, split at the mode."""
    def phi(v):
        e = b0 + b1 * x + v
        return (np.sum(y * special.log_expit(e) + (1 - y) * special.log_expit(-e))
                - 0.5 * (v / tau) ** 2 - np.log(tau * np.sqrt(2 * np.pi)))
    mode = so.minimize_scalar(lambda v: -phi(v), bracket=(-1.0, 1.0), tol=1e-12).x
    top = phi(mode)
    f = lambda v: np.exp(phi(v) - top)  # noqa: E731
    left = si.quad(f, -np.inf, mode, epsabs=0.0, epsrel=1e-13, limit=200)[0]
    right = si.quad(f, mode, np.inf, epsabs=0.0, epsrel=1e-13, limit=200)[0]
    return top + np.log(left + right)


def quad_reference(b0=B0, b1=B1, tau=TAU):
    return np.array([quad_group_log_lik(Y[IDS == g], X[IDS == g], b0, b1, tau)
                     for g in range(GROUPS)])


@pytest.fixture(scope="module")
def ref():
    return quad_reference()


def marginal(b0, b1, tau, dtype=tf.float64, **kw):
    x = tf.constant(X, dtype)
    return GaussianLatentMarginal(lambda u: tfd.Bernoulli(logits=b0 + b1 * x + u, dtype=dtype),
                                  tau, IDS, num_groups=GROUPS, **kw)


def test_reference_matches_quad_where_the_rule_does_not(ref):
    dist = marginal(tf.constant(B0, tf.float64), B1, tf.constant(TAU, tf.float64),
                    num_nodes=5)
    coarse = dist.log_prob_groups(Y).numpy()
    assert np.max(np.abs(coarse - ref)) > 1e-4  # 5 nodes: the rule itself is off
    with reference_settings():
        exact = dist.log_prob_groups(Y).numpy()
        status = dist.quadrature_status(Y).numpy()
    np.testing.assert_allclose(exact, ref, rtol=0, atol=1e-10)
    assert np.all(status == int(Status.CONVERGED))
    # outside the context the fixed rule is back
    np.testing.assert_array_equal(dist.log_prob_groups(Y).numpy(), coarse)


def test_reference_non_adaptive_and_normal_closed_form():
    """Prior-centred nodes (adaptive=False) reach the same reference; a Normal conditional
    has the closed form MVN(mu, s^2 I + tau^2 11') per group."""
    from scipy import stats
    s, mu, tau = 0.4, 0.3, 1.7
    yv = np.linspace(-1.0, 2.0, GROUPS * PER)
    dist = GaussianLatentMarginal(lambda u: tfd.Normal(tf.constant(mu, tf.float64) + u, s),
                                  tf.constant(tau, tf.float64), IDS, num_groups=GROUPS,
                                  adaptive=False, num_nodes=4)
    exact = [stats.multivariate_normal(np.full(PER, mu), s ** 2 * np.eye(PER) + tau ** 2)
             .logpdf(yv[IDS == g]) for g in range(GROUPS)]
    with reference_settings():
        got = dist.log_prob_groups(yv).numpy()
    np.testing.assert_allclose(got, exact, rtol=0, atol=1e-10)


def test_reference_non_finite_is_flagged():
    dist = GaussianLatentMarginal(
        lambda u: tfd.Normal(u, tf.constant(np.nan, tf.float64)), tf.constant(1.0, tf.float64),
        IDS, num_groups=GROUPS)
    with reference_settings():
        value = dist.log_prob_groups(np.zeros(GROUPS * PER)).numpy()
        status = dist.quadrature_status(np.zeros(GROUPS * PER)).numpy()
    assert np.all(np.isnan(value))
    assert np.all(status == int(Status.NON_FINITE))


def test_reference_gradients_vs_quad_central_difference():
    b0, tau = tf.constant(B0, tf.float64), tf.constant(TAU, tf.float64)
    with reference_settings():
        with tf.GradientTape() as tape:
            tape.watch([b0, tau])
            total = tf.reduce_sum(marginal(b0, B1, tau).log_prob_groups(Y))
        g_b0, g_tau = tape.gradient(total, [b0, tau])
    h = 1e-5
    d_b0 = (quad_reference(b0=B0 + h).sum() - quad_reference(b0=B0 - h).sum()) / (2 * h)
    d_tau = (quad_reference(tau=TAU + h).sum() - quad_reference(tau=TAU - h).sum()) / (2 * h)
    assert float(g_b0) == pytest.approx(d_b0, rel=1e-6, abs=1e-7)
    assert float(g_tau) == pytest.approx(d_tau, rel=1e-6, abs=1e-7)


def test_reference_under_xla_with_chains(ref):
    with reference_settings():
        @tf.function(jit_compile=True)
        def total(b0, tau):  # two chains: batch [2, 1]
            return marginal(b0[:, None], B1, tau).log_prob(Y)
        got = total(tf.constant([B0, B0 + 0.1], tf.float64),
                    tf.constant([TAU, TAU], tf.float64)).numpy()
    assert got[0] == pytest.approx(ref.sum(), rel=0, abs=1e-9)
    assert got[1] == pytest.approx(quad_reference(b0=B0 + 0.1).sum(), rel=0, abs=1e-9)


def test_reference_float32(ref):
    f32 = tf.float32
    dist = marginal(tf.constant(B0, f32), B1, tf.constant(TAU, f32), dtype=f32)
    with reference_settings(rtol=1e-6):
        got = dist.log_prob_groups(Y).numpy()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-4)
