"""``cubature`` inside ``reference_settings`` (the diagnostics' quadrature check): a fine
product rule where its own estimate converges, adaptive Genz–Malik elsewhere."""
import math

import numpy as np
import pytest
from scipy import integrate

import bayesquad
import tensorflow as tf
from bayesquad.quadrature import reference_settings

F64 = tf.float64
LOW, HIGH = tf.constant([0.0, 0.0], F64), tf.constant([10.0, 6.0], F64)


def hotspot(xy, c, w):
    r2 = tf.square(xy[..., 0] - 6.0) + tf.square(xy[..., 1] - 3.5)
    return 3.0 + 0.05 * xy[..., 0] + c * tf.exp(-r2 / (2.0 * tf.square(w)))


def scipy_log_integral(c, w):
    f = lambda p: np.exp(3.0 + 0.05 * p[:, 0] + c * np.exp(  # noqa: E731
        -((p[:, 0] - 6.0) ** 2 + (p[:, 1] - 3.5) ** 2) / (2 * w * w)))
    total = 0.0
    for lo, hi in (([0, 0], [6, 3.5]), ([6, 0], [10, 3.5]), ([0, 3.5], [6, 6]),
                   ([6, 3.5], [10, 6])):
        total += integrate.cubature(f, lo, hi, rtol=1e-13, atol=0.0,
                                    max_subdivisions=100000).estimate
    return math.log(total)


def test_analytic_integrand_converges_by_the_product_rule():
    c, w = tf.constant([2.0, 1.0], F64), tf.constant([0.8, 1.5], F64)
    with reference_settings():
        res = bayesquad.cubature(hotspot, LOW, HIGH, args=(c, w), log=True)
    assert np.all(res.status.numpy() == 0)
    assert np.all(res.n_evals.numpy() == 32 * 8 * 32 * 8)
    want = [scipy_log_integral(2.0, 0.8), scipy_log_integral(1.0, 1.5)]
    np.testing.assert_allclose(res.value.numpy(), want, rtol=0, atol=1e-12)


def test_a_kink_is_handed_to_genz_malik_and_stays_honest():
    """|x - 3.3| + |y - 2.2| on the box: the product rule's estimate does not converge
    (algebraic decay at the kinks), so Genz–Malik continues; whatever its status, its
    estimate is honest or it says it did not converge."""
    def kink(xy):
        return tf.abs(xy[..., 0] - 3.3) + tf.abs(xy[..., 1] - 2.2)
    # ∫_0^10 |x - 3.3| dx = (3.3² + 6.7²)/2, times 6; ∫_0^6 |y - 2.2| dy = (2.2² + 3.8²)/2, times 10
    exact = 6 * (3.3 ** 2 + 6.7 ** 2) / 2 + 10 * (2.2 ** 2 + 3.8 ** 2) / 2
    with reference_settings():
        res = bayesquad.cubature(kink, LOW, HIGH)
    assert int(res.n_evals) > 32 * 8 * 32 * 8
    true = abs(float(res.value) - exact)
    assert int(res.status) != 0 or true <= float(res.error)
    assert true < 1e-6 * exact


@pytest.mark.parametrize("jit", [False, True])
def test_reference_in_a_graph(jit):
    """In a graph both rules run and the result is chosen per element (same answer)."""
    run = tf.function(lambda c, w: bayesquad.cubature(hotspot, LOW, HIGH, args=(c, w),
                                                      log=True), jit_compile=jit)
    with reference_settings():
        res = run(tf.constant([2.0], F64), tf.constant([0.8], F64))
    assert int(res.status[0]) == 0
    assert float(res.value[0]) == pytest.approx(scipy_log_integral(2.0, 0.8), abs=1e-12)


# -- QMC: scrambled Sobol nets ------------------------------------------------------------
def test_sobol_points_start_at_the_origin_and_form_a_net():
    """The first 2^m points are a (0, m, 2)-net in base 2: every dyadic box of area 2^-m
    of the elementary shapes holds one point (checked for the 2^m x 1 and 1 x 2^m
    stripes and the square grid)."""
    from bayesquad.quadrature._cubature_rules import sobol_points
    pts = sobol_points(2, 64)
    assert np.all(pts[0] == 0.0)
    for kx, ky in ((64, 1), (1, 64), (8, 8)):
        cells = np.floor(pts[:, 0] * kx) * ky + np.floor(pts[:, 1] * ky)
        assert len(np.unique(cells)) == 64


def test_scrambling_beats_a_random_shift_on_a_smooth_integrand():
    """32 independent replicates of 4,096 points: the spread of the scrambled estimates is
    at least 10x below that of the same points shifted modulo 1 (the negative control,
    which is what the replicates were before), and their mean is unbiased."""
    from bayesquad.quadrature._cubature import _scrambled
    from bayesquad.quadrature._cubature_rules import sobol_points
    a, b = 0.8, -1.5
    exact = math.expm1(2 * a) / a * math.expm1(b) / b

    def f(u):
        return 2.0 * np.exp(2 * a * u[..., 0] + b * u[..., 1])
    pts = sobol_points(2, 4096)
    scrambled = f(_scrambled(pts, 32, tf.constant([0, 3], tf.int64), F64).numpy()).mean(1)
    shifted = f(np.mod(pts[None] + np.random.default_rng(3).random((32, 1, 2)), 1.0)).mean(1)
    assert scrambled.std() * 10 < shifted.std()
    assert abs(scrambled.mean() - exact) < 5 * scrambled.std() / np.sqrt(32)
    u = _scrambled(pts, 2, tf.constant([0, 4], tf.int64), F64).numpy()
    assert np.all((u > 0) & (u < 1))
