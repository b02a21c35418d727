"""Gradients of ``integrate`` against closed forms and central differences.

Covered: parameters passed through ``args``; finite limits (Leibniz: d/da = -f(a),
d/db = f(b)), also reversed; breakpoints given with ``points=`` (Leibniz on the jump);
1,000 per-element upper limits in one call; a batch of parameters; infinite ranges;
tensors captured by closure (a ``tf.Variable``); forward mode (``ForwardAccumulator``);
second derivatives (Hessian); AD versus a central difference of the value itself.

Negative control (documented behaviour, not a feature): a step ``c * H(x - s)`` integrated
*without* ``points=[s]`` has a zero gradient with respect to ``s``, because the step is
piecewise constant in ``s`` at every node; the true derivative is ``-c``. That is why
``points=`` exists.
"""
import math

import numpy as np
import pytest
from scipy import special

import bayesquad
import tensorflow as tf

F64 = tf.float64

# method -> (options, relative tolerance on gradients)
GRAD_METHODS = {
    "trapezoid": ({"panels": 4096}, 1e-6),
    "simpson": ({"panels": 1024}, 1e-9),
    "gauss-legendre": ({"nodes": 32}, 1e-12),
    "gauss-kronrod": ({"nodes": 61}, 1e-12),
    "adaptive-gk": ({"rtol": 1e-12}, 1e-9),
    "tanh-sinh": ({"rtol": 1e-12}, 1e-9),
    "auto": ({"rtol": 1e-12}, 1e-9),
}
METHODS = list(GRAD_METHODS)


def c64(v):
    return tf.constant(v, F64)


def zero_if_none(g, like):
    return np.zeros_like(np.asarray(like)) if g is None else np.asarray(g)


@pytest.mark.parametrize("method", METHODS)
def test_gradient_wrt_args(method):
    opts, tol = GRAD_METHODS[method]
    p0, p1 = c64(1.7), c64(2.3)
    with tf.GradientTape() as tape:
        tape.watch([p0, p1])
        res = bayesquad.integrate(lambda x, a, b: a * tf.sin(b * x), 0.0, 1.0,
                                  args=(p0, p1), method=method, **opts)
    g0, g1 = tape.gradient(res.value, [p0, p1])
    a, b = 1.7, 2.3
    exact = a * (1 - math.cos(b)) / b
    d0 = (1 - math.cos(b)) / b
    d1 = a * (math.sin(b) / b - (1 - math.cos(b)) / b**2)
    # d1 = 0.0157 is a difference of O(1) terms: compare on the scale of the integrand
    assert float(res.value) == pytest.approx(exact, rel=tol)
    assert float(g0) == pytest.approx(d0, rel=tol, abs=tol)
    assert float(g1) == pytest.approx(d1, rel=tol, abs=tol)


@pytest.mark.parametrize("reverse", [False, True], ids=["ordered", "reversed"])
@pytest.mark.parametrize("method", METHODS)
def test_gradient_wrt_limits_leibniz(method, reverse):
    opts, tol = GRAD_METHODS[method]
    a0, b0 = (1.1, 0.2) if reverse else (0.2, 1.1)
    a, b = c64(a0), c64(b0)
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        res = bayesquad.integrate(lambda x: tf.exp(-x * x), a, b, method=method, **opts)
    ga, gb = tape.gradient(res.value, [a, b])
    exact = 0.5 * math.sqrt(math.pi) * (special.erf(b0) - special.erf(a0))
    assert float(res.value) == pytest.approx(exact, rel=tol)
    assert float(ga) == pytest.approx(-math.exp(-a0 * a0), rel=tol)
    assert float(gb) == pytest.approx(math.exp(-b0 * b0), rel=tol)


OPEN_METHODS = [m for m in METHODS if m not in ("trapezoid", "simpson")]


@pytest.mark.parametrize("method", OPEN_METHODS)
def test_gradient_wrt_breakpoints(method):
    """int_0^1 c H(x - s) dx = c (1 - s): d/ds = -c, d/dc = 1 - s, for 3 s at once.

    Open rules only: a closed rule (trapezoid, Simpson) samples f exactly at the
    breakpoint, where a jump has no well-defined value; those get the kink test below.
    """
    opts, tol = GRAD_METHODS[method]
    s0 = np.array([0.2, 0.5, 0.77])
    s, c = c64(s0), c64(2.5)

    def step(x, s_, c_):
        return tf.where(x > s_, c_ * tf.ones_like(x), tf.zeros_like(x))

    with tf.GradientTape() as tape:
        tape.watch([s, c])
        res = bayesquad.integrate(step, 0.0, 1.0, args=(s, c), points=s[:, None],
                                  method=method, **opts)
        total = tf.reduce_sum(res.value)
    gs, gc = tape.gradient(total, [s, c])
    np.testing.assert_allclose(res.value, 2.5 * (1 - s0), rtol=max(tol, 1e-12))
    np.testing.assert_allclose(gs, -2.5 * np.ones(3), rtol=max(tol, 1e-12))
    assert float(gc) == pytest.approx(np.sum(1 - s0), rel=max(tol, 1e-12))


@pytest.mark.parametrize("method", METHODS)
def test_gradient_wrt_breakpoint_of_kink(method):
    """int_0^1 c max(x - s, 0) dx = c (1 - s)^2 / 2: d/ds = -c (1 - s)."""
    opts, tol = GRAD_METHODS[method]
    s0 = np.array([0.2, 0.5, 0.77])
    s = c64(s0)
    with tf.GradientTape() as tape:
        tape.watch(s)
        res = bayesquad.integrate(lambda x, s_: 2.5 * tf.maximum(x - s_, 0.0), 0.0, 1.0,
                                  args=(s,), points=s[:, None], method=method, **opts)
        total = tf.reduce_sum(res.value)
    gs = tape.gradient(total, s)
    np.testing.assert_allclose(res.value, 1.25 * (1 - s0) ** 2, rtol=max(tol, 1e-12))
    np.testing.assert_allclose(gs, -2.5 * (1 - s0), rtol=max(tol, 1e-12))


def test_breakpoint_gradient_without_points_is_zero_negative_control():
    s = c64(0.4)
    with tf.GradientTape() as tape:
        tape.watch(s)
        res = bayesquad.integrate(
            lambda x: tf.where(x > s, 2.0 * tf.ones_like(x), tf.zeros_like(x)), 0.0, 1.0,
            method="adaptive-gk", rtol=1e-6)
    g = zero_if_none(tape.gradient(res.value, s), s)
    # the value itself can still be right (the mesh resolves the jump) ...
    assert abs(float(res.value) - 1.2) <= max(float(res.error), 1e-12) or int(
        res.status) != int(bayesquad.Status.CONVERGED)
    # ... but the gradient misses the jump term -c entirely
    assert float(g) == 0.0


@pytest.mark.parametrize("method", METHODS)
def test_thousand_upper_limits_in_one_call(method):
    opts, tol = GRAD_METHODS[method]
    t0 = np.linspace(0.01, 10.0, 1000)
    t = c64(t0)
    with tf.GradientTape() as tape:
        tape.watch(t)
        res = bayesquad.integrate(lambda u: tf.exp(-u), 0.0, t, method=method, **opts)
        total = tf.reduce_sum(res.value)
    g = tape.gradient(total, t)
    assert res.value.shape == (1000,) and res.status.shape == (1000,)
    np.testing.assert_allclose(res.value, -np.expm1(-t0), rtol=max(tol, 1e-13))
    # fixed rules: O(h^2)/O(h^4) absolute error on d/dt, large relative to e^-t at t ~ 10
    np.testing.assert_allclose(g, np.exp(-t0), rtol=max(tol, 1e-13) * 10, atol=tol * 10)


@pytest.mark.parametrize("method", METHODS)
def test_batch_of_parameters(method):
    opts, tol = GRAD_METHODS[method]
    k0 = np.linspace(0.1, 8.0, 50)
    k = c64(k0)
    with tf.GradientTape() as tape:
        tape.watch(k)
        res = bayesquad.integrate(lambda x, k_: tf.exp(-k_ * x), 0.0, 1.0, args=(k,),
                                  method=method, **opts)
        total = tf.reduce_sum(res.value)
    g = tape.gradient(total, k)
    exact = -np.expm1(-k0) / k0
    dexact = np.exp(-k0) / k0 + np.expm1(-k0) / k0**2
    np.testing.assert_allclose(res.value, exact, rtol=tol)
    np.testing.assert_allclose(g, dexact, rtol=tol * 10)


INF_METHODS = {
    "gauss-legendre": ({"nodes": 64, "panels": 4}, 1e-6),
    "gauss-kronrod": ({"nodes": 61, "panels": 4}, 1e-6),
    "adaptive-gk": ({"rtol": 1e-12}, 1e-9),
    "tanh-sinh": ({"rtol": 1e-12}, 1e-9),
    "auto": ({"rtol": 1e-12}, 1e-9),
}


@pytest.mark.parametrize("method", list(INF_METHODS))
def test_infinite_range_gradients(method):
    """int_a^inf exp(-k x) dx = exp(-k a)/k; d/da = -exp(-k a), d/dk = -(a + 1/k) e^{-ka}/k."""
    opts, tol = INF_METHODS[method]
    a0, k0 = 0.7, 1.9
    a, k = c64(a0), c64(k0)
    with tf.GradientTape() as tape:
        tape.watch([a, k])
        res = bayesquad.integrate(lambda x, k_: tf.exp(-k_ * x), a, math.inf, args=(k,),
                                  method=method, **opts)
    ga, gk = tape.gradient(res.value, [a, k])
    e = math.exp(-k0 * a0)
    assert float(res.value) == pytest.approx(e / k0, rel=tol)
    assert float(ga) == pytest.approx(-e, rel=tol)
    assert float(gk) == pytest.approx(-(a0 + 1 / k0) * e / k0, rel=tol)


@pytest.mark.parametrize("method", METHODS)
def test_captured_variable(method):
    opts, tol = GRAD_METHODS[method]
    v = tf.Variable(1.3, dtype=F64)
    with tf.GradientTape() as tape:
        res = bayesquad.integrate(lambda x: tf.exp(v * x), 0.0, 1.0, method=method, **opts)
    g = tape.gradient(res.value, v)
    v0 = 1.3
    assert float(res.value) == pytest.approx(math.expm1(v0) / v0, rel=tol)
    assert float(g) == pytest.approx((v0 * math.exp(v0) - math.expm1(v0)) / v0**2, rel=tol)


@pytest.mark.parametrize("method", METHODS)
def test_forward_mode(method):
    """JVP in direction (1, 1) of (p, b) -> int_0^b exp(-p x) dx."""
    opts, tol = GRAD_METHODS[method]
    p0, b0 = 0.8, 1.5
    p, b = c64(p0), c64(b0)
    with tf.autodiff.ForwardAccumulator(primals=[p, b],
                                        tangents=[c64(1.0), c64(1.0)]) as acc:
        res = bayesquad.integrate(lambda x, p_: tf.exp(-p_ * x), 0.0, b, args=(p,),
                                  method=method, **opts)
    jvp = float(acc.jvp(res.value))
    expected = _dvalue_dp(p0, b0) + math.exp(-p0 * b0)   # d/dp + d/db (Leibniz)
    assert float(res.value) == pytest.approx(-math.expm1(-p0 * b0) / p0, rel=tol)
    assert jvp == pytest.approx(expected, rel=tol)


def _dvalue_dp(p, b):
    # d/dp (1 - exp(-p b))/p = b exp(-p b)/p - (1 - exp(-p b))/p^2
    return b * math.exp(-p * b) / p - (1 - math.exp(-p * b)) / p**2


HESS_METHODS = {"gauss-legendre": {"nodes": 32, "panels": 4},
                "adaptive-gk": {"rtol": 1e-12}}


@pytest.mark.parametrize("method", list(HESS_METHODS))
def test_hessian_of_log_gaussian_integral(method):
    """log int_{-10}^{10} exp(-t1 x^2 + t2 x) dx = log sqrt(pi/t1) + t2^2/(4 t1) (erf tails
    below 1e-40 here)."""
    t1, t2 = 1.5, 0.5
    theta = c64([t1, t2])
    with tf.GradientTape() as outer:
        outer.watch(theta)
        with tf.GradientTape() as inner:
            inner.watch(theta)
            # two scalar args: a [2]-shaped arg would make a batch of two integrals
            res = bayesquad.integrate(lambda x, a, b: tf.exp(-a * x * x + b * x),
                                      -10.0, 10.0, args=(theta[0], theta[1]), method=method,
                                      **HESS_METHODS[method])
            logz = tf.math.log(res.value)
        grad = inner.gradient(logz, theta)
    hess = outer.jacobian(grad, theta)
    exact_grad = [-1 / (2 * t1) - t2**2 / (4 * t1**2), t2 / (2 * t1)]
    exact_hess = [[1 / (2 * t1**2) + t2**2 / (2 * t1**3), -t2 / (2 * t1**2)],
                  [-t2 / (2 * t1**2), 1 / (2 * t1)]]
    np.testing.assert_allclose(grad, exact_grad, rtol=1e-10)
    np.testing.assert_allclose(hess, exact_hess, rtol=1e-8)


@pytest.mark.parametrize("method", ["gauss-legendre", "adaptive-gk", "tanh-sinh", "auto"])
def test_gradient_matches_central_difference(method):
    """d/dp int_0^2 exp(-p x)/(1 + x^2) dx: no handy closed form, so compare AD with a
    central difference of the value (step 1e-4, rtol 1e-13: truncation ~1e-9)."""
    opts = {"rtol": 1e-13} if method != "gauss-legendre" else {"nodes": 64}

    def value(p):
        return bayesquad.integrate(lambda x, p_: tf.exp(-p_ * x) / (1 + x * x), 0.0, 2.0,
                                   args=(p,), method=method, **opts).value

    p = c64(0.6)
    with tf.GradientTape() as tape:
        tape.watch(p)
        v = value(p)
    g = float(tape.gradient(v, p))
    h = 1e-4
    fd = (float(value(c64(0.6 + h))) - float(value(c64(0.6 - h)))) / (2 * h)
    assert g == pytest.approx(fd, rel=1e-7)
