"""Frozen rules (``bayesquad.quadrature.GaussLegendre``): the bare sums plans evaluate.

Exact values are closed forms; a frozen rule reports no error, so its "honesty" is the
caller's: here the rule must match ``integrate``'s Gauss–Legendre sum on the same nodes
(the one with an error estimate) and converge at the textbook rate.
"""
import math

import numpy as np
import pytest

import bayesquad
import tensorflow as tf
from bayesquad.quadrature import GaussLegendre

F64 = tf.float64

CATALOGUE = [
    # (f, lower, upper, exact, rule)
    (lambda x: tf.exp(x), 0.0, 1.0, math.e - 1.0, GaussLegendre(8)),
    (lambda x: x ** 5 - 2.0 * x ** 3 + x, -1.0, 2.0, 4.5, GaussLegendre(3)),  # degree 5: exact
    (lambda x: 1.0 / (1.0 + x * x), 0.0, 1.0, math.pi / 4, GaussLegendre(16)),
    (lambda x: tf.cos(x) ** 2, 0.0, 80 * math.pi, 40 * math.pi, GaussLegendre(16, panels=40)),
    (lambda x: tf.exp(-0.5 * tf.square((x - 5.0) / 0.5)), 0.0, 10.0,
     0.5 * math.sqrt(2 * math.pi) * math.erf(10 / math.sqrt(2)), GaussLegendre(20, panels=4)),
]


@pytest.mark.parametrize("case", CATALOGUE, ids=[f"case{i}" for i in range(len(CATALOGUE))])
def test_catalogue(case):
    f, lo, hi, exact, rule = case
    value = rule.integrate(f, tf.constant(lo, F64), hi)
    assert float(value) == pytest.approx(exact, rel=1e-13, abs=1e-14)


def test_log_mode_and_batch():
    """log int_0^1 exp(-a x) dx = log((1 - e^-a)/a) for a batch of a."""
    a = tf.constant([0.5, 1.0, 4.0], F64)
    got = GaussLegendre(16).integrate(lambda x, a: -a * x, tf.zeros([], F64), 1.0, args=(a,),
                                      log=True)
    a_np = a.numpy()
    np.testing.assert_allclose(got.numpy(), np.log(-np.expm1(-a_np) / a_np), rtol=1e-14)


def test_same_sum_as_integrate():
    """The frozen sum and integrate's Gauss–Legendre value on the same nodes agree."""
    f = lambda x: tf.exp(tf.sin(3.0 * x))  # noqa: E731
    frozen = GaussLegendre(12, panels=3).integrate(f, tf.constant(0.0, F64), 2.0)
    res = bayesquad.integrate(f, 0.0, 2.0, method="gauss-legendre", nodes=12, panels=3)
    assert float(frozen) == pytest.approx(float(res.value), rel=1e-14)


def test_converges_geometrically_and_negative_control():
    """Errors on a smooth integrand fall by five orders of magnitude from 2 to 4 nodes; a kink
    (|x - 1/3|) caps them: nothing in the frozen rule would say so."""
    smooth = [abs(float(GaussLegendre(n).integrate(lambda x: tf.exp(x), tf.constant(
        0.0, F64), 1.0)) - (math.e - 1)) for n in (2, 4)]
    assert smooth[1] < 1e-5 * smooth[0]   # 3.9e-4 -> 9.3e-10
    kink = abs(float(GaussLegendre(32).integrate(lambda x: tf.abs(x - 1 / 3), tf.constant(
        0.0, F64), 1.0)) - (1 / 18 + 2 / 9))
    assert kink > 1e-6


def test_gradients_to_args_and_limits():
    """d/da int_0^b exp(a x) dx = (b a e^{ab} - e^{ab} + 1)/a^2; d/db = e^{ab}."""
    a, b = tf.constant(0.7, F64), tf.constant(1.3, F64)
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        value = GaussLegendre(16).integrate(lambda x, a: tf.exp(a * x), tf.zeros([], F64), b,
                                            args=(a,))
    ga, gb = tape.gradient(value, [a, b])
    av, bv = 0.7, 1.3
    assert float(ga) == pytest.approx((bv * av * math.exp(av * bv) - math.exp(av * bv) + 1)
                                      / av ** 2, rel=1e-13)
    assert float(gb) == pytest.approx(math.exp(av * bv), rel=1e-13)


def test_under_xla_and_float32():
    @tf.function(jit_compile=True)
    def run(a):
        with tf.GradientTape() as tape:
            tape.watch(a)
            v = GaussLegendre(16, panels=2).integrate(lambda x, a: -a * x * x,
                                                      tf.zeros_like(a), 1.0, args=(a,), log=True)
        return v, tape.gradient(v, a)

    for dtype, rtol in ((tf.float64, 1e-13), (tf.float32, 1e-5)):
        a = tf.constant([1.0, 2.0], dtype)
        v, g = run(a)
        assert v.dtype == dtype
        # log int_0^1 exp(-a x^2) = log(sqrt(pi/a) erf(sqrt(a)) / 2)
        exact = [math.log(math.sqrt(math.pi / s) * math.erf(math.sqrt(s)) / 2) for s in (1, 2)]
        np.testing.assert_allclose(v.numpy(), exact, rtol=rtol)
        assert np.all(np.isfinite(g.numpy()))


@pytest.mark.parametrize("kwargs", [dict(nodes=0), dict(nodes=5000), dict(nodes=4, panels=0),
                                    dict(nodes=2.5)])
def test_bad_sizes_name_themselves(kwargs):
    with pytest.raises(ValueError, match="nodes|panels"):
        GaussLegendre(**kwargs)


def test_integrand_must_return_one_value_per_node():
    with pytest.raises(ValueError, match="one value per node"):
        GaussLegendre(8).integrate(lambda x: tf.reduce_sum(x, 0), tf.zeros([3], F64), 1.0)


# -- infinite ranges: the rule after x = a + scale·u/(1-u) ------------------------------
INF = math.inf
MAPPED = [
    # (log f, lower, upper, exact log integral, rule)
    (lambda x: -x / 5.0 + 2.0 * tf.math.log(x), 0.0, INF, math.log(2.0 * 5.0 ** 3),
     GaussLegendre(48, scale=16.0)),                      # Gamma(3, 5) kernel
    (lambda x: -0.5 * tf.square(x - 1.0), 1.0, INF, math.log(math.sqrt(math.pi / 2)),
     GaussLegendre(48, scale=4.0)),                       # half-Gaussian from its mode
    (lambda x: x / 3.0, -INF, 2.0, math.log(3.0) + 2.0 / 3.0, GaussLegendre(48, scale=4.0)),
    (lambda x: -0.5 * tf.square(x / 2.0), -INF, INF, math.log(2.0 * math.sqrt(2 * math.pi)),
     GaussLegendre(48, scale=4.0)),                       # the whole line
    (lambda x: -2.0 * tf.math.log1p(tf.square(x)), -INF, INF, math.log(math.pi / 2),
     GaussLegendre(64, scale=1.0)),                       # a power-law tail (1+x^2)^-2
]


@pytest.mark.parametrize("case", MAPPED, ids=[f"mapped{i}" for i in range(len(MAPPED))])
def test_mapped_catalogue(case):
    log_f, lo, hi, exact, rule = case
    got = rule.integrate(log_f, tf.constant(lo, F64), tf.constant(hi, F64), log=True)
    assert float(got) == pytest.approx(exact, abs=1e-11)


def test_mapped_batch_mixes_finite_and_infinite_ranges():
    """One call, per-element kinds: [0, 1], [0, inf), (-inf, 0] of exp(-|x|) ... and a
    finite element ignores the scale."""
    lo = tf.constant([0.0, 0.0, -INF], F64)
    hi = tf.constant([1.0, INF, 0.0], F64)
    got = GaussLegendre(64, scale=2.0).integrate(lambda x: -tf.abs(x), lo, hi, log=True)
    np.testing.assert_allclose(got.numpy(), [math.log(1 - math.exp(-1)), 0.0, 0.0],
                               atol=1e-12)


def test_mapped_gradients_to_args_and_the_finite_end():
    """log int_a^inf exp(-r x) dx = -log r - r a: d/dr = -1/r - a, d/da = -r."""
    r, a = tf.constant(0.8, F64), tf.constant(0.3, F64)
    with tf.GradientTape() as tape:
        tape.watch([r, a])
        v = GaussLegendre(48, scale=2.0).integrate(lambda x, r: -r * x, a, INF, args=(r,),
                                                   log=True)
    gr, ga = tape.gradient(v, [r, a])
    assert float(v) == pytest.approx(-math.log(0.8) - 0.8 * 0.3, abs=1e-12)
    assert float(gr) == pytest.approx(-1 / 0.8 - 0.3, rel=1e-10)
    assert float(ga) == pytest.approx(-0.8, rel=1e-10)


def test_mapped_under_xla_and_float32():
    @tf.function(jit_compile=True)
    def run(r):
        with tf.GradientTape() as tape:
            tape.watch(r)
            v = GaussLegendre(48, scale=2.0).integrate(lambda x, r: -r * x, tf.zeros_like(r),
                                                       INF, args=(r,), log=True)
        return v, tape.gradient(v, r)

    for dtype, rtol in ((tf.float64, 1e-11), (tf.float32, 2e-5)):
        r = tf.constant([0.5, 2.0], dtype)
        v, g = run(r)
        assert v.dtype == dtype
        np.testing.assert_allclose(v.numpy(), -np.log([0.5, 2.0]), rtol=rtol, atol=rtol)
        np.testing.assert_allclose(g.numpy(), -1 / np.array([0.5, 2.0]), rtol=rtol)


def test_mapped_scale_matters_negative_control():
    """A scale 1000x off the integrand's decay length leaves a visible error: the plan's
    search, not the rule, must choose it."""
    got = GaussLegendre(16, scale=1000.0).integrate(lambda x: -x, tf.constant(0.0, F64), INF,
                                                   log=True)
    assert abs(float(got)) > 1e-3


def test_infinite_range_without_scale_is_refused():
    with pytest.raises(ValueError, match="scale"):
        GaussLegendre(16).integrate(lambda x: -x, tf.constant(0.0, F64), INF)
    with pytest.raises(ValueError, match="scale"):
        GaussLegendre(16, scale=-1.0)


def test_scale_is_part_of_the_rule():
    assert GaussLegendre(16, scale=2.0) != GaussLegendre(16)
    assert GaussLegendre(16, scale=2.0) == GaussLegendre(16, 1, 2.0)
    assert "u/(1−u)" in GaussLegendre(16, scale=2.0).describe()
    assert GaussLegendre(16, scale=2.0).to_dict()["scale"] == 2.0


# -- boxes: the tensor product of the rule on every axis --------------------------------
def test_box_catalogue_gradient_and_xla():
    """∫∫_[0,2]x[-1,1] exp(a x + y) = (e^{2a} - 1)/a · (e - 1/e); d/da and d/d(upper x)
    in closed form; the same under XLA and in float32."""
    def exact(a, hx):
        return (math.exp(a * hx) - 1) / a * (math.e - 1 / math.e)

    @tf.function(jit_compile=True)
    def run(a, lower, upper):
        with tf.GradientTape() as tape:
            tape.watch([a, upper])
            v = GaussLegendre(12, panels=2).integrate_box(
                lambda x, a: a * x[..., 0] + x[..., 1], lower, upper, args=(a,), log=True)
        return v, tape.gradient(v, [a, upper])

    for dtype, rtol in ((tf.float64, 1e-12), (tf.float32, 2e-5)):
        a = tf.constant([0.5, 1.5], dtype)
        lower, upper = tf.constant([0.0, -1.0], dtype), tf.constant([2.0, 1.0], dtype)
        v, (ga, gu) = run(a, lower, upper)
        want = np.log([exact(0.5, 2.0), exact(1.5, 2.0)])
        np.testing.assert_allclose(v.numpy(), want, rtol=rtol)
        # d log I / da = (hx e^{a hx})/(e^{a hx} - 1) - 1/a, summed over the batch
        d_a = [2 * math.exp(2 * s) / (math.exp(2 * s) - 1) - 1 / s for s in (0.5, 1.5)]
        np.testing.assert_allclose(ga.numpy(), d_a, rtol=10 * rtol)
        # d/d upper_x of sum_b log I_b = sum_b a e^{a hx}/(e^{a hx} - 1); d/d upper_y:
        # 2 · e/(e - 1/e)
        d_ux = sum(s * math.exp(2 * s) / (math.exp(2 * s) - 1) for s in (0.5, 1.5))
        d_uy = 2 * math.e / (math.e - 1 / math.e)
        np.testing.assert_allclose(gu.numpy(), [d_ux, d_uy], rtol=10 * rtol)


def test_box_value_mode_and_validation():
    got = GaussLegendre(8).integrate_box(lambda x: x[..., 0] * x[..., 1] ** 2,
                                         tf.constant([0.0, 0.0], F64), [1.0, 3.0])
    assert float(got) == pytest.approx(0.5 * 9.0, rel=1e-14)   # polynomial: exact
    with pytest.raises(ValueError, match="one value per node"):
        GaussLegendre(8).integrate_box(lambda x: x, tf.constant([0.0, 0.0], F64), [1.0, 1.0])
    with pytest.raises(ValueError, match="scale"):
        GaussLegendre(8).integrate_box(lambda x: x[..., 0], tf.constant([0.0, 0.0], F64),
                                       [1.0, math.inf])


def test_reversed_and_empty_ranges_without_scale():
    """A reversed range flips the sign; an empty one is 0 with a finite gradient."""
    one = lambda x: tf.ones_like(x)  # noqa: E731
    assert float(GaussLegendre(8).integrate(one, tf.constant(1.0, F64), 0.0)) == pytest.approx(-1.0)
    b = tf.constant(0.5, F64)
    with tf.GradientTape() as tape:
        tape.watch(b)
        v = GaussLegendre(8).integrate(lambda x: tf.exp(x), b, b)
    # the same tensor at both ends: f(b) - f(b) = 0, finite (it was NaN through log(0))
    assert float(v) == 0.0 and float(tape.gradient(v, b)) == pytest.approx(0.0, abs=1e-15)


def test_a_scaled_rule_refuses_limits_out_of_order():
    with pytest.raises(ValueError, match="lower < upper"):
        GaussLegendre(8, scale=1.0).integrate(lambda x: -x * x, tf.constant(INF, F64), 0.0)
    with pytest.raises(ValueError, match="lower < upper"):
        GaussLegendre(8, scale=1.0).integrate(lambda x: -x * x, tf.constant(-INF, F64), -INF)


def test_box_rules_are_capped():
    from bayesquad.distributions._box import box_candidates, mapped_box_candidates
    from bayesquad.quadrature._frozen import MAX_BOX_NODES
    for dim in (2, 3, 4):
        assert max(p.cost for p in box_candidates(dim)) <= MAX_BOX_NODES
        assert max(p.cost for p in mapped_box_candidates(dim)) <= MAX_BOX_NODES
    with pytest.raises(ValueError, match="at most"):
        GaussLegendre(64, 16).integrate_box(lambda x: x[..., 0], tf.zeros([3], F64),
                                            tf.ones([3], F64))


# -- integrate_exp / integrate_box_exp: ∫ exp(f) as a value ------------------------------
EXP_CASES = [  # (log f, lower, upper, exact integral, rule): the log-mode cases above
    (lambda x: -0.5 * x, 0.0, 1.0, 2.0 * (1.0 - math.exp(-0.5)), GaussLegendre(16)),
    (lambda x: 2.0 * tf.math.log(x), 0.5, 2.0, 2.625, GaussLegendre(2)),  # x^2: exact
] + [(f, lo, hi, math.exp(log_exact), rule) for f, lo, hi, log_exact, rule in MAPPED]


@pytest.mark.parametrize("case", EXP_CASES, ids=[f"exp{i}" for i in range(len(EXP_CASES))])
def test_exp_mode_catalogue(case):
    log_f, lo, hi, exact, rule = case
    got = rule.integrate_exp(log_f, tf.constant(lo, F64), tf.constant(hi, F64))
    assert float(got) == pytest.approx(exact, rel=1e-11)


def test_exp_mode_is_the_log_mode_exponentiated_on_a_mixed_batch():
    """Per-element finite and infinite ranges of exp(-|x|) (kink at the ends only), one
    call; the same sums as the log mode."""
    lo = tf.constant([0.0, 0.0, -INF], F64)
    hi = tf.constant([1.0, INF, 0.0], F64)
    rule = GaussLegendre(64, scale=2.0)
    log_f = lambda x: -tf.abs(x)  # noqa: E731
    got = rule.integrate_exp(log_f, lo, hi).numpy()
    np.testing.assert_allclose(got, [1 - math.exp(-1), 1.0, 1.0], rtol=1e-11)
    np.testing.assert_allclose(got, np.exp(rule.integrate(log_f, lo, hi, log=True).numpy()),
                               rtol=1e-13)


def test_exp_mode_gradients_in_closed_form_and_under_xla():
    """I = ∫_a^inf exp(-r x) dx = e^{-ra}/r: dI/dr = -(a + 1/r) I, dI/da = -e^{-ra}."""
    @tf.function(jit_compile=True)
    def run(r, a):
        with tf.GradientTape() as tape:
            tape.watch([r, a])
            v = GaussLegendre(48, scale=2.0).integrate_exp(lambda x, r: -r * x, a, INF,
                                                           args=(r,))
        return v, tape.gradient(v, [r, a])

    for dtype, rtol in ((tf.float64, 1e-10), (tf.float32, 2e-5)):
        r, a = tf.constant([0.8, 2.0], dtype), tf.constant([0.3, -0.25], dtype)
        v, (gr, ga) = run(r, a)
        assert v.dtype == dtype
        rn, an = r.numpy().astype(float), a.numpy().astype(float)
        exact = np.exp(-rn * an) / rn
        np.testing.assert_allclose(v.numpy(), exact, rtol=rtol)
        np.testing.assert_allclose(gr.numpy(), -(an + 1 / rn) * exact, rtol=10 * rtol)
        np.testing.assert_allclose(ga.numpy(), -np.exp(-rn * an), rtol=10 * rtol)


def test_exp_mode_finite_range_gradient_to_the_limit():
    """d/db ∫_0^b exp(a x) dx = e^{ab}; d/da = (b a e^{ab} - e^{ab} + 1)/a^2."""
    a, b = tf.constant(0.7, F64), tf.constant(1.3, F64)
    with tf.GradientTape() as tape:
        tape.watch([a, b])
        value = GaussLegendre(16).integrate_exp(lambda x, a: a * x, tf.zeros([], F64), b,
                                                args=(a,))
    ga, gb = tape.gradient(value, [a, b])
    e = math.exp(0.7 * 1.3)
    assert float(value) == pytest.approx((e - 1) / 0.7, rel=1e-14)
    assert float(ga) == pytest.approx((1.3 * 0.7 * e - e + 1) / 0.7 ** 2, rel=1e-13)
    assert float(gb) == pytest.approx(e, rel=1e-13)


def test_exp_mode_range_is_floats_negative_control():
    """What the Notes say: past the largest float the value is inf where the log mode
    still holds the log; a tiny Jacobian-weighted tail stays finite (one exponent)."""
    rule = GaussLegendre(8)
    one = tf.constant(1.0, F64)
    assert float(rule.integrate(lambda x: 800.0 + 0.0 * x, 0.0 * one, one, log=True)) == \
        pytest.approx(800.0, rel=1e-15)
    assert np.isinf(float(rule.integrate_exp(lambda x: 800.0 + 0.0 * x, 0.0 * one, one)))
    # exp(-x^2/2) far out on the half-line: per-node exponents add the map's log-Jacobian
    tail = GaussLegendre(64, scale=4.0).integrate_exp(lambda x: -0.5 * tf.square(x), one,
                                                      tf.constant(INF, F64))
    assert float(tail) == pytest.approx(math.sqrt(math.pi / 2) * math.erfc(1 / math.sqrt(2)),
                                        rel=1e-10)


def test_box_exp_mode_catalogue_gradient_and_xla():
    """∫∫_[0,hx]x[-1,1] exp(a x + y) = (e^{a hx} - 1)/a · (e - 1/e), and over
    [0, inf) x [-1, 1] of exp(-a x + y) = (e - 1/e)/a; gradients in closed form."""
    @tf.function(jit_compile=True)
    def run(a, lower, upper, rule, sign):
        with tf.GradientTape() as tape:
            tape.watch([a, upper])
            v = rule.integrate_box_exp(lambda x, a: sign * a * x[..., 0] + x[..., 1], lower,
                                       upper, args=(a,))
        return v, tape.gradient(v, [a, upper])

    c = math.e - 1 / math.e
    for dtype, rtol in ((tf.float64, 1e-11), (tf.float32, 2e-5)):
        a = tf.constant([0.5, 1.5], dtype)
        lower, upper = tf.constant([0.0, -1.0], dtype), tf.constant([2.0, 1.0], dtype)
        v, (ga, gu) = run(a, lower, upper, GaussLegendre(12, panels=2), 1.0)
        s = np.array([0.5, 1.5])
        np.testing.assert_allclose(v.numpy(), (np.exp(2 * s) - 1) / s * c, rtol=rtol)
        np.testing.assert_allclose(
            ga.numpy(), (2 * s * np.exp(2 * s) - np.exp(2 * s) + 1) / s ** 2 * c, rtol=10 * rtol)
        # d/d upper_x = sum_b e^{2 a_b} c; d/d upper_y = sum_b I_b e / c
        np.testing.assert_allclose(
            gu.numpy(), [np.sum(np.exp(2 * s)) * c, np.sum((np.exp(2 * s) - 1) / s) * math.e],
            rtol=10 * rtol)
        upper_inf = tf.constant([INF, 1.0], dtype)
        v, (ga, _) = run(a, lower, upper_inf, GaussLegendre(48, scale=2.0), -1.0)
        np.testing.assert_allclose(v.numpy(), c / s, rtol=10 * rtol)
        np.testing.assert_allclose(ga.numpy(), -c / s ** 2, rtol=10 * rtol)
