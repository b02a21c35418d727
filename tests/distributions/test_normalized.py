"""Normalized against scipy's truncated normal and closed-form truncated exponentials."""
import numpy as np
import pytest
from scipy import stats

import bayesquad  # noqa: F401  (quiet TF import)
from bayesquad.distributions._normalized import Normalized
from bayesquad.quadrature import Status

import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions
tfb = tfp.bijectors

LOW, HIGH = -1.0, 2.0
MU = np.array([0.0, 0.5, -1.0, 1.2])
SIGMA = np.array([1.0, 0.7, 2.0, 0.3])
X = np.array([-0.99, -0.5, 0.0, 0.3, 1.0, 1.5, 1.99])[:, None]  # [7, 1] vs batch [4]
P = np.array([1e-9, 1e-3, 0.1, 0.5, 0.9, 0.999, 1 - 1e-9])[:, None]


def gauss(x, mu, sigma):
    return -0.5 * ((x - mu) / sigma) ** 2


def truncnorm(mu=MU, sigma=SIGMA):
    return stats.truncnorm((LOW - mu) / sigma, (HIGH - mu) / sigma, loc=mu, scale=sigma)


def make_tn(mu=MU, sigma=SIGMA, dtype=np.float64, **kw):
    return Normalized(gauss, np.asarray(LOW, dtype), np.asarray(HIGH, dtype),
                      params=dict(mu=tf.constant(mu, dtype), sigma=tf.constant(sigma, dtype)),
                      **kw)


@pytest.fixture(scope="module")
def tn():
    return make_tn()


def test_shapes_and_batch(tn):
    assert tn.batch_shape == [4] and tn.event_shape == [] and tn.dtype == tf.float64
    assert list(tn.batch_shape_tensor().numpy()) == [4]
    d = Normalized(gauss, tf.constant([-1.0, -2.0], tf.float64), 3.0,
                   params=dict(mu=tf.zeros([3, 1], tf.float64), sigma=1.0))
    assert d.batch_shape == [3, 2]
    assert d.log_prob(0.5).shape == [3, 2]
    assert tn.parameters["params"].keys() == {"mu", "sigma"}


def test_log_prob_cdf_survival_match_truncated_normal(tn):
    ref = truncnorm()
    np.testing.assert_allclose(tn.log_prob(X).numpy(), ref.logpdf(X), rtol=0, atol=1e-12)
    mass = stats.norm.cdf((HIGH - MU) / SIGMA) - stats.norm.cdf((LOW - MU) / SIGMA)
    np.testing.assert_allclose(tn.log_normalizer().numpy(),
                               np.log(np.sqrt(2 * np.pi) * SIGMA * mass), atol=1e-12)
    np.testing.assert_allclose(tn.cdf(X).numpy(), ref.cdf(X), rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(tn.log_cdf(X).numpy(), ref.logcdf(X), rtol=1e-10)
    np.testing.assert_allclose(tn.survival_function(X).numpy(), ref.sf(X), rtol=1e-10)
    np.testing.assert_array_equal(tn.quadrature_status().numpy(), [Status.CONVERGED] * 4)
    # ends and outside: exact values, never NaN
    np.testing.assert_array_equal(tn.cdf([[LOW - 1], [LOW], [HIGH], [HIGH + 1]]).numpy(),
                                  [[0.0] * 4, [0.0] * 4, [1.0] * 4, [1.0] * 4])


def test_quantile_mean_variance_match_truncated_normal(tn):
    ref = truncnorm()
    np.testing.assert_allclose(tn.quantile(P).numpy(), ref.ppf(P), rtol=0, atol=1e-10)
    np.testing.assert_allclose(tn.mean().numpy(), ref.mean(), atol=1e-12)
    np.testing.assert_allclose(tn.variance().numpy(), ref.var(), rtol=1e-11)
    np.testing.assert_array_equal(tn.quantile([[0.0], [1.0]]).numpy(),
                                  [[LOW] * 4, [HIGH] * 4])
    assert np.all(np.isnan(tn.quantile(1.5).numpy()))


def test_gradients_wrt_parameters_match_finite_differences(central_difference):
    mu, sigma = tf.constant(MU), tf.constant(SIGMA)
    with tf.GradientTape() as tape:
        tape.watch([mu, sigma])
        d = Normalized(gauss, LOW, HIGH, params=dict(mu=mu, sigma=sigma))
        lp = tf.reduce_sum(d.log_prob(X) + d.log_cdf(0.7))
    g_mu, g_sigma = tape.gradient(lp, [mu, sigma])

    def ref(m, s):
        r = truncnorm(m, s)
        return (r.logpdf(X) + r.logcdf(0.7)).sum(0)

    fd_mu = central_difference(lambda m: ref(m, SIGMA), MU)
    fd_sigma = central_difference(lambda s: ref(MU, s), SIGMA)
    np.testing.assert_allclose(g_mu.numpy(), fd_mu, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(g_sigma.numpy(), fd_sigma, rtol=1e-6, atol=1e-6)


def trunc_exp(rate, b):
    """log-density, cdf, quantile and mean of Exponential(rate) truncated to [0, b]."""
    norm = -np.expm1(-rate * b)
    return dict(
        logpdf=lambda x: np.log(rate) - rate * x - np.log(norm),
        cdf=lambda x: -np.expm1(-rate * x) / norm,
        ppf=lambda p: -np.log1p(-p * norm) / rate,
        mean=1 / rate - b * np.exp(-rate * b) / norm,
    )


def test_truncated_exponential_closed_forms_and_quantile_gradient(central_difference):
    rate, b = np.array([0.5, 1.0, 3.0, 10.0]), 2.0
    lam = tf.constant(rate)
    x = np.array([0.01, 0.5, 1.0, 1.9])[:, None]
    p = np.array([0.05, 0.5, 0.95])[:, None]
    ref = trunc_exp(rate, b)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(lam)
        d = Normalized(lambda x, lam: -lam * x, 0.0, b, params=dict(lam=lam))
        lp = d.log_prob(x)
        q = d.quantile(p)
    np.testing.assert_allclose(lp.numpy(), ref["logpdf"](x), atol=1e-12)
    np.testing.assert_allclose(d.cdf(x).numpy(), ref["cdf"](x), rtol=1e-11)
    np.testing.assert_allclose(q.numpy(), ref["ppf"](p), rtol=1e-10)
    np.testing.assert_allclose(d.mean().numpy(), ref["mean"], rtol=1e-11)
    # d/dλ log p = 1/λ - x - b e^{-λb} / (1 - e^{-λb})
    dlp = 1 / rate - x - b * np.exp(-rate * b) / -np.expm1(-rate * b)
    np.testing.assert_allclose(tape.gradient(lp, lam).numpy(), dlp.sum(0), rtol=1e-9)
    dq = central_difference(lambda r: trunc_exp(r, b)["ppf"](p), rate)
    np.testing.assert_allclose(tape.gradient(q, lam).numpy(), dq.sum(0), rtol=1e-6)


def test_infinite_ranges_and_far_tails():
    expo = Normalized(lambda x: -2.0 * x, 0.0, np.inf)  # Exponential(rate 2)
    xs = np.array([0.0, 0.3, 5.0, 20.0])
    np.testing.assert_allclose(expo.log_prob(xs).numpy(), np.log(2) - 2 * xs, atol=1e-12)
    np.testing.assert_allclose(expo.log_survival_function(xs).numpy(), -2 * xs, rtol=1e-10)
    np.testing.assert_allclose(expo.quantile([1e-12, 0.5, 1 - 1e-12]).numpy(),
                               -np.log1p(-np.array([1e-12, 0.5, 1 - 1e-12])) / 2, rtol=1e-9)
    std = Normalized(lambda x: -0.5 * x * x, -np.inf, np.inf)
    xs = np.array([-8.0, -1.0, 0.0, 2.5])
    np.testing.assert_allclose(std.log_prob(xs).numpy(), stats.norm.logpdf(xs), atol=1e-12)
    np.testing.assert_allclose(std.log_cdf(xs).numpy(), stats.norm.logcdf(xs), rtol=1e-9)
    np.testing.assert_allclose(std.quantile([1e-10, 0.3, 0.99]).numpy(),
                               stats.norm.ppf([1e-10, 0.3, 0.99]), atol=1e-9)
    left = Normalized(lambda x: 3.0 * x, -np.inf, 1.0)  # reflected Exponential(3) below 1
    np.testing.assert_allclose(left.log_prob([-2.0, 0.5]).numpy(),
                               np.log(3) + 3 * (np.array([-2.0, 0.5]) - 1), atol=1e-12)


def test_out_of_support_is_minus_inf_with_finite_gradient():
    mu = tf.constant(MU)
    with tf.GradientTape() as tape:
        tape.watch(mu)
        # log_density is NaN outside [-1, 2]: it must never be called there
        d = Normalized(lambda x, mu: -0.5 * (x - mu) ** 2 + tf.math.log(x + 1.0)
                       + tf.math.log(2.0 - x), LOW, HIGH, params=dict(mu=mu))
        lp = d.log_prob([[-3.0], [0.5], [2.5]])
        total = tf.reduce_sum(tf.where(tf.math.is_finite(lp), lp, 0.0))
    assert np.all(lp.numpy()[[0, 2]] == -np.inf) and np.all(np.isfinite(lp.numpy()[1]))
    g = tape.gradient(total, mu)
    assert np.all(np.isfinite(g.numpy()))
    assert np.isnan(d.log_prob(np.nan).numpy()).all()


def test_non_finite_integrand_gives_nan_and_status():
    d = Normalized(lambda x: tf.where(x > 0.5, np.inf, 0.0 * x), 0.0, 1.0)
    assert int(d.quadrature_status()) == Status.NON_FINITE
    assert np.isnan(d.log_normalizer().numpy()) and np.isnan(d.log_prob(0.2).numpy())


def test_unconverged_normaliser_is_reported_and_raises_when_validating():
    narrow = lambda x: -0.5 * (x / 0.01) ** 2  # noqa: E731  (far narrower than the window)
    d = Normalized(narrow, -5.0, 5.0, panels=1)
    assert int(d.quadrature_status()) != Status.CONVERGED
    assert np.isfinite(d.log_prob(0.0).numpy())  # estimate kept for samplers
    strict = Normalized(narrow, -5.0, 5.0, panels=1, validate_args=True)
    with pytest.raises(tf.errors.InvalidArgumentError, match="did not converge"):
        strict.log_prob(0.0)
    exact = -np.log(0.01 * np.sqrt(2 * np.pi))
    for fix in (dict(points=[-0.05, 0.0, 0.05]), dict(method="adaptive-gk")):
        fixed = Normalized(narrow, -5.0, 5.0, **fix)
        assert int(fixed.quadrature_status()) == Status.CONVERGED
        np.testing.assert_allclose(fixed.log_prob(0.0).numpy(), exact, atol=1e-12)


def test_sampling_passes_ks_and_shifted_sample_fails(tn):
    s = tn.sample(2000, seed=(7, 11)).numpy()
    assert s.shape == (2000, 4) and np.all((s >= LOW) & (s <= HIGH))
    np.testing.assert_array_equal(s, tn.sample(2000, seed=(7, 11)).numpy())
    ref = truncnorm()
    for k in range(4):
        cdf = lambda v, k=k: ref.cdf(np.asarray(v)[..., None])[..., k]  # noqa: E731
        assert stats.kstest(s[:, k], cdf).pvalue > 1e-3
        # negative control: a shift of 0.2 scale is caught
        assert stats.kstest(s[:, k] + 0.2 * SIGMA[k], cdf).pvalue < 1e-6


def test_sample_is_reparameterized(central_difference):
    lam = tf.constant(2.0, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(lam)
        d = Normalized(lambda x, lam: -lam * x, 0.0, 1.0, params=dict(lam=lam))
        s = d.sample(5, seed=(1, 2))
    # x = F^{-1}(u; λ) with u fixed: dx/dλ = -(∂F/∂λ)/p(x), from the closed form
    u = trunc_exp(2.0, 1.0)["cdf"](s.numpy())
    dx = central_difference(lambda r: trunc_exp(r, 1.0)["ppf"](u), 2.0)
    np.testing.assert_allclose(tape.gradient(s, lam).numpy(), dx.sum(), rtol=1e-6)


def test_event_space_bijectors_map_into_support():
    y = tf.constant([-30.0, -1.0, 0.0, 2.0, 30.0], tf.float64)
    for low, high in [(LOW, HIGH), (0.0, np.inf), (-np.inf, 1.0), (-np.inf, np.inf)]:
        d = Normalized(lambda x: -0.5 * x * x, low, high)
        bij = d.experimental_default_event_space_bijector()
        x = bij.forward(y).numpy()
        assert np.all((x >= low) & (x <= high)) and np.all(np.diff(x) >= 0)
        np.testing.assert_allclose(bij.inverse(bij.forward(y[1:4])).numpy(), y[1:4].numpy(),
                                   atol=1e-9)
    # ends whose finiteness differs per batch element use the per-element bijector
    d = Normalized(lambda x: -0.5 * x * x, tf.constant([0.0, -np.inf], tf.float64), 1.0)
    x = d.experimental_default_event_space_bijector().forward(y[:, None]).numpy()
    assert np.all(x <= 1.0) and np.all(x[:, 0] >= 0.0)


@pytest.fixture(scope="module")
def joint_models(xla_value_and_grad):
    data = tf.constant(np.random.default_rng(1).uniform(LOW, HIGH, 40))

    def make(use_ref):
        @tfd.JointDistributionCoroutineAutoBatched
        def model():
            mu = yield tfd.Normal(tf.constant(0.0, tf.float64), 1.0, name="mu")
            sigma = yield tfd.LogNormal(tf.constant(0.0, tf.float64), 0.5, name="sigma")
            if use_ref:
                obs = tfd.TruncatedNormal(mu, sigma, tf.constant(LOW, tf.float64), HIGH)
            else:
                obs = Normalized(gauss, LOW, HIGH, params=dict(mu=mu, sigma=sigma))
            yield tfd.Sample(obs, 40, name="x")
        return model

    def compiled(model):
        return xla_value_and_grad(lambda mu, sigma: model.log_prob(mu, sigma, data))

    return make(False), compiled(make(False)), compiled(make(True))


def test_joint_distribution_log_prob_and_gradient_under_xla(joint_models):
    model, ours, ref = joint_models
    mu = tf.constant([0.0, 0.3, -0.2, 1.0], tf.float64)
    sigma = tf.constant([1.0, 0.5, 2.0, 0.8], tf.float64)
    lp, (g_mu, g_sigma) = ours(mu, sigma)
    lp_r, (g_mu_r, g_sigma_r) = ref(mu, sigma)
    assert lp.shape == [4]
    np.testing.assert_allclose(lp.numpy(), lp_r.numpy(), rtol=1e-12)
    np.testing.assert_allclose(g_mu.numpy(), g_mu_r.numpy(), rtol=1e-10)
    np.testing.assert_allclose(g_sigma.numpy(), g_sigma_r.numpy(), rtol=1e-10)
    draw = model.sample(seed=(3, 4))
    assert draw.x.shape == [40] and np.all((draw.x.numpy() >= LOW) & (draw.x.numpy() <= HIGH))


def test_float32():
    d = make_tn(dtype=np.float32)
    assert d.dtype == tf.float32
    ref = truncnorm()
    np.testing.assert_allclose(d.log_prob(X.astype(np.float32)).numpy(), ref.logpdf(X),
                               atol=2e-5)
    np.testing.assert_allclose(d.cdf(X.astype(np.float32)).numpy(), ref.cdf(X), atol=2e-6)
    np.testing.assert_allclose(d.quantile(np.float32([[0.1], [0.5], [0.9]])).numpy(),
                               ref.ppf([[0.1], [0.5], [0.9]]), atol=1e-5)
    s = d.sample(50, seed=(1, 1))
    assert s.dtype == tf.float32 and np.all(np.isfinite(s.numpy()))


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="`low` must be < `high`"):
        Normalized(gauss, 2.0, 1.0, params=dict(mu=0.0, sigma=1.0))
    with pytest.raises(ValueError, match="log_density"):
        Normalized("not callable", 0.0, 1.0)
    with pytest.raises(ValueError, match="params"):
        Normalized(gauss, 0.0, 1.0, params={"not valid": 1.0})
    with pytest.raises(ValueError, match="method"):
        Normalized(gauss, 0.0, 1.0, method="simpsons")
    with pytest.raises(ValueError, match="root_iterations"):
        Normalized(gauss, 0.0, 1.0, root_iterations=0)

    @tf.function(input_signature=[tf.TensorSpec([], tf.float64)])
    def run_time_low(low):  # low is only known at run time here
        return Normalized(lambda x: -x, low, 1.0, validate_args=True).log_prob(0.5)

    with pytest.raises(tf.errors.InvalidArgumentError, match="low"):
        run_time_low(tf.constant(3.0, tf.float64))


def test_mixtures_and_slicing():
    mu = tf.constant([-1.0, 1.0], tf.float64)
    comp = Normalized(lambda x, mu: -0.5 * (x - mu) ** 2, -3.0, 3.0, params=dict(mu=mu))
    mix = tfd.MixtureSameFamily(tfd.Categorical(probs=tf.constant([0.3, 0.7], tf.float64)),
                                comp)
    x = np.array([-2.0, 0.0, 2.5])
    ref = np.log(0.3 * stats.truncnorm.pdf(x, -2, 4, loc=-1)
                 + 0.7 * stats.truncnorm.pdf(x, -4, 2, loc=1))
    np.testing.assert_allclose(mix.log_prob(x).numpy(), ref, atol=1e-12)
    assert mix.sample(3, seed=(1, 2)).shape == [3]
    part = comp[1:]
    assert part.batch_shape == [1]
    np.testing.assert_allclose(part.log_prob(0.0).numpy(),
                               stats.truncnorm.logpdf(0.0, -4, 2, loc=1), atol=1e-12)
    assert comp[0].batch_shape == []


def test_common_root_finder_and_unit_map():
    from bayesquad.distributions import _maps, _roots

    c = tf.constant([-1e6, -2.0, 0.0, 3.0, 1e9], tf.float64)
    root = _roots.bracketed_root(lambda x: (x**3 - c, 3 * x**2), -np.inf, np.inf,
                                 x0=tf.zeros_like(c), num_iterations=200)
    np.testing.assert_allclose(root.numpy(), np.cbrt(c.numpy()), rtol=1e-13)
    u = tf.constant(np.linspace(0.0, 1.0, 11), tf.float64)
    for low, high in [(-1.0, 2.0), (0.5, np.inf), (-np.inf, 0.5), (-np.inf, np.inf)]:
        x, _ = _maps.unit_map(u, tf.constant(low, tf.float64), tf.constant(high, tf.float64))
        assert x.numpy()[0] == low and x.numpy()[-1] == high
        back = _maps.unit_map_inverse(x, tf.constant(low, tf.float64),
                                      tf.constant(high, tf.float64))
        np.testing.assert_allclose(back.numpy(), u.numpy(), atol=1e-15)


def test_new_instances_sample_without_retracing_warnings():
    # Joint models build a new Normalized per call; no per-instance tf.function may be
    # traced (TF would warn about frequent retracing after a few instances).
    import logging

    class Grab(logging.Handler):
        def __init__(self):
            super().__init__()
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    grab = Grab()
    logger = tf.get_logger()
    logger.addHandler(grab)
    try:
        for i in range(6):
            d = make_tn(mu=[0.1 * i], sigma=[1.0 + 0.1 * i])
            s = d.sample(50, seed=(1, i)).numpy()
            assert s.shape == (50, 1) and np.all((s >= LOW) & (s <= HIGH))
    finally:
        logger.removeHandler(grab)
    assert not any("retracing" in m for m in grab.messages), grab.messages
