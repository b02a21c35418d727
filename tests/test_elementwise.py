"""Vectorised softplus / log_sigmoid / logaddexp against 50-digit references.

Catalogue: values at points spread over the whole range (and the special values) against
Python's ``decimal`` at 50 digits; gradients and second derivatives against closed forms;
eager, graph and XLA; float64 and float32; bad input.
"""
import decimal

import numpy as np
import pytest

import bayesquad  # noqa: F401  (quiet TF import)
from bayesquad import _elementwise as E

import tensorflow as tf  # noqa: E402

CTX = decimal.Context(prec=50)
INF, NAN = np.inf, np.nan
RNG = np.random.default_rng(11)


def exact_softplus(x):
    d = decimal.Decimal(float(x))
    if d > 0:  # log(1 + e^x) = x + log(1 + e^-x), no overflow of e^x
        return float(d + CTX.ln(CTX.add(1, CTX.exp(-d))))
    e = CTX.exp(d)
    if e < decimal.Decimal("1e-12"):  # 1 + e rounds to 1 at 50 digits: the series
        return float(e - e * e / 2 + e * e * e / 3)
    return float(CTX.ln(CTX.add(1, e)))


def exact_logaddexp(a, b):
    hi, lo = max(a, b), min(a, b)
    d_hi, d_lo = decimal.Decimal(float(hi)), decimal.Decimal(float(lo))
    return float(d_hi + CTX.ln(CTX.add(1, CTX.exp(d_lo - d_hi))))


POINTS = np.concatenate([RNG.normal(0.0, 4.0, 400), RNG.uniform(-45.0, 45.0, 200),
                         [0.0, 1e-300, -1e-300, 1e-8, -1e-8, 0.5, -0.5, 1.0, -1.0,
                          36.0, -36.0, 700.0, -700.0, 1e300, -1e300]])
ULPS = {tf.float64: 2.0, tf.float32: 3.0}
MODES = ["eager", "graph", "xla"]


def run(fn, mode):
    if mode == "eager":
        return fn
    return tf.function(fn, jit_compile=(mode == "xla"))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [tf.float64, tf.float32])
def test_softplus_catalogue_within_ulps(mode, dtype):
    npd = dtype.as_numpy_dtype
    x = POINTS[np.abs(POINTS) < np.finfo(npd).max].astype(npd)  # reference at the rounded x
    exact = np.array([exact_softplus(v) for v in x])
    got = run(E.softplus, mode)(tf.constant(x)).numpy().astype(np.float64)
    normal = exact > np.finfo(npd).tiny  # below it an ulp is not the relative measure
    ulp = np.spacing(np.abs(exact[normal]).astype(npd)).astype(np.float64)
    assert np.max(np.abs(got[normal] - exact[normal]) / ulp) <= ULPS[dtype]
    assert np.all(np.abs(got[~normal] - exact[~normal]) <= np.finfo(npd).tiny)


@pytest.mark.parametrize("mode", MODES)
def test_softplus_and_log_sigmoid_special_values(mode):
    x = tf.constant([INF, -INF, NAN, 0.0], tf.float64)
    sp = run(E.softplus, mode)(x).numpy()
    assert sp[0] == INF and sp[1] == 0.0 and np.isnan(sp[2])
    np.testing.assert_allclose(sp[3], np.log(2.0), rtol=1e-15)
    ls = run(E.log_sigmoid, mode)(x).numpy()
    assert ls[0] == 0.0 and ls[1] == -INF and np.isnan(ls[2])
    np.testing.assert_allclose(ls[3], -np.log(2.0), rtol=1e-15)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [tf.float64, tf.float32])
def test_logaddexp_catalogue_within_ulps_of_the_larger(mode, dtype):
    npd = dtype.as_numpy_dtype
    a = np.concatenate([RNG.normal(0.0, 20.0, 300), [0.0, -745.0, 5.0, 1e-300]]).astype(npd)
    b = np.concatenate([RNG.normal(0.0, 20.0, 300), [0.0, 0.0, 5.0 + 1e-12, -1e-300]]).astype(npd)
    exact = np.array([exact_logaddexp(p, q) for p, q in zip(a, b)])
    got = run(E.logaddexp, mode)(tf.constant(a), tf.constant(b)).numpy().astype(np.float64)
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), 1.0).astype(npd)
    assert np.max(np.abs(got - exact) / np.spacing(scale).astype(np.float64)) <= ULPS[dtype]


@pytest.mark.parametrize("mode", MODES)
def test_logaddexp_special_values_like_numpy(mode):
    pairs = [(-INF, -INF), (INF, 1.0), (1.0, INF), (INF, INF), (-INF, 2.0), (2.0, -INF),
             (NAN, 1.0), (1.0, NAN), (INF, -INF), (-INF, NAN)]
    a = tf.constant([p for p, _ in pairs], tf.float64)
    b = tf.constant([q for _, q in pairs], tf.float64)
    got = run(E.logaddexp, mode)(a, b).numpy()
    with np.errstate(invalid="ignore"):
        want = np.logaddexp(a.numpy(), b.numpy())
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got[~np.isnan(want)], want[~np.isnan(want)])


def test_logaddexp_broadcasts_and_folds_a_list():
    a = tf.constant(RNG.normal(size=[3, 1]))
    b = tf.constant(RNG.normal(size=[4]))
    c = tf.constant(RNG.normal(size=[3, 4]))
    got = E.logsumexp_list([a, b, c]).numpy()
    want = np.log(np.exp(a.numpy()) + np.exp(b.numpy()) + np.exp(c.numpy()))
    np.testing.assert_allclose(got, want, rtol=1e-14)
    assert E.logaddexp(a, b).shape == (3, 4)
    np.testing.assert_array_equal(E.logsumexp_list([c]).numpy(), c.numpy())


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [tf.float64, tf.float32])
def test_softplus_first_and_second_derivatives_are_the_closed_forms(mode, dtype):
    x = tf.constant(np.concatenate([np.linspace(-30.0, 30.0, 61), [1e-9, -1e-9]]), dtype)

    def derivatives(x):
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = E.softplus(x)
            g = inner.gradient(y, x)
        return g, outer.gradient(g, x)

    g, h = run(derivatives, mode)(x)
    s = sigmoid(x.numpy().astype(np.float64))
    tol = 1e-15 if dtype == tf.float64 else 1e-7
    np.testing.assert_allclose(g.numpy(), s, rtol=4 * tol, atol=tol)
    # including x = 0, where |x|'s zero subgradient would lose the 1/4
    np.testing.assert_allclose(h.numpy(), s * (1.0 - s), rtol=8 * tol, atol=tol)


@pytest.mark.parametrize("mode", MODES)
def test_logaddexp_derivatives_are_the_softmax_weights(mode):
    a = tf.constant([0.3, -2.0, 40.0, -INF, 1.0], tf.float64)
    b = tf.constant([1.0, -2.0, -3.0, -INF, -INF], tf.float64)

    def derivatives(a, b):
        with tf.GradientTape(persistent=True) as outer:
            outer.watch([a, b])
            with tf.GradientTape() as inner:
                inner.watch([a, b])
                y = E.logaddexp(a, b)
            ga, gb = inner.gradient(y, [a, b])
        return ga, gb, outer.gradient(ga, a)

    ga, gb, haa = run(derivatives, mode)(a, b)
    w = sigmoid(np.array([0.3 - 1.0, 0.0, 43.0, 0.0, INF]))  # both -inf: 1/2 each
    np.testing.assert_allclose(ga.numpy(), w, rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(gb.numpy(), 1.0 - w, rtol=1e-15, atol=1e-300)
    t = np.exp(-np.abs([0.3 - 1.0, 0.0, 43.0]))
    np.testing.assert_allclose(haa.numpy()[:3], t / (1.0 + t) ** 2, rtol=1e-14)


def test_gradient_against_central_difference(central_difference):
    x0 = RNG.normal(0.0, 2.0, 20)
    b0 = RNG.normal(0.0, 2.0, 20)

    def total(x):
        x = tf.constant(x)
        return tf.reduce_sum(E.softplus(x) + E.logaddexp(x, tf.constant(b0)) ** 2)

    x = tf.constant(x0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = total(x)
    g = tape.gradient(y, x).numpy()
    fd = [central_difference(lambda v: total(v).numpy(), x0, index=i) for i in range(20)]
    np.testing.assert_allclose(g, fd, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16])
def test_other_float_dtypes_use_tensorflow(dtype):
    x = tf.constant([-3.0, 0.0, 2.5], dtype)
    np.testing.assert_array_equal(E.softplus(x).numpy(), tf.math.softplus(x).numpy())
    got = E.logaddexp(x, tf.zeros_like(x)).numpy().astype(np.float64)
    np.testing.assert_allclose(got, np.logaddexp([-3.0, 0.0, 2.5], 0.0), rtol=2e-2, atol=2**-6)


def test_bad_input_names_the_argument():
    with pytest.raises(TypeError, match="x must be a floating-point"):
        E.softplus(tf.constant([1, 2]))
    with pytest.raises(TypeError, match="b must be a floating-point"):
        E.logaddexp(tf.constant(1.0), tf.constant(1))
    with pytest.raises(TypeError, match="same dtype"):
        E.logaddexp(tf.constant(1.0, tf.float32), tf.constant(1.0, tf.float64))
    with pytest.raises(ValueError, match="at least one"):
        E.logsumexp_list([])
