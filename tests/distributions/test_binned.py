"""expected_bin_counts and ExtendedUnbinned against closed forms and scipy."""
import numpy as np
import pytest
from scipy import stats

import bayesquad  # noqa: F401  (quiet TF import)
from bayesquad.distributions._binned import ExtendedUnbinned, expected_bin_counts
from bayesquad.distributions._normalized import Normalized
from bayesquad.distributions._poisson_process import PoissonProcess, pad_events
from bayesquad.quadrature import Status

import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions

MU = np.array([0.0, 0.5, -1.0, 1.2])
EDGES = np.linspace(-3.0, 3.0, 9)
EVENTS = pad_events([[0.1, -0.5, 2.0], [], [1.0], [-2.9, 0.0]])


def gauss(x, mu):
    return -0.5 * (x - mu) ** 2


def test_counts_of_a_distribution_match_cdf_differences():
    d = tfd.Normal(tf.constant(MU), 1.0)
    edges = np.concatenate([[-np.inf], EDGES, [np.inf]])  # with under/overflow bins
    counts, status = expected_bin_counts(d, edges, 250.0, return_status=True)
    ref = 250.0 * np.diff(stats.norm.cdf(edges[None, :], MU[:, None]), axis=-1)
    assert counts.shape == [4, 10]
    np.testing.assert_allclose(counts.numpy(), ref, rtol=1e-11)
    np.testing.assert_allclose(counts.numpy().sum(-1), 250.0, rtol=1e-12)
    assert np.all(status.numpy() == Status.CONVERGED)
    # a Normalized on the histogram range: total is the count over its whole support
    tn = Normalized(gauss, -3.0, 3.0, params=dict(mu=tf.constant(MU)))
    ref = stats.truncnorm(-3.0 - MU, 3.0 - MU, loc=MU)
    expected = 100.0 * np.diff(ref.cdf(EDGES[:, None]), axis=0).T
    np.testing.assert_allclose(expected_bin_counts(tn, EDGES, 100.0).numpy(), expected,
                               rtol=1e-11)


def test_callable_is_normalised_over_the_range_by_default():
    counts = expected_bin_counts(gauss, EDGES, np.array([10.0, 20.0, 30.0, 40.0]),
                                 params=dict(mu=tf.constant(MU)))
    ref = stats.truncnorm(-3.0 - MU, 3.0 - MU, loc=MU)
    expected = np.diff(ref.cdf(EDGES[:, None]), axis=0).T * [[10.0], [20.0], [30.0], [40.0]]
    np.testing.assert_allclose(counts.numpy(), expected, rtol=1e-11)


def test_unnormalised_intensity_integrals_and_gradients():
    # normalize=False with total=1 integrates an intensity exp(a + b t) over each bin
    edges = np.array([0.0, 0.5, 1.0, 2.5, 4.0])
    a, b = tf.constant([1.0, 0.2], tf.float64), tf.constant([0.3, -0.7], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        counts = expected_bin_counts(lambda t, a, b: a + b * t, edges, params=dict(a=a, b=b),
                                     normalize=False)
        total = tf.reduce_sum(counts)
    A, B = a.numpy()[:, None], b.numpy()[:, None]
    lo, hi = edges[:-1], edges[1:]
    ref = np.exp(A) * (np.exp(B * hi) - np.exp(B * lo)) / B
    np.testing.assert_allclose(counts.numpy(), ref, rtol=1e-13)
    g_a, g_b = tape.gradient(total, [a, b])
    np.testing.assert_allclose(g_a.numpy(), ref.sum(-1), rtol=1e-12)
    T = edges[-1]
    dref_db = np.exp(A[:, 0]) * (T * np.exp(B[:, 0] * T) / B[:, 0] - np.expm1(B[:, 0] * T)
                                 / B[:, 0] ** 2)
    np.testing.assert_allclose(g_b.numpy(), dref_db, rtol=1e-11)


def test_batched_edges_and_xla():
    edges = np.stack([np.linspace(-2, 2, 5), np.linspace(-1, 3, 5)])  # [2, 5]

    @tf.function(jit_compile=True)
    def f(mu):
        return expected_bin_counts(tfd.Normal(mu, 1.0), edges, 1.0)

    out = f(tf.constant([[0.0], [1.0], [2.0]], tf.float64)).numpy()  # batch [3, 1] x [2]
    assert out.shape == (3, 2, 4)
    ref = np.diff(stats.norm.cdf(edges[None], np.array([0.0, 1.0, 2.0])[:, None, None]), axis=-1)
    np.testing.assert_allclose(out, ref, rtol=1e-11)


def reference_extended(events, mu, nu, low=-3.0, high=3.0):
    mu = np.asarray(mu)[..., None]
    ref = stats.truncnorm(low - mu, high - mu, loc=mu)
    present = ~np.isnan(events)
    lp = np.where(present, ref.logpdf(np.nan_to_num(events)), 0.0).sum(-1)
    return present.sum(-1) * np.log(nu) + lp - nu


def test_extended_unbinned_log_prob_and_poisson_process_equivalence():
    nu = np.array([5.0, 1.0, 2.0, 30.0])
    tn = Normalized(gauss, -3.0, 3.0, params=dict(mu=tf.constant(MU)))
    eu = ExtendedUnbinned(tn, tf.constant(nu))
    assert eu.batch_shape == [4] and eu.event_shape.as_list() == [None]
    np.testing.assert_allclose(eu.log_prob(EVENTS).numpy(),
                               reference_extended(EVENTS, MU, nu), rtol=1e-12)
    np.testing.assert_allclose(eu.expected_count().numpy(), nu)
    # the same model as a Poisson process with intensity ν p(x)
    log_z = tn.log_normalizer()
    pp = PoissonProcess(lambda x, mu, c: gauss(x, mu) + c, -3.0, 3.0,
                        params=dict(mu=tf.constant(MU), c=np.log(nu) - log_z))
    np.testing.assert_allclose(pp.log_prob(EVENTS).numpy(), eu.log_prob(EVENTS).numpy(),
                               rtol=1e-12)
    # an event outside the support
    assert eu.log_prob([[5.0, np.nan]] * 4).numpy().tolist() == [-np.inf] * 4


def test_extended_unbinned_sampling_counts():
    eu = ExtendedUnbinned(tfd.Normal(tf.constant(MU), 1.0), np.array([3.0, 10.0, 0.5, 20.0]))
    s = eu.sample(2000, seed=(1, 9)).numpy()
    assert s.shape[:2] == (2000, 4)
    counts = (~np.isnan(s)).sum(-1)
    nu = np.array([3.0, 10.0, 0.5, 20.0])
    assert np.all(np.abs(counts.mean(0) - nu) < 4 * np.sqrt(nu / 2000))
    assert np.all(np.diff((~np.isnan(s)).astype(int), axis=-1) <= 0)
    assert stats.kstest(s[:, 3][~np.isnan(s[:, 3])], stats.norm(MU[3]).cdf).pvalue > 1e-3


def test_extended_unbinned_in_joint_distribution_under_xla(xla_value_and_grad,
                                                            central_difference):
    data = tf.constant(EVENTS[0])

    @tfd.JointDistributionCoroutineAutoBatched
    def model():
        mu = yield tfd.Normal(tf.constant(0.0, tf.float64), 1.0, name="mu")
        nu = yield tfd.Gamma(tf.constant(2.0, tf.float64), 0.5, name="nu")
        shape = Normalized(gauss, -3.0, 3.0, params=dict(mu=mu))
        yield ExtendedUnbinned(shape, nu, max_events=3, name="x")

    lp_and_grad = xla_value_and_grad(lambda mu, nu: model.log_prob(mu, nu, data))
    nu = np.array([1.0, 3.0, 5.0, 9.0])
    lp, (g_mu, g_nu) = lp_and_grad(tf.constant(MU), tf.constant(nu))
    prior = stats.norm.logpdf(MU) + stats.gamma.logpdf(nu, 2.0, scale=2.0)
    ref = prior + reference_extended(np.tile(EVENTS[0], (4, 1)), MU, nu)
    np.testing.assert_allclose(lp.numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(g_nu.numpy(), (2.0 - 1) / nu - 0.5 + 3 / nu - 1, rtol=1e-12)
    fd = central_difference(lambda m: reference_extended(np.tile(EVENTS[0], (4, 1)), m, nu),
                            MU) - MU
    np.testing.assert_allclose(g_mu.numpy(), fd, rtol=1e-6, atol=1e-7)


def test_float32():
    counts = expected_bin_counts(tfd.Normal(np.float32(0.0), 1.0), EDGES.astype(np.float32),
                                 np.float32(10.0))
    assert counts.dtype == tf.float32
    np.testing.assert_allclose(counts.numpy(), 10 * np.diff(stats.norm.cdf(EDGES)), rtol=1e-5)
    eu = ExtendedUnbinned(tfd.Normal(np.float32(0.0), 1.0), np.float32(4.0))
    ev = np.float32([0.5, np.nan])
    np.testing.assert_allclose(eu.log_prob(ev).numpy(),
                               np.log(4.0) + stats.norm.logpdf(0.5) - 4.0, rtol=1e-6)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="edges"):
        expected_bin_counts(gauss, [0.0, 2.0, 1.0], 1.0, params=dict(mu=0.0))
    with pytest.raises(ValueError, match="edges"):
        expected_bin_counts(gauss, [1.0], 1.0, params=dict(mu=0.0))
    with pytest.raises(ValueError, match="distribution_or_log_density"):
        expected_bin_counts("gauss", EDGES, 1.0)
    with pytest.raises(ValueError, match="params"):
        expected_bin_counts(tfd.Normal(0.0, 1.0), EDGES, 1.0, params=dict(mu=0.0))
    with pytest.raises(ValueError, match="total"):
        ExtendedUnbinned(tfd.Normal(0.0, 1.0), -1.0)
    with pytest.raises(ValueError, match="distribution"):
        ExtendedUnbinned(gauss, 1.0)
    with pytest.raises(ValueError, match="scalar event"):
        ExtendedUnbinned(tfd.MultivariateNormalDiag([0.0, 0.0]), 1.0)


def test_non_finite_bin_is_nan_never_zero():
    f = lambda t: tf.where(t > 3.0, np.inf, -t)  # noqa: E731  (overflows in the last bin)
    counts, status = expected_bin_counts(f, [0.0, 1.0, 2.0, 4.0], normalize=False,
                                         return_status=True)
    np.testing.assert_allclose(counts.numpy()[:2], [1 - np.exp(-1), np.exp(-1) - np.exp(-2)],
                               rtol=1e-13)
    assert np.isnan(counts.numpy()[2]) and status.numpy()[2] == Status.NON_FINITE
