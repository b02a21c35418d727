"""float32 sanity: inputs as tf.float32 give float32 outputs, no NaN, answers within a
loose tolerance (default rtol = sqrt(eps32) ~ 3.5e-4), honest error bars when CONVERGED,
and working gradients."""
import math

import numpy as np
import pytest

import bayesquad
import tensorflow as tf

from problems import BY_NAME

F32 = tf.float32
CONVERGED = int(bayesquad.Status.CONVERGED)
NAMES = ["exp", "gauss_0_1", "lorentz_0_1", "peak_lorentz", "log", "exp_neg_0_inf",
         "lorentz_line", "step_points", "exp_reversed"]
METHODS = ["gauss-legendre", "gauss-kronrod", "simpson", "adaptive-gk", "tanh-sinh", "auto"]


def _applies(p, method):
    if method in ("adaptive-gk", "auto"):
        return True
    if method == "tanh-sinh":
        return bool(p.tags & {"smooth", "singular"})
    return "smooth" in p.tags


CASES = [(BY_NAME[n], m) for n in NAMES for m in METHODS if _applies(BY_NAME[n], m)]


@pytest.mark.parametrize("p,method", CASES, ids=[f"{p.name}-{m}" for p, m in CASES])
def test_float32_problem(p, method):
    lower, upper = tf.constant(p.lower, F32), tf.constant(p.upper, F32)
    args = tuple(tf.constant(a, F32) for a in p.args)
    kw = {}
    if p.points is not None:
        kw["points"] = tf.constant(p.points, F32)
    res = bayesquad.integrate(p.f, lower, upper, args=args, method=method, **kw)
    assert res.value.dtype == F32 and res.error.dtype == F32
    assert res.status.dtype == tf.int32
    value, error, status = float(res.value), float(res.error), int(res.status)
    assert not math.isnan(value) and not math.isnan(error)
    if method in ("adaptive-gk", "auto"):
        assert status == CONVERGED, bayesquad.status_message(status)
    if status == CONVERGED:
        true = abs(value - p.exact)
        # float32 roundoff in the sum of a few hundred terms: ~1e-6 relative slack
        assert true <= max(error, 2e-6 * abs(p.exact)), (value, p.exact, error)
        assert true <= 2e-3 * abs(p.exact)


def test_dtype_argument_with_python_limits():
    res = bayesquad.integrate(lambda x: tf.exp(x), 0.0, 1.0, dtype=tf.float32)
    assert res.value.dtype == F32
    assert float(res.value) == pytest.approx(math.e - 1, rel=1e-4)


def test_float64_is_default_for_python_numbers():
    res = bayesquad.integrate(lambda x: tf.exp(x), 0.0, 1.0)
    assert res.value.dtype == tf.float64


@pytest.mark.parametrize("method", ["gauss-legendre", "adaptive-gk", "auto"])
def test_float32_gradients(method):
    k, b = tf.constant(1.5, F32), tf.constant(2.0, F32)
    with tf.GradientTape() as tape:
        tape.watch([k, b])
        res = bayesquad.integrate(lambda x, k_: tf.exp(-k_ * x), 0.0, b, args=(k,),
                                  method=method)
    gk, gb = tape.gradient(res.value, [k, b])
    assert gk.dtype == F32 and gb.dtype == F32
    k0, b0 = 1.5, 2.0
    dk = b0 * math.exp(-k0 * b0) / k0 - (1 - math.exp(-k0 * b0)) / k0**2
    assert float(gk) == pytest.approx(dk, rel=1e-4)
    assert float(gb) == pytest.approx(math.exp(-k0 * b0), rel=1e-4)


def test_float32_log_space_and_xla():
    @tf.function(jit_compile=True)
    def fn(a):
        return bayesquad.integrate(lambda x, a_: -100.0 * (x - a_) ** 2, 0.0, 10.0,
                                   args=(a,), log=True, method="auto")

    res = fn(tf.constant([3.0, 5.0], F32))
    assert res.value.dtype == F32
    np.testing.assert_allclose(res.value, 0.5 * math.log(math.pi / 100.0), atol=1e-4)
    assert np.all(np.asarray(res.status) == CONVERGED)


def test_float32_overflow_is_non_finite():
    # exp(100 x) overflows float32 (max ~3.4e38 = e^88.7) but not float64
    res = bayesquad.integrate(lambda x: tf.exp(100.0 * x), tf.constant(0.0, F32),
                              tf.constant(1.0, F32), method="auto")
    assert int(res.status) == int(bayesquad.Status.NON_FINITE)
