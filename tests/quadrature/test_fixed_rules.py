"""Convergence orders of the fixed rules, measured against closed forms.

* Gauss–Legendre: error falls geometrically with the node count on an analytic integrand.
  For 1/(2-x) on [-1, 1] (pole at 2, Bernstein ellipse rho = 2 + sqrt(3)) the error
  is ~ rho^(-2n), a factor rho^4 ~ 194 per two extra nodes.
* composite Simpson: 4th order, error ratio -> 16 when the panels double.
* composite trapezoid: 2nd order, ratio -> 4 (on a non-periodic integrand).
* composite Gauss–Legendre with n nodes per panel: order 2n (ratio 2^(2n)).
* Trapezoid on a periodic integrand over whole periods: geometric (spectral) convergence.
The reported errors are also checked to bound the true errors in these asymptotic regimes.
"""
import math

import numpy as np
import pytest

import bayesquad
import tensorflow as tf

LOG3 = math.log(3.0)
E1 = math.e - 1.0


def inv_2mx(x):
    return 1.0 / (2.0 - x)


def integrate(f, a, b, method, **kw):
    res = bayesquad.integrate(f, a, b, method=method, **kw)
    return float(res.value), float(res.error), int(res.status), int(res.n_evals)


def test_gauss_legendre_geometric_in_nodes():
    errs = []
    for n in (4, 6, 8, 10, 12):
        value, error, _, n_evals = integrate(inv_2mx, -1.0, 1.0, "gauss-legendre", nodes=n)
        true = abs(value - LOG3)
        errs.append(true)
        assert true <= max(error, 1e-15), (n, true, error)   # honest
        assert n_evals >= n
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    # rho^4 ~ 194; allow the pre-asymptotic constant to drift
    assert np.all(ratios > 80), (errs, ratios)
    # and it reaches roundoff by 20 nodes
    value, _, status, _ = integrate(inv_2mx, -1.0, 1.0, "gauss-legendre", nodes=20)
    assert abs(value - LOG3) < 5e-15


def test_gauss_legendre_exp_error_formula():
    """E_n = (n!)^4 / ((2n+1) ((2n)!)^3) f^(2n)(xi) on [0, 1]: for exp, between 1 and e times
    the prefactor (5.6e-10 at n=4, 3.9e-13 at n=5); roundoff from n=7 on."""
    f = lambda x: tf.exp(x)  # noqa: E731
    for n in (4, 5):
        err = E1 - integrate(f, 0.0, 1.0, "gauss-legendre", nodes=n)[0]
        bound = math.factorial(n) ** 4 / ((2 * n + 1) * math.factorial(2 * n) ** 3)
        assert bound * (1 - 1e-3) <= err <= math.e * bound * (1 + 1e-3), (n, err, bound)
    value = integrate(f, 0.0, 1.0, "gauss-legendre", nodes=8)[0]
    assert abs(value - E1) < 1e-15 * 4


def test_gauss_legendre_composite_order_2n():
    # 4 nodes per panel: order 8, doubling the panels divides the error by ~256
    f = lambda x: tf.exp(4.0 * x)  # noqa: E731
    exact = math.expm1(4.0) / 4
    errs = [abs(integrate(f, 0.0, 1.0, "gauss-legendre", nodes=4, panels=k)[0] - exact)
            for k in (2, 4, 8)]
    ratios = [errs[i] / errs[i + 1] for i in range(2)]
    for r in ratios:
        assert 220 < r < 290, (errs, ratios)


def test_simpson_fourth_order():
    f = lambda x: tf.exp(x)  # noqa: E731
    errs, reported = [], []
    for k in (8, 16, 32, 64):
        value, error, _, _ = integrate(f, 0.0, 1.0, "simpson", panels=k)
        errs.append(abs(value - E1))
        reported.append(error)
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all((ratios > 15.0) & (ratios < 17.0)), (errs, ratios)
    # Leading term h^4/180 (e - 1): the value is plain composite Simpson, not extrapolated
    h = 1.0 / 64
    assert errs[-1] == pytest.approx(h**4 / 180 * E1, rel=0.02)
    assert np.all(np.array(errs) <= np.array(reported)), (errs, reported)


def test_trapezoid_second_order():
    f = lambda x: tf.exp(x)  # noqa: E731
    errs, reported = [], []
    for k in (8, 16, 32, 64):
        value, error, _, _ = integrate(f, 0.0, 1.0, "trapezoid", panels=k)
        errs.append(abs(value - E1))
        reported.append(error)
    ratios = np.array(errs[:-1]) / np.array(errs[1:])
    assert np.all((ratios > 3.9) & (ratios < 4.1)), (errs, ratios)
    h = 1.0 / 64
    assert errs[-1] == pytest.approx(h**2 / 12 * E1, rel=0.02)
    assert np.all(np.array(errs) <= np.array(reported)), (errs, reported)


def test_trapezoid_spectral_on_periodic_integrand():
    # exp(cos x) over one period: (1/2pi) int = I0(1); trapezoid error ~ 4 pi I_k(1)
    # for k panels: 3e-2, 1.2e-6, 1e-17
    from scipy import special

    exact = 2 * math.pi * special.i0(1.0)
    f = lambda x: tf.exp(tf.cos(x))  # noqa: E731
    errs = [abs(integrate(f, 0.0, 2 * math.pi, "trapezoid", panels=k)[0] - exact)
            for k in (4, 8, 16)]
    assert errs[0] > 1e-2 and 1e-7 < errs[1] < 2e-6 and errs[2] < 1e-13, errs


def test_gauss_kronrod_sizes_improve_and_are_honest():
    errs = []
    for n in (15, 21, 31):
        value, error, status, n_evals = integrate(inv_2mx, -1.0, 1.0, "gauss-kronrod",
                                                  nodes=n)
        true = abs(value - LOG3)
        errs.append(true)
        assert true <= max(error, 1e-15), (n, true, error)
        assert n_evals >= n
    assert errs[0] < 1e-9 and errs[2] < 1e-15 * 4, errs


@pytest.mark.parametrize("method", ["trapezoid", "simpson", "gauss-legendre",
                                    "gauss-kronrod"])
def test_fixed_rule_status_follows_tolerance(method):
    # exp on [0,1]: the default settings are far below 1e-3 error and far above 1e-16
    f = lambda x: tf.exp(x)  # noqa: E731
    loose = bayesquad.integrate(f, 0.0, 1.0, method=method, rtol=1e-3)
    assert int(loose.status) == int(bayesquad.Status.CONVERGED)
    assert abs(float(loose.value) - E1) <= max(float(loose.error), 1e-14)
    if method in ("trapezoid", "simpson"):
        tight = bayesquad.integrate(f, 0.0, 1.0, method=method, rtol=1e-15, panels=8)
        assert int(tight.status) != int(bayesquad.Status.CONVERGED)


@pytest.mark.parametrize("method", ["trapezoid", "simpson", "gauss-legendre",
                                    "gauss-kronrod"])
def test_fixed_rules_batched_limits(method):
    # one call, 5 elements with different ranges, each compared with its closed form
    lower = np.array([0.0, 0.5, -1.0, 2.0, 1.0])
    upper = np.array([1.0, 2.0, 0.0, 2.5, 0.0])   # the last is reversed
    exact = np.exp(upper) - np.exp(lower)
    res = bayesquad.integrate(lambda x: tf.exp(x), lower, upper, method=method, rtol=1e-6,
                              **({"panels": 1024} if method == "trapezoid" else {}))
    value, error = np.asarray(res.value), np.asarray(res.error)
    assert value.shape == (5,)
    np.testing.assert_allclose(value, exact, rtol=1e-6)
    assert np.all(np.abs(value - exact) <= np.maximum(error, 1e-14))
