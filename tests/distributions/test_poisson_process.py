"""PoissonProcess with a log-linear intensity against its closed forms."""
import numpy as np
import pytest
from scipy import stats

import bayesquad  # noqa: F401  (quiet TF import)
from bayesquad.distributions._poisson_process import PoissonProcess, pad_events
from bayesquad.quadrature import Status

import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions

T = 4.0
A = np.array([1.0, 2.0, 0.5, 3.0])
B = np.array([0.3, -0.5, 1.0, -0.05])
EVENTS = pad_events([[0.5, 1.0, 3.5], [3.0], [], [0.1, 0.2, 0.3, 3.9]])  # [4, 4] NaN-padded


def log_linear(t, a, b):
    return a + b * t


def big_lambda(a, b, t=T):
    """∫_0^t exp(a + b s) ds."""
    return np.exp(a) * np.expm1(b * t) / b


def dlambda_db(a, b, t=T):
    return np.exp(a) * (t * np.exp(b * t) / b - np.expm1(b * t) / b**2)


def make(a=A, b=B, dtype=np.float64, **kw):
    return PoissonProcess(log_linear, np.asarray(0.0, dtype), np.asarray(T, dtype),
                          params=dict(a=tf.constant(a, dtype), b=tf.constant(b, dtype)), **kw)


@pytest.fixture(scope="module")
def pp():
    return make()


def test_expected_count_matches_closed_form(pp):
    assert pp.batch_shape == [4] and pp.event_shape.as_list() == [None]
    np.testing.assert_allclose(pp.expected_count().numpy(), big_lambda(A, B), rtol=1e-13)
    np.testing.assert_allclose(pp.log_expected_count().numpy(), np.log(big_lambda(A, B)),
                               atol=1e-13)
    np.testing.assert_array_equal(pp.quadrature_status().numpy(), [Status.CONVERGED] * 4)


def reference_log_prob(events, a, b):
    lam = np.where(np.isnan(events), 0.0, a[:, None] + b[:, None] * events)
    return lam.sum(-1) - big_lambda(a, b)


def test_log_prob_of_padded_realisations_and_gradients():
    a, b = tf.constant(A), tf.constant(B)
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        d = PoissonProcess(log_linear, 0.0, T, params=dict(a=a, b=b))
        lp = d.log_prob(EVENTS)  # realisation k under batch member k
    np.testing.assert_allclose(lp.numpy(), reference_log_prob(EVENTS, A, B), rtol=1e-13)
    g_a, g_b = tape.gradient(lp, [a, b])
    n = np.sum(~np.isnan(EVENTS), -1)
    np.testing.assert_allclose(g_a.numpy(), n - big_lambda(A, B), rtol=1e-12)
    np.testing.assert_allclose(g_b.numpy(), np.nansum(EVENTS, -1) - dlambda_db(A, B),
                               rtol=1e-11)
    # every realisation under every batch member: [r, 1, n] against batch [4]
    lp_all = d.log_prob(EVENTS[:, None, :]).numpy()
    assert lp_all.shape == (4, 4)
    for r in range(4):
        np.testing.assert_allclose(lp_all[r], reference_log_prob(
            np.tile(EVENTS[r], (4, 1)), A, B), rtol=1e-13)


def test_planned_log_prob_sums_the_count_without_log_sum_exp():
    """Under a plan, ``log_prob`` and ``expected_count`` take the frozen rule's plain sum
    (``integrate_exp``), ``log_expected_count`` its log-sum-exp: equal to rounding, and
    value and gradients meet the closed form, under XLA too."""
    from bayesquad.distributions import _plans
    plan = _plans.Plan.make("20-node x 2", 40, ladder="panels", nodes=20, panels=2)

    @tf.function(jit_compile=True)
    def run(a, b):
        with tf.GradientTape() as tape:
            tape.watch([a, b])
            d = PoissonProcess(log_linear, 0.0, T, params=dict(a=a, b=b))
            lp = d.log_prob(EVENTS)
        return lp, tape.gradient(lp, [a, b]), d.expected_count(), d.log_expected_count()

    with _plans.applying({"PoissonProcess:log_linear": plan}):
        lp, (g_a, g_b), count, log_count = run(tf.constant(A), tf.constant(B))
    np.testing.assert_allclose(count.numpy(), np.exp(log_count.numpy()), rtol=1e-14)
    np.testing.assert_allclose(count.numpy(), big_lambda(A, B), rtol=1e-13)
    np.testing.assert_allclose(lp.numpy(), reference_log_prob(EVENTS, A, B), rtol=1e-13)
    n = np.sum(~np.isnan(EVENTS), -1)
    np.testing.assert_allclose(g_a.numpy(), n - big_lambda(A, B), rtol=1e-12)
    np.testing.assert_allclose(g_b.numpy(), np.nansum(EVENTS, -1) - dlambda_db(A, B),
                               rtol=1e-11)


def test_events_outside_the_window_give_minus_inf_with_finite_gradient():
    a = tf.constant(A[:2])  # batch [2]: one realisation each
    with tf.GradientTape() as tape:
        tape.watch(a)
        d = PoissonProcess(lambda t, a: a + tf.math.log(t) + tf.math.log(T - t), 0.0, T,
                           params=dict(a=a))  # NaN outside [0, T]: never called there
        lp = d.log_prob([[1.0, -0.5, np.nan], [1.0, 2.0, np.nan]])
        total = tf.reduce_sum(tf.where(tf.math.is_finite(lp), lp, 0.0))
    lp = lp.numpy()
    assert np.all(lp[0] == -np.inf) and np.all(np.isfinite(lp[1]))
    assert np.all(np.isfinite(tape.gradient(total, a).numpy()))


def test_thinning_counts_and_times_match_the_intensity(pp):
    n = 3000
    s = pp.sample(n, seed=(5, 6)).numpy()
    assert s.shape[:2] == (n, 4)
    present = ~np.isnan(s)
    counts = present.sum(-1)
    lam = big_lambda(A, B)
    se = np.sqrt(lam / n)
    assert np.all(np.abs(counts.mean(0) - lam) < 4 * se), (counts.mean(0), lam)
    np.testing.assert_allclose(counts.var(0), lam, rtol=0.15)  # Poisson: variance = mean
    # realisations are sorted, padded at the end, inside the window
    assert np.all(np.diff(present.astype(int), axis=-1) <= 0)  # events form a prefix
    assert np.all(np.nan_to_num(np.diff(s, axis=-1), nan=0.0) >= 0)
    assert np.all((s[present] >= 0) & (s[present] <= T))
    for k in range(4):  # pooled times follow λ/Λ: F(t) = expm1(b t) / expm1(b T)
        times = s[:, k][present[:, k]]
        cdf = lambda t, k=k: np.expm1(B[k] * t) / np.expm1(B[k] * T)  # noqa: E731
        assert stats.kstest(times, cdf).pvalue > 1e-3
        assert stats.kstest(np.clip(times + 0.1, 0, T), cdf).pvalue < 1e-6  # shifted: caught


def test_user_bound_and_sampling_inside_tf_function():
    d = make(intensity_bound=np.exp(A + np.maximum(B, 0) * T), max_events=120)
    assert d.event_shape == [120]

    @tf.function(jit_compile=True)
    def draw(seed):
        return d.sample(500, seed=seed)

    s = draw(tf.constant([1, 2])).numpy()
    assert s.shape == (500, 4, 120)
    counts = (~np.isnan(s)).sum(-1)
    lam = big_lambda(A, B)
    assert np.all(np.abs(counts.mean(0) - lam) < 4 * np.sqrt(lam / 500))
    # without max_events the padded length is a run-time value: fine in tf.function
    no_size = make()
    s = tf.function(lambda: no_size.sample(2, seed=(1, 2)))().numpy()
    assert s.shape[:2] == (2, 4) and s.shape[2] >= big_lambda(A, B).max()


def test_inside_joint_distribution_under_xla(xla_value_and_grad):
    events = tf.constant(EVENTS[0])

    @tfd.JointDistributionCoroutineAutoBatched
    def model():
        a = yield tfd.Normal(tf.constant(0.0, tf.float64), 2.0, name="a")
        b = yield tfd.Normal(tf.constant(0.0, tf.float64), 1.0, name="b")
        # XLA needs static shapes, also for the sample TFP traces to learn the event spec
        yield PoissonProcess(log_linear, 0.0, T, params=dict(a=a, b=b), max_events=8,
                             name="events")

    lp_and_grad = xla_value_and_grad(lambda a, b: model.log_prob(a, b, events))
    a, b = tf.constant(A), tf.constant(B)
    lp, (g_a, g_b) = lp_and_grad(a, b)
    prior = stats.norm.logpdf(A, 0, 2) + stats.norm.logpdf(B, 0, 1)
    ref = prior + reference_log_prob(np.tile(EVENTS[0], (4, 1)), A, B)
    np.testing.assert_allclose(lp.numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(g_a.numpy(), -A / 4 + 3 - big_lambda(A, B), rtol=1e-11)
    np.testing.assert_allclose(g_b.numpy(), -B + np.nansum(EVENTS[0]) - dlambda_db(A, B),
                               rtol=1e-11)


def test_event_space_bijector_maps_into_the_window(pp):
    bij = pp.experimental_default_event_space_bijector()
    y = tf.constant(np.linspace(-20, 20, 5)[None, :] + np.zeros((4, 1)))
    x = bij.forward(y).numpy()
    assert x.shape == (4, 5) and np.all((x >= 0) & (x <= T))
    np.testing.assert_allclose(bij.inverse(bij.forward(y[:, 1:4])).numpy(), y[:, 1:4], atol=1e-8)


def test_float32():
    d = make(dtype=np.float32)
    assert d.dtype == tf.float32
    np.testing.assert_allclose(d.expected_count().numpy(), big_lambda(A, B), rtol=1e-5)
    np.testing.assert_allclose(d.log_prob(EVENTS.astype(np.float32)).numpy(),
                               reference_log_prob(EVENTS, A, B), rtol=1e-5)
    s = d.sample(3, seed=(1, 1))
    assert s.dtype == tf.float32


def test_pad_events_and_bad_input():
    out = pad_events([[1.0, 2.0], [3.0]])
    np.testing.assert_array_equal(np.isnan(out), [[False, False], [False, True]])
    with pytest.raises(ValueError, match="max_events"):
        pad_events([[1.0, 2.0]], max_events=1)
    with pytest.raises(ValueError, match="`low` must be < `high`"):
        PoissonProcess(log_linear, 1.0, 0.0)
    with pytest.raises(ValueError, match="`high` must be finite"):
        PoissonProcess(log_linear, 0.0, np.inf)
    with pytest.raises(ValueError, match="log_intensity"):
        PoissonProcess(3.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="max_events"):
        PoissonProcess(log_linear, 0.0, 1.0, max_events=-1)
    # issue 10: a bound <= 0, NaN or inf sampled rows of +inf without a word
    for bound in (-1.0, 0.0, np.nan, np.inf, [1.0, -2.0]):
        with pytest.raises(ValueError, match="`intensity_bound` must be a finite number > 0"):
            PoissonProcess(log_linear, 0.0, 1.0, params=dict(a=0.0, b=0.0),
                           intensity_bound=bound, max_events=5)


def test_runtime_bad_bound_raises_with_validate_args():
    @tf.function(autograph=False)
    def draw(bound):
        d = PoissonProcess(lambda t: tf.zeros_like(t), 0.0, 1.0, intensity_bound=bound,
                           max_events=5, validate_args=True)
        return d.sample(2, seed=(1, 2))
    with pytest.raises(tf.errors.InvalidArgumentError, match="intensity_bound"):
        draw(tf.constant(-1.0, tf.float64))
    assert draw(tf.constant(2.0, tf.float64)).shape == (2, 5)


def test_large_rate_sampling_is_bounded_and_overflow_is_flagged():
    # Λ = 20,000 with a grid bound: thinning runs in a few rounds of max_events + 1
    # candidates, not ~bound·T / 64 rounds.
    a, b = np.log(20000.0 * 0.5 / np.expm1(0.5 * T)), 0.5
    lam = big_lambda(a, b)
    np.testing.assert_allclose(lam, 20000.0, rtol=1e-12)
    d = make(a=[a], b=[b], max_events=25000)
    s = d.sample(2, seed=(3, 4)).numpy()
    assert s.shape == (2, 1, 25000)
    counts = (~np.isnan(s)).sum(-1).ravel()
    assert np.all(np.abs(counts - lam) < 5 * np.sqrt(lam)), counts
    present = ~np.isnan(s)
    assert np.all((s[present] >= 0) & (s[present] <= T))
    assert np.all(np.nan_to_num(np.diff(s, axis=-1), nan=0.0) >= 0)
    # more events than max_events: flagged as +inf, never silently truncated
    small = make(a=[a], b=[b], max_events=10)
    assert np.all(small.sample(2, seed=(3, 4)).numpy() == np.inf)
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_events"):
        make(a=[a], b=[b], max_events=10, validate_args=True).sample(1, seed=(3, 4))
