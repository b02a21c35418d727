"""SurvivalFromHazard against the Weibull closed form H(t) = (t/λ)^k (k < 1: singular at 0)."""
import numpy as np
import pytest
from scipy import integrate as si
from scipy import stats

import bayesquad  # noqa: F401  (quiet TF import)
from bayesquad.distributions._survival import SurvivalFromHazard
from bayesquad.quadrature import Status

import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions
K, LAM = 0.6, 2.0
T = np.array([0.05, 0.5, 1.0, 3.0, 8.0, 2.0, 20.0])
D = np.array([1, 0, 1, 0, 1, 1, 0], dtype=np.float64)
ENTRY = np.array([0.0, 0.0, 0.3, 1.0, 2.0, 2.0, 0.0])


def weibull_log_hazard(u, k, lam):
    return tf.math.log(k / lam) + (k - 1.0) * tf.math.log(u / lam)


def ref_log_prob(t, k, lam, d=D, entry=ENTRY):
    log_h = np.log(k / lam) + (k - 1) * np.log(t / lam)
    return d * log_h - ((t / lam) ** k - (entry / lam) ** k)


def test_log_prob_censored_uncensored_truncated():
    dist = SurvivalFromHazard(weibull_log_hazard, event=D, entry=ENTRY,
                              params=dict(k=K, lam=LAM))
    assert dist.batch_shape == [7] and dist.event_shape == []
    np.testing.assert_allclose(dist.log_prob(T).numpy(), ref_log_prob(T, K, LAM),
                               rtol=1e-9, atol=1e-11)
    assert np.all(dist.quadrature_status(T).numpy() == Status.CONVERGED)
    surv = np.exp(-((T / LAM) ** K - (ENTRY / LAM) ** K))
    np.testing.assert_allclose(dist.survival_function(T).numpy(), surv, rtol=1e-9)
    np.testing.assert_allclose(dist.cdf(T).numpy(), 1 - surv, rtol=1e-9, atol=1e-14)
    # uncensored, no truncation: exactly the Weibull density
    plain = SurvivalFromHazard(weibull_log_hazard, params=dict(k=K, lam=LAM))
    np.testing.assert_allclose(plain.log_prob(T).numpy(),
                               stats.weibull_min.logpdf(T, K, scale=LAM), rtol=1e-9,
                               atol=1e-11)


@pytest.mark.parametrize("k,power,nodes,tol", [
    (0.3, 16.0, 16, 1e-10),   # strongly singular hazard: larger power
    (0.5, 8.0, 16, 1e-13),    # v^3: exact
    (0.8, 8.0, 16, 1e-12),
    (1.3, 8.0, 16, 1e-13),
    (0.15, 1.0, None, 1e-12),  # tanh-sinh, no substitution
    (0.6, 6.0, 24, 1e-9),     # the defaults
])
def test_cumulative_hazard_accuracy(k, power, nodes, tol):
    t = np.array([0.01, 0.3, 1.0, 2.5, 7.0, 20.0])
    method = "tanh-sinh" if nodes is None else "gauss-legendre"
    dist = SurvivalFromHazard(weibull_log_hazard, params=dict(k=k, lam=LAM), power=power,
                              nodes=nodes, method=method)
    h = dist.cumulative_hazard(t).numpy()
    np.testing.assert_allclose(h, (t / LAM) ** k, rtol=tol)


def test_status_flags_unresolved_singularity():
    """k = 0.3 with no substitution is ~10% off at 16 nodes: the status must say so."""
    dist = SurvivalFromHazard(weibull_log_hazard, params=dict(k=0.3, lam=LAM), power=1.0)
    assert np.all(dist.quadrature_status(T).numpy() != Status.CONVERGED)


def test_time_varying_hazard_vs_scipy():
    g0, g1, k0, k1 = -2.0, 0.3, 0.7, -0.1
    z = np.array([-2.5, -1.0, 0.0, 1.0, 2.5])
    t = np.array([0.05, 2.0, 5.0, 10.0, 10.0])
    ref = [si.quad(lambda u: np.exp(g0 + g1 * np.log(u) + (k0 + k1 * u) * zi), 0, ti,
                   epsabs=0, epsrel=1e-13, limit=200)[0] for zi, ti in zip(z, t)]
    dist = SurvivalFromHazard(lambda u, z: g0 + g1 * tf.math.log(u) + (k0 + k1 * u) * z,
                              params=dict(z=z))
    np.testing.assert_allclose(dist.cumulative_hazard(t).numpy(), ref, rtol=1e-9)


def test_gradients_vs_closed_form(central_difference):
    k = tf.Variable(K, dtype=tf.float64)
    lam = tf.Variable(LAM, dtype=tf.float64)
    with tf.GradientTape() as tape:
        lp = tf.reduce_sum(SurvivalFromHazard(weibull_log_hazard, event=D, entry=ENTRY,
                                              params=dict(k=k, lam=lam)).log_prob(T))
    g_k, g_lam = tape.gradient(lp, [k, lam])
    ref_k = central_difference(lambda a: ref_log_prob(T, a, LAM).sum(), K)
    ref_l = central_difference(lambda b: ref_log_prob(T, K, b).sum(), LAM)
    np.testing.assert_allclose([g_k.numpy(), g_lam.numpy()], [ref_k, ref_l], rtol=1e-7)


def test_out_of_support_no_nan():
    k = tf.Variable(K, dtype=tf.float64)
    t = tf.constant([-1.0, 0.1, 1.0, np.inf], tf.float64)
    entry = np.array([0.0, 0.5, 1.0, 0.0])
    with tf.GradientTape() as tape:
        dist = SurvivalFromHazard(weibull_log_hazard, event=[1.0, 1.0, 0.0, 1.0],
                                  entry=entry, params=dict(k=k, lam=LAM))
        lp = dist.log_prob(t)
        total = tf.reduce_sum(tf.where(tf.math.is_finite(lp), lp, tf.zeros_like(lp)))
    lp = lp.numpy()
    assert lp[0] == -np.inf and lp[1] == -np.inf and lp[3] == -np.inf
    assert lp[2] == 0.0  # censored at its entry time: survival 1
    assert np.isfinite(tape.gradient(total, k).numpy())


def test_sampling_matches_truncated_weibull():
    entry = np.array([0.0, 1.0])
    dist = SurvivalFromHazard(weibull_log_hazard, entry=entry, params=dict(k=K, lam=LAM))
    s = dist.sample(3000, seed=(3, 4)).numpy()
    assert s.shape == (3000, 2) and np.all(s[:, 1] > 1.0)
    for j, e in enumerate(entry):
        # conditional cdf F(t | T > e) = 1 - exp(-(H(t) - H(e)))
        cdf = lambda x, e=e: 1 - np.exp(-((x / LAM) ** K - (e / LAM) ** K))
        assert stats.kstest(s[:, j], cdf).pvalue > 0.01
        # negative control: the same draws shifted must fail
        assert stats.kstest(s[:, j] + 0.3, cdf).pvalue < 1e-3
    np.testing.assert_array_equal(s, dist.sample(3000, seed=(3, 4)).numpy())


def test_float32():
    dist = SurvivalFromHazard(weibull_log_hazard, event=D.astype(np.float32),
                              entry=ENTRY.astype(np.float32),
                              params=dict(k=np.float32(K), lam=np.float32(LAM)))
    lp = dist.log_prob(T.astype(np.float32))
    assert lp.dtype == tf.float32
    np.testing.assert_allclose(lp.numpy(), ref_log_prob(T, K, LAM), rtol=2e-5, atol=2e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="log_hazard"):
        SurvivalFromHazard("weibull")
    with pytest.raises(ValueError, match="event"):
        SurvivalFromHazard(weibull_log_hazard, event=[0.0, 2.0], params=dict(k=K, lam=LAM))
    with pytest.raises(ValueError, match="entry"):
        SurvivalFromHazard(weibull_log_hazard, entry=[-1.0], params=dict(k=K, lam=LAM))
    with pytest.raises(ValueError, match="power"):
        SurvivalFromHazard(weibull_log_hazard, power=0.5, params=dict(k=K, lam=LAM))
    with pytest.raises(ValueError, match="params"):
        SurvivalFromHazard(weibull_log_hazard, params=[K, LAM])
    with pytest.raises(ValueError, match="method"):
        SurvivalFromHazard(weibull_log_hazard, method="romberg", params=dict(k=K, lam=LAM))


@pytest.fixture(scope="module")
def joint_fns(xla_value_and_grad):
    rng = np.random.default_rng(11)
    n = 200
    z = rng.normal(size=n)
    t = stats.weibull_min.rvs(1.3, scale=3.0, size=n, random_state=rng)
    c = rng.uniform(2, 10, n)
    d = (t <= c).astype(np.float64)
    t = np.minimum(t, c)
    root = tfd.JointDistributionCoroutineAutoBatched.Root
    zero = tf.constant(0.0, tf.float64)

    def log_hazard(u, g0, g1, k0, k1, z):
        return g0 + g1 * tf.math.log(u) + (k0 + k1 * u) * z

    def model():
        g0 = yield root(tfd.Normal(zero, 2.0, name="g0"))
        g1 = yield root(tfd.Normal(zero, 2.0, name="g1"))
        k0 = yield root(tfd.Normal(zero, 2.0, name="k0"))
        k1 = yield root(tfd.Normal(zero, 2.0, name="k1"))
        yield SurvivalFromHazard(log_hazard, event=d,
                                 params=dict(g0=g0, g1=g1, k0=k0, k1=k1, z=z), name="t")

    pinned = tfd.JointDistributionCoroutineAutoBatched(model).experimental_pin(t=t)

    def ref(theta):
        g0, g1, k0, k1 = theta
        h = [si.quad(lambda u: np.exp(g0 + g1 * np.log(u) + (k0 + k1 * u) * zi), 0, ti,
                     epsabs=0, epsrel=1e-12, limit=200)[0] for zi, ti in zip(z, t)]
        loglik = np.sum(d * (g0 + g1 * np.log(t) + (k0 + k1 * t) * z) - np.array(h))
        return loglik + stats.norm.logpdf(theta, 0, 2).sum()

    return xla_value_and_grad(pinned.unnormalized_log_prob), ref


def test_joint_distribution_xla_four_chains(joint_fns, central_difference):
    lp_and_grad, ref = joint_fns
    thetas = np.array([[-2.0, 0.3, 0.7, -0.1], [-1.0, -0.5, 0.0, 0.0],
                       [-3.0, 0.9, 1.5, -0.3], [-2.5, 0.0, -0.5, 0.2]])
    lp, grads = lp_and_grad(*[tf.constant(thetas[:, j]) for j in range(4)])
    assert lp.shape == [4] and all(g.shape == [4] for g in grads)
    for i in range(4):
        assert abs(lp.numpy()[i] - ref(thetas[i])) < 1e-7
    # gradient of the first chain w.r.t. g1 by central difference of the reference
    np.testing.assert_allclose(grads[1].numpy()[0],
                               central_difference(ref, thetas[0], h=1e-5, index=1), rtol=1e-6)


def test_chains_batch_and_nan_policy():
    k = tf.constant([[0.5], [0.6], [0.9], [1.3]], tf.float64)  # 4 chains x subjects
    dist = SurvivalFromHazard(weibull_log_hazard, event=D, entry=ENTRY,
                              params=dict(k=k, lam=LAM))
    assert dist.batch_shape == [4, 7]
    lp = dist.log_prob(T).numpy()
    for i, ki in enumerate(k.numpy()[:, 0]):
        np.testing.assert_allclose(lp[i], ref_log_prob(T, ki, LAM), rtol=1e-9)
    # a non-finite integrand is a failure the sampler must see: NaN, not a number
    bad = SurvivalFromHazard(lambda u, a: a + 0.0 * u, params=dict(a=np.nan))
    assert np.isnan(bad.log_prob(1.0).numpy())
    assert bad.quadrature_status(1.0).numpy() == Status.NON_FINITE


def test_sample_under_xla():
    @tf.function(jit_compile=True)
    def draw(seed):
        return SurvivalFromHazard(weibull_log_hazard, params=dict(
            k=tf.constant([0.5, 1.5], tf.float64), lam=LAM)).sample(5, seed=seed)
    s = draw(tf.constant([1, 2]))
    assert s.shape == [5, 2] and np.all(s.numpy() > 0)


def test_planned_log_prob_sums_the_hazard_without_log_sum_exp(central_difference):
    """Under a plan, ``log_prob`` subtracts the frozen rule's plain sum (``integrate_exp``)
    where ``log_cumulative_hazard`` keeps the log-sum-exp: the same rule, so the two agree
    to rounding in value and gradient, and both meet the closed form to the rule's own
    accuracy. Out-of-support times still give -inf with a finite gradient."""
    from bayesquad.distributions import _plans
    plan = _plans.Plan.make("24-node after u = t v^6", 24, ladder="nodes", nodes=24, power=6)
    key = "SurvivalFromHazard:weibull_log_hazard"
    t = np.concatenate([T, [-1.0, 0.2]])
    d = np.concatenate([D, [1.0, 1.0]])
    entry = np.concatenate([ENTRY, [0.0, 0.5]])  # the last two: outside the support
    k = tf.Variable(K, dtype=tf.float64)
    with _plans.applying({key: plan}):
        with tf.GradientTape(persistent=True) as tape:
            dist = SurvivalFromHazard(weibull_log_hazard, event=d, entry=entry,
                                      params=dict(k=k, lam=LAM))
            assert dist._plan() == plan  # noqa: SLF001  (the planned path is the one tested)
            lp = dist.log_prob(t)
            log_h = weibull_log_hazard(tf.constant(t[:7]), k, LAM)
            via_log = log_h * d[:7] - tf.exp(dist.log_cumulative_hazard(t)[:7])
            sums = [tf.reduce_sum(lp[:7]), tf.reduce_sum(via_log),
                    tf.reduce_sum(tf.where(tf.math.is_finite(lp), lp, 0.0))]
        g_lp, g_log, g_all = (tape.gradient(x, k) for x in sums)
    np.testing.assert_allclose(lp.numpy()[:7], via_log.numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(g_lp.numpy(), g_log.numpy(), rtol=1e-12)
    assert np.all(lp.numpy()[7:] == -np.inf) and np.isfinite(g_all.numpy())
    np.testing.assert_allclose(lp.numpy()[:7], ref_log_prob(T, K, LAM), rtol=1e-6, atol=1e-8)
    ref_k = central_difference(lambda a: ref_log_prob(T, a, LAM).sum(), K)
    assert float(g_lp) == pytest.approx(ref_k, rel=1e-5)
