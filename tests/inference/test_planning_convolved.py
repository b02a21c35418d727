"""Plans for ``Convolved`` with a Laplace kernel (issue 11, "narrow kernels"): the kink at
the kernel's centre splits the window; checked against the closed form of
Exponential ⊛ Laplace, never against the code under test."""
import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import bayesquad  # noqa: F401
from bayesquad.distributions import Convolved, _plans
from bayesquad.inference import laplace_box, plan_quadrature

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root
F64 = tf.float64
TAU, B = 1.5, 0.3
rng = np.random.default_rng(7)
DATA = rng.exponential(TAU, 400) + rng.laplace(0.0, B, 400)
KEY = "Convolved:Exponential:Laplace"


def model():
    tau = yield Root(tfd.LogNormal(tf.constant(0.0, F64), 1.0, name="tau"))
    b = yield Root(tfd.LogNormal(tf.constant(math.log(0.3), F64), 0.5, name="b"))
    yield tfd.Sample(Convolved(tfd.Exponential(1.0 / tau), tfd.Laplace(tf.constant(
        0.0, F64), b)), DATA.size, name="t")


def exact_log_prob(t, tau, b):
    """log of lam/(2b) ∫_0^∞ exp(-lam s - |t-s|/b) ds, piecewise by hand (lam = 1/tau)."""
    lam = 1.0 / tau
    t = np.asarray(t, float)
    below = np.log(lam / (2 * b)) + t / b - np.log(lam + 1 / b)
    a1 = 1 / b - lam
    tp = np.maximum(t, 1e-300)
    left = -tp / b + np.log(np.abs(np.expm1(a1 * tp) / a1))
    right = tp / b - (lam + 1 / b) * tp - np.log(lam + 1 / b)
    above = np.log(lam / (2 * b)) + np.logaddexp(left, right)
    return np.where(t <= 0, below, above)


@pytest.fixture(scope="module")
def planned():
    points = laplace_box(np.log([TAU, B]), np.diag([0.06, 0.06]) ** 2)
    return plan_quadrature(tfd.JointDistributionCoroutine(model), {"t": DATA}, points), points


def test_laplace_kernel_is_planned_split_at_its_kink(planned):
    (plans, report), _ = planned
    assert list(plans) == [KEY]
    plan = plans[KEY]
    assert plan.get("split") == 1 and "either side" in plan.description
    assert plan.cost < 40  # the configured rule: 40 nodes on ±36 scales
    assert report["meta"]["max_change_vs_reference"] <= 1e-4


def test_plan_against_the_closed_form(planned):
    (plans, _), points = planned
    for log_tau, log_b in points:
        tau, b = math.exp(log_tau), math.exp(log_b)
        d = Convolved(tfd.Exponential(tf.constant(1.0 / tau, F64)),
                      tfd.Laplace(tf.constant(0.0, F64), tf.constant(b, F64)))
        with _plans.applying(plans):
            got = d.log_prob(DATA).numpy()
        exact = exact_log_prob(DATA, tau, b)
        # the plan bounds the change of the whole log density (1e-4), and so each term
        assert abs(np.sum(got) - np.sum(exact)) <= 1e-4
        assert np.max(np.abs(got - exact)) <= 1e-4


def test_without_the_split_the_kink_costs_accuracy_negative_control(planned):
    (plans, _), _ = planned
    plan = plans[KEY]
    whole = _plans.Plan.make("unsplit", 2 * plan.get("nodes"), ladder="nodes",
                             nodes=2 * plan.get("nodes"), window=plan.get("window"))
    d = Convolved(tfd.Exponential(tf.constant(1.0 / TAU, F64)),
                  tfd.Laplace(tf.constant(0.0, F64), tf.constant(B, F64)))
    with _plans.applying({KEY: whole}):
        bad = d.log_prob(DATA).numpy()
    assert abs(np.sum(bad) - np.sum(exact_log_prob(DATA, TAU, B))) > 1e-4


def test_planned_gradient_against_a_central_difference(planned):
    (plans, _), _ = planned
    t = tf.constant(DATA[:20], F64)

    def total(tau, b):
        d = Convolved(tfd.Exponential(1.0 / tau), tfd.Laplace(tf.constant(0.0, F64), b))
        with _plans.applying(plans):
            return tf.reduce_sum(d.log_prob(t))

    tau, b = tf.constant(TAU, F64), tf.constant(B, F64)
    with tf.GradientTape() as tape:
        tape.watch([tau, b])
        value = total(tau, b)
    g = tape.gradient(value, [tau, b])
    h = 1e-5
    exact = lambda tv, bv: float(np.sum(exact_log_prob(DATA[:20], tv, bv)))  # noqa: E731
    fd = [(exact(TAU + h, B) - exact(TAU - h, B)) / (2 * h),
          (exact(TAU, B + h) - exact(TAU, B - h)) / (2 * h)]
    # the plan is accurate to 1e-4 in the log density over the region; its gradient to
    # about the same (3.7e-5 measured on these 20 terms)
    np.testing.assert_allclose([float(v) for v in g], fd, rtol=0, atol=1e-4)


def test_planned_split_rule_under_xla_with_empty_sides(planned):
    """Under XLA, with observations far below the signal's support (the kink clipped to
    the window's lower end: one side empty) and above it."""
    (plans, _), _ = planned
    t = np.array([-4.0, -0.5, 0.0, 0.7, 12.0])

    @tf.function(jit_compile=True)
    def run(tau, b):
        with tf.GradientTape() as tape:
            tape.watch([tau, b])
            d = Convolved(tfd.Exponential(1.0 / tau), tfd.Laplace(tf.constant(0.0, F64), b))
            lp = d.log_prob(tf.constant(t, F64))
            total = tf.reduce_sum(lp)
        return lp, tape.gradient(total, [tau, b])

    with _plans.applying(plans):
        lp, grads = run(tf.constant(TAU, F64), tf.constant(B, F64))
    np.testing.assert_allclose(lp.numpy(), exact_log_prob(t, TAU, B), rtol=0, atol=1e-5)
    assert all(np.isfinite(g.numpy()) for g in grads)


def test_planned_split_gradient_at_a_moving_support_end():
    """A signal whose support end is a parameter (Uniform(a, 3)) and an observation below
    it: the kink is clipped to the support's end, whose Leibniz term must reach the
    gradient; and an observation far above a short support (one side empty, the signal's
    log density -inf there) has finite gradients. Against central differences of the
    configured rule (adaptive, independent of the plan)."""
    plan = _plans.Plan.make("split", 40, ladder="nodes", nodes=20, window=16.0, split=1)
    key = "Convolved:Uniform:Laplace"

    def lp(a, b, r, t, planned):
        d = Convolved(tfd.Uniform(a, b), tfd.Laplace(tf.constant(0.0, F64), r))
        if planned:
            with _plans.applying({key: plan}):
                return tf.reduce_sum(d.log_prob(t))
        return tf.reduce_sum(d.log_prob(t))

    for a0, b0, t in ((0.0, 3.0, [-1.0, 0.5]), (0.0, 0.5, [3.0])):
        a, b, r = (tf.constant(v, F64) for v in (a0, b0, 0.3))
        t = tf.constant(t, F64)
        with tf.GradientTape() as tape:
            tape.watch([a, b, r])
            value = lp(a, b, r, t, planned=True)
        grads = [float(g) for g in tape.gradient(value, [a, b, r])]
        assert all(np.isfinite(grads)), grads
        h = 1e-6
        fd = [(float(lp(a + h * e[0], b + h * e[1], r + h * e[2], t, False))
               - float(lp(a - h * e[0], b - h * e[1], r - h * e[2], t, False))) / (2 * h)
              for e in ((1, 0, 0), (0, 1, 0), (0, 0, 1))]
        np.testing.assert_allclose(grads, fd, rtol=1e-3, atol=1e-3)
