"""Bad input is refused with a message naming the argument; statuses mean what they say.

Messages are matched on the argument name only (the wording is free).
"""
import math

import numpy as np
import pytest

import bayesquad
import tensorflow as tf

Status = bayesquad.Status
F64 = tf.float64


def expf(x):
    return tf.exp(x)


# ---- argument validation ------------------------------------------------------------

def test_unknown_method():
    with pytest.raises(ValueError, match="method"):
        bayesquad.integrate(expf, 0.0, 1.0, method="romberg-ish")


@pytest.mark.parametrize("which", ["lower", "upper"])
def test_integer_tensor_limits(which):
    limits = {"lower": tf.constant(0.0, F64), "upper": tf.constant(1.0, F64)}
    limits[which] = tf.constant(0 if which == "lower" else 1, tf.int32)
    with pytest.raises((TypeError, ValueError), match=which):
        bayesquad.integrate(expf, limits["lower"], limits["upper"])


@pytest.mark.parametrize("name", ["rtol", "atol"])
def test_negative_tolerances(name):
    with pytest.raises(ValueError, match=name):
        bayesquad.integrate(expf, 0.0, 1.0, **{name: -1e-8})


@pytest.mark.parametrize("method", ["gauss-legendre", "adaptive-gk", "auto"])
def test_integrand_returning_wrong_shape(method):
    # batch is [3]; f collapses the batch axis and returns [m]
    lower = np.zeros(3)
    with pytest.raises((ValueError, TypeError), match=r"\bf\b"):
        bayesquad.integrate(lambda x: tf.reduce_sum(x, axis=-1), lower, 1.0, method=method)


def test_kronrod_size_must_be_tabulated():
    with pytest.raises(ValueError, match="nodes"):
        bayesquad.integrate(expf, 0.0, 1.0, method="gauss-kronrod", nodes=22)


@pytest.mark.parametrize("bad", [0, -4])
def test_nonpositive_nodes(bad):
    with pytest.raises(ValueError, match="nodes"):
        bayesquad.integrate(expf, 0.0, 1.0, method="gauss-legendre", nodes=bad)


def test_nonpositive_panels():
    with pytest.raises(ValueError, match="panels"):
        bayesquad.integrate(expf, 0.0, 1.0, method="trapezoid", panels=0)


def test_nonpositive_max_evals():
    with pytest.raises(ValueError, match="max_evals"):
        bayesquad.integrate(expf, 0.0, 1.0, method="adaptive-gk", max_evals=0)


# ---- statuses -------------------------------------------------------------------------

def test_status_codes_are_the_documented_ints():
    assert [int(Status.CONVERGED), int(Status.BUDGET_EXHAUSTED), int(Status.NON_FINITE),
            int(Status.ROUNDOFF), int(Status.INVALID_LIMITS)] == [0, 1, 2, 3, 4]


def test_status_message_for_every_code():
    for s in Status:
        for code in (s, int(s), tf.constant(int(s), tf.int32), np.int32(int(s))):
            msg = bayesquad.status_message(code)
            assert isinstance(msg, str) and msg.strip()
    assert len({bayesquad.status_message(s) for s in Status}) == len(Status)


@pytest.mark.parametrize("method", ["trapezoid", "simpson", "gauss-legendre", "gauss-kronrod",
                                    "adaptive-gk", "tanh-sinh", "auto"])
def test_overflowing_integrand_is_non_finite(method):
    """exp(1000 x) overflows float64 for x > 0.71: never a silent success."""
    res = bayesquad.integrate(lambda x: tf.exp(1000.0 * x), 0.0, 1.0, method=method)
    status = int(res.status)
    assert status != int(Status.CONVERGED)
    assert status == int(Status.NON_FINITE), bayesquad.status_message(status)


def test_nan_integrand_is_non_finite():
    res = bayesquad.integrate(lambda x: tf.math.log(x - 0.5), 0.0, 1.0, method="adaptive-gk")
    assert int(res.status) == int(Status.NON_FINITE)


def test_tiny_budget_is_budget_exhausted():
    res = bayesquad.integrate(lambda x: 1.0 / (1e-4 + (x - 0.3) ** 2), 0.0, 1.0,
                              method="adaptive-gk", max_evals=21, rtol=1e-8)
    assert int(res.status) == int(Status.BUDGET_EXHAUSTED)
    assert int(res.n_evals) <= 21
    # the error bar still says the answer is poor
    exact = 100.0 * (math.atan(70.0) + math.atan(30.0))
    assert float(res.error) > 1e-8 * exact


def test_batch_statuses_are_per_element():
    # element 0 easy, element 1 overflows, element 2 has a NaN limit
    lower = tf.constant([0.0, 0.0, np.nan], F64)
    scale = tf.constant([1.0, 1000.0, 1.0], F64)
    res = bayesquad.integrate(lambda x, s: tf.exp(s * x), lower, 1.0, args=(scale,),
                              method="adaptive-gk")
    status = np.asarray(res.status)
    assert status.shape == (3,)
    assert status[0] == Status.CONVERGED
    assert status[1] == Status.NON_FINITE
    assert status[2] == Status.INVALID_LIMITS
    assert float(res.value[0]) == pytest.approx(math.e - 1, rel=1e-8)


def test_nan_limit_is_invalid_limits():
    res = bayesquad.integrate(expf, 0.0, float("nan"), method="auto")
    assert int(res.status) == int(Status.INVALID_LIMITS)


def test_log_with_reversed_limits_is_invalid():
    res = bayesquad.integrate(lambda x: -x * x, 1.0, 0.0, log=True, method="adaptive-gk")
    assert int(res.status) == int(Status.INVALID_LIMITS)


def test_equal_limits_give_zero():
    res = bayesquad.integrate(expf, 0.4, 0.4, method="auto")
    assert float(res.value) == 0.0
    assert int(res.status) == int(Status.CONVERGED)


def test_result_fields():
    res = bayesquad.integrate(expf, 0.0, 1.0)
    assert isinstance(res, bayesquad.IntegrationResult)
    assert res._fields == ("value", "error", "n_evals", "status")
    assert res.value.dtype == tf.float64 and res.error.dtype == tf.float64
    assert res.status.dtype == tf.int32 and res.n_evals.dtype == tf.int32
    assert int(res.status) == 0
    assert float(res.value) == pytest.approx(math.e - 1, rel=1e-8)
