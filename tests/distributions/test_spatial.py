"""``SpatialPoissonProcess``: a Poisson process on a box, its integral by cubature.

Closed forms: a log-linear intensity ``exp(a + b x + c y)`` on ``[0, 2] x [0, 1]`` has
``Λ = e^a (e^{2b} - 1)/b · (e^c - 1)/c``, and its events have independent coordinates with
truncated-exponential marginals, which the sampling test checks with KS tests.
"""
import math

import numpy as np
import pytest
from scipy import stats

import bayesquad  # noqa: F401
import tensorflow as tf
import tensorflow_probability as tfp
from bayesquad.distributions import Plan, SpatialPoissonProcess, _plans
from bayesquad.quadrature import Adaptive, GaussHermite, GaussLegendre

tfd = tfp.distributions
F64 = tf.float64
LOW, HIGH = [0.0, 0.0], [2.0, 1.0]
KEY = "SpatialPoissonProcess:log_linear"


def log_linear(xy, a, b, c):
    return a + b * xy[..., 0] + c * xy[..., 1]


def exact_log_count(a, b, c):
    return a + math.log(math.expm1(2 * b) / b) + math.log(math.expm1(c) / c)


def make(a=1.0, b=0.5, c=-0.3, dtype=F64, **kw):
    return SpatialPoissonProcess(log_linear, tf.constant(LOW, dtype), tf.constant(HIGH, dtype),
                                 params={"a": tf.constant(a, dtype), "b": tf.constant(b, dtype),
                                         "c": tf.constant(c, dtype)}, **kw)


def test_expected_count_and_log_prob_against_the_closed_form():
    d = make()
    assert d.batch_shape == [] and d.dim == 2
    np.testing.assert_allclose(float(d.log_expected_count()), exact_log_count(1.0, 0.5, -0.3),
                               rtol=1e-13)
    assert int(d.quadrature_status()) == 0
    events = np.array([[0.5, 0.2], [1.5, 0.9], [np.nan, np.nan]])
    want = (sum(1.0 + 0.5 * x - 0.3 * y for x, y in events[:2])
            - math.exp(exact_log_count(1.0, 0.5, -0.3)))
    assert float(d.log_prob(events)) == pytest.approx(want, rel=1e-13)
    # a point outside the box: -inf, with finite gradients
    a = tf.constant(1.0, F64)
    with tf.GradientTape() as tape:
        tape.watch(a)
        lp = SpatialPoissonProcess(log_linear, LOW, HIGH, params={"a": a, "b": 0.5, "c": -0.3}
                                   ).log_prob([[0.5, 0.2], [2.5, 0.5]])
    assert float(lp) == -np.inf and np.isfinite(float(tape.gradient(lp, a)))


def test_batch_of_parameters_and_gradient_against_the_closed_form():
    a = tf.constant([0.5, 1.0, 1.5], F64)
    b, c = tf.constant(0.7, F64), tf.constant(-0.4, F64)
    events = tf.constant([[0.1, 0.1], [1.9, 0.4]], F64)
    with tf.GradientTape() as tape:
        tape.watch([a, b, c])
        d = SpatialPoissonProcess(log_linear, LOW, HIGH, params={"a": a, "b": b, "c": c})
        lp = d.log_prob(events)
        total = tf.reduce_sum(lp)
    ga, gb, gc = tape.gradient(total, [a, b, c])
    assert lp.shape == [3]
    lam = np.exp([exact_log_count(s, 0.7, -0.4) for s in (0.5, 1.0, 1.5)])
    # d/da: n - Λ; d/db: sum x - Λ (2 e^{2b}/(e^{2b}-1) - 1/b); d/dc likewise in y
    np.testing.assert_allclose(ga.numpy(), 2 - lam, rtol=1e-12)
    db = 2.0 - lam * (2 * math.exp(1.4) / math.expm1(1.4) - 1 / 0.7)
    dc = 0.5 - lam * (math.exp(-0.4) / math.expm1(-0.4) + 1 / 0.4)
    assert float(gb) == pytest.approx(db.sum(), rel=1e-11)
    assert float(gc) == pytest.approx(dc.sum(), rel=1e-11)


def test_under_xla_and_float32():
    events = np.array([[0.5, 0.2], [1.5, 0.9]])

    for dtype, rtol in ((F64, 1e-12), (tf.float32, 1e-5)):
        @tf.function(jit_compile=True)
        def run(a):
            with tf.GradientTape() as tape:
                tape.watch(a)
                d = SpatialPoissonProcess(log_linear, tf.constant(LOW, dtype),
                                          tf.constant(HIGH, dtype),
                                          params={"a": a, "b": tf.constant(0.5, dtype),
                                                  "c": tf.constant(-0.3, dtype)},
                                          max_events=2)
                lp = d.log_prob(tf.constant(events, dtype))
            return lp, tape.gradient(lp, a)

        lp, g = run(tf.constant(1.0, dtype))
        lam = math.exp(exact_log_count(1.0, 0.5, -0.3))
        assert lp.dtype == dtype
        want = 2.0 + 0.5 * 2.0 - 0.3 * 1.1 - lam
        np.testing.assert_allclose(float(lp), want, rtol=rtol)
        np.testing.assert_allclose(float(g), 2.0 - lam, rtol=rtol)


def test_sampling_counts_and_marginals():
    """200 realisations: counts Poisson(Λ) by their mean (5 sd), the x and y coordinates
    of all events against the truncated-exponential marginals (KS p > 1e-3)."""
    d = make(a=2.0, b=0.8, c=-1.0)
    s = d.sample(200, seed=(4, 2)).numpy()
    assert s.shape[0] == 200 and s.shape[-1] == 2
    present = ~np.isnan(s[..., 0])
    counts = present.sum(-1)
    lam = math.exp(exact_log_count(2.0, 0.8, -1.0))
    assert abs(counts.mean() - lam) < 5 * math.sqrt(lam / 200)
    x, y = s[present][:, 0], s[present][:, 1]
    assert np.all((x >= 0) & (x <= 2) & (y >= 0) & (y <= 1))

    def trunc_exp_cdf(rate, top):
        return lambda v: np.expm1(rate * v) / math.expm1(rate * top)
    assert stats.kstest(x, trunc_exp_cdf(0.8, 2.0)).pvalue > 1e-3
    assert stats.kstest(y, trunc_exp_cdf(-1.0, 1.0)).pvalue > 1e-3
    # negative control: the marginal of the other rate is rejected
    assert stats.kstest(x, trunc_exp_cdf(-0.8, 2.0)).pvalue < 1e-3


def test_planned_rule_and_plan_search():
    """Under a plan the product rule's bare sum is used (status 0); the plan search
    offers product rules per axis, cheapest first, and the configured rule is not the
    plan's."""
    plan = Plan.make("12-node", 144, ladder="panels", monotone=("nodes", "panels"),
                     nodes=12, panels=1)
    with _plans.applying({KEY: plan}):
        got = float(make().log_expected_count())
    assert got == pytest.approx(exact_log_count(1.0, 0.5, -0.3), rel=1e-13)
    with _plans.recording() as recorded:
        make().log_expected_count()
    costs = [p.cost for p in recorded[KEY]]
    assert costs == sorted(costs) and costs[0] == 36 and "per axis" in recorded[KEY][0].description
    # a rule chosen by hand is not planned
    with _plans.recording() as recorded:
        make(quadrature=GaussLegendre(16)).log_expected_count()
    assert not recorded


def test_planned_log_prob_sums_the_count_without_log_sum_exp():
    """Under a plan, ``log_prob`` and ``expected_count`` take the product rule's plain sum
    (``integrate_box_exp``), ``log_expected_count`` its log-sum-exp: the same rule, equal
    to rounding; value and gradients meet the closed form, under XLA too."""
    plan = Plan.make("12-node", 144, ladder="panels", monotone=("nodes", "panels"),
                     nodes=12, panels=1)
    events = tf.constant([[0.1, 0.1], [1.9, 0.4], [np.nan, np.nan]], F64)

    @tf.function(jit_compile=True)
    def run(a):
        with tf.GradientTape() as tape:
            tape.watch(a)
            d = SpatialPoissonProcess(log_linear, LOW, HIGH,
                                      params={"a": a, "b": 0.7, "c": -0.4})
            lp = tf.reduce_sum(d.log_prob(events))
        return lp, tape.gradient(lp, a), d.expected_count(), d.log_expected_count()

    a = tf.constant([0.5, 1.5], F64)
    with _plans.applying({KEY: plan}):
        lp, ga, count, log_count = run(a)
    lam = np.exp([exact_log_count(s, 0.7, -0.4) for s in (0.5, 1.5)])
    np.testing.assert_allclose(count.numpy(), np.exp(log_count.numpy()), rtol=1e-14)
    np.testing.assert_allclose(count.numpy(), lam, rtol=1e-12)
    sum_log_lam = sum(s + 0.7 * x - 0.4 * y for s in (0.5, 1.5) for x, y in ((0.1, 0.1),
                                                                             (1.9, 0.4)))
    assert float(lp) == pytest.approx(sum_log_lam - lam.sum(), rel=1e-12)
    np.testing.assert_allclose(ga.numpy(), 2 - lam, rtol=1e-12)  # d/da: n - Λ


def test_quadrature_choices():
    exact = exact_log_count(1.0, 0.5, -0.3)
    by_rule = make(quadrature=GaussLegendre(12, 2))
    assert float(by_rule.log_expected_count()) == pytest.approx(exact, rel=1e-13)
    adaptive = make(quadrature=Adaptive(rtol=1e-10))
    assert float(adaptive.log_expected_count()) == pytest.approx(exact, abs=1e-9)
    with pytest.raises(TypeError, match="takes bayesquad.quadrature.GaussLegendre"):
        make(quadrature=GaussHermite(8))
    with pytest.raises(ValueError, match="not both"):
        make(quadrature=GaussLegendre(8), nodes=16)
    with pytest.raises(ValueError, match="method"):
        make(method="tanh-sinh")


def test_status_reports_an_unresolved_hotspot():
    """A hotspot of width 0.15 seen, but not resolved, by 4 nodes per axis: off by 0.4 in
    the log (reference: 64 x 4 nodes per axis) and not CONVERGED, which is the honest
    answer (its estimate, 0.17, does not cover the error, and needs not: the status says
    the estimate is unreliable)."""
    def hotspot(xy, h):
        return h * tf.exp(-(tf.square(xy[..., 0] - 1.0) + tf.square(xy[..., 1] - 0.5))
                          / (2 * 0.15 ** 2))
    params = {"h": tf.constant(3.0, F64)}
    coarse = SpatialPoissonProcess(hotspot, LOW, HIGH, params=params, nodes=4, panels=1)
    fine = SpatialPoissonProcess(hotspot, LOW, HIGH, params=params, nodes=64, panels=4)
    assert int(fine.quadrature_status()) == 0
    assert int(coarse.quadrature_status()) != 0
    res = coarse.integral_result()
    true = abs(float(res.value) - float(fine.log_expected_count()))
    assert true > 1e-2 and int(res.status) != 0


@pytest.mark.parametrize("kwargs, words", [
    (dict(low=[0.0], high=[1.0]), "d >= 2"),
    (dict(low=[0.0, 0.0], high=[1.0, -1.0]), "low < high"),
    (dict(low=[0.0, 0.0], high=[1.0, np.inf]), "finite"),
    (dict(low=0.0, high=1.0), "trailing axis"),
    (dict(bound_grid=1), "bound_grid"),
    (dict(max_events=-1), "max_events"),
])
def test_bad_input_is_named(kwargs, words):
    args = dict(low=LOW, high=HIGH)
    args.update(kwargs)
    with pytest.raises(ValueError, match=words):
        SpatialPoissonProcess(log_linear, params={"a": 1.0, "b": 0.5, "c": -0.3}, **args)


def test_inside_a_joint_model_with_max_events():
    events = make(a=1.5).sample(seed=(1, 1)).numpy()
    events = events[~np.isnan(events[:, 0])]

    def model():
        a = yield tfd.JointDistributionCoroutine.Root(tfd.Normal(tf.constant(0.0, F64), 2.0,
                                                                 name="a"))
        yield SpatialPoissonProcess(log_linear, LOW, HIGH,
                                    params={"a": a, "b": 0.5, "c": -0.3},
                                    max_events=len(events), name="xy")
    jd = tfd.JointDistributionCoroutine(model)
    lp = jd.log_prob(a=tf.constant(1.5, F64), xy=tf.constant(events))
    want = (stats.norm(0, 2).logpdf(1.5) + sum(1.5 + 0.5 * x - 0.3 * y for x, y in events)
            - math.exp(exact_log_count(1.5, 0.5, -0.3)))
    assert float(lp) == pytest.approx(want, rel=1e-12)


def test_a_joint_model_without_max_events_is_told_the_event_count():
    """The shape error names max_events = the number of observed events (the axis before
    the coordinates), not the dimension."""
    from bayesquad.inference import sample
    events = np.random.default_rng(0).uniform(LOW, HIGH, size=(30, 2))

    def model():
        a = yield tfd.JointDistributionCoroutine.Root(tfd.Normal(tf.constant(0.0, F64), 2.0,
                                                                 name="a"))
        yield SpatialPoissonProcess(log_linear, LOW, HIGH, params={"a": a, "b": 0.0, "c": 0.0},
                                    name="xy")
    with pytest.raises(ValueError, match="pass max_events=30 "):
        sample(tfd.JointDistributionCoroutine(model), {"xy": events}, chains=1, warmup=10,
               draws=10, progress=False)
