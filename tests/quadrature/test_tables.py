"""Node/weight tables checked against their defining properties.

* Gauss–Legendre (n nodes): exact on monomials up to degree 2n-1; agrees with a
  long-double Newton reference.
* Gauss–Kronrod (N = 2n+1 nodes): exact up to degree 3n+1; contains the n Gauss nodes
  (``w_gauss`` non-zero exactly there) whose weights are exact up to 2n-1; Kronrod nodes
  interlace the Gauss nodes; weights positive; nodes inside (-1, 1) and symmetric. A few
  entries are compared with QUADPACK's published constants (qk15, qk21). Negative controls
  for the small rules: not exact one even degree beyond.
* Gauss–Hermite (weight exp(-x^2)): sum w x^{2k} = Gamma(k + 1/2) for 2k <= 2n-1.
"""
import numpy as np
import pytest
from scipy import special

import bayesquad  # noqa: F401
from bayesquad import quadrature as q

SIZES = (15, 21, 31, 41, 51, 61)


def _legendre_reference(n):
    """Gauss-Legendre by Newton on the three-term recurrence in long double (independent
    of numpy.polynomial and scipy; ~1e-18 working precision on x86)."""
    x = np.asarray(special.roots_legendre(n)[0], dtype=np.longdouble)
    for _ in range(6):
        p, dp = _legendre_p(n, x)
        x = x - p / dp
    p, dp = _legendre_p(n, x)
    w = 2 / ((1 - x * x) * dp * dp)
    return x.astype(np.float64), w.astype(np.float64)


def _legendre_p(n, x):
    p0, p1 = np.ones_like(x), x.copy()
    for k in range(2, n + 1):
        p0, p1 = p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k
    dp = n * (x * p1 - p0) / (x * x - 1) if n > 1 else np.ones_like(x)
    return p1, dp


def moment(k):
    return 2.0 / (k + 1) if k % 2 == 0 else 0.0


def rule_error(x, w, k):
    return abs(float(np.sum(w * x**k)) - moment(k))


@pytest.mark.parametrize("n", [1, 2, 5, 16, 32, 64, 128])
def test_gauss_legendre_exactness_and_reference(n):
    x, w = q.gauss_legendre(n)
    assert x.shape == (n,) and w.shape == (n,) and x.dtype == np.float64
    assert np.all(w > 0) and np.all(np.abs(x) < 1)
    for k in range(2 * n):
        assert rule_error(x, w, k) <= 1e-14 * max(1, n // 32), (n, k)
    xr, wr = _legendre_reference(n)
    order = np.argsort(x)
    np.testing.assert_allclose(x[order], xr, atol=2e-16)
    # numpy's leggauss (and scipy's roots_legendre) reach only ~1e-11 relative on the
    # smallest (endpoint) weights at n = 128; the moments above are what matter.
    np.testing.assert_allclose(w[order], wr, rtol=1e-12 if n <= 32 else 5e-11)
    if n <= 5:
        assert rule_error(x, w, 2 * n) > 1e-6   # negative control
    np.testing.assert_array_equal(x, -x[::-1])
    np.testing.assert_array_equal(w, w[::-1])
    if n % 2:
        assert x[n // 2] == 0.0


@pytest.mark.parametrize("N", SIZES)
def test_gauss_kronrod_properties(N):
    x, wk, wg = q.gauss_kronrod(N)
    n = (N - 1) // 2
    assert x.shape == wk.shape == wg.shape == (N,)
    assert np.all(np.diff(x) > 0)
    assert np.all(np.abs(x) < 1)
    assert np.all(wk > 0)
    # symmetric by construction (mirrored halves), on every machine
    np.testing.assert_array_equal(x, -x[::-1])
    np.testing.assert_array_equal(wk, wk[::-1])
    np.testing.assert_array_equal(wg, wg[::-1])
    assert x[n] == 0.0
    # Kronrod: degree 3n+1
    for k in range(3 * n + 2):
        assert rule_error(x, wk, k) <= 2e-15, (N, k)
    # Gauss part: n non-zero weights at the Gauss-Legendre nodes, degree 2n-1
    gauss = wg != 0
    assert gauss.sum() == n
    xg, wgl = q.gauss_legendre(n)
    np.testing.assert_allclose(x[gauss], np.sort(xg), atol=1e-15)
    np.testing.assert_allclose(wg[gauss], wgl[np.argsort(xg)], rtol=1e-13)
    for k in range(2 * n):
        assert rule_error(x, wg, k) <= 1e-14, (N, k)
    # interlacing: Gauss nodes sit at the odd positions 1, 3, ..., 2n-1
    np.testing.assert_array_equal(np.flatnonzero(gauss), np.arange(1, N, 2))


@pytest.mark.parametrize("N", [15, 21])
def test_gauss_kronrod_negative_controls(N):
    x, wk, wg = q.gauss_kronrod(N)
    n = (N - 1) // 2
    assert rule_error(x, wg, 2 * n) > 1e-8
    first_even_beyond = 3 * n + 2 if (3 * n + 2) % 2 == 0 else 3 * n + 3
    assert rule_error(x, wk, first_even_beyond) > 1e-13


def test_gauss_kronrod_matches_quadpack_constants():
    # QUADPACK qk15 / qk21 (public domain), 33 digits; ours should agree to ~1e-15.
    x, wk, _ = q.gauss_kronrod(15)
    assert x[-1] == pytest.approx(0.991455371120812639206854697526329, abs=1e-15)
    assert wk[-1] == pytest.approx(0.022935322010529224963732008058970, abs=1e-15)
    assert wk[7] == pytest.approx(0.209482141084727828012999174891714, abs=1e-15)
    x, wk, _ = q.gauss_kronrod(21)
    assert x[-1] == pytest.approx(0.995657163025808080735527280689003, abs=1e-15)
    assert wk[-1] == pytest.approx(0.011694638867371874278064396062192, abs=1e-15)
    assert wk[10] == pytest.approx(0.149445554002916905664936468389821, abs=1e-15)


def test_gauss_kronrod_rejects_untabulated_size():
    with pytest.raises(ValueError, match="nodes"):
        q.gauss_kronrod(23)


@pytest.mark.parametrize("n", [1, 4, 10, 20, 40, 60])
def test_gauss_hermite_moments(n):
    x, w = q.gauss_hermite(n)
    assert x.shape == (n,) and np.all(w > 0)
    for k in range(n):   # degree 2k <= 2n - 2
        got = float(np.sum(w * x ** (2 * k)))
        assert got == pytest.approx(special.gamma(k + 0.5), rel=1e-12), (n, k)
        # odd moments: mirrored pairs cancel exactly (a sum in numpy's order need not)
        terms = w * np.sign(x) * np.abs(x) ** (2 * k + 1)   # (-a)**p need not be -(a**p)
        np.testing.assert_array_equal(terms + terms[::-1], 0.0)
        assert abs(float(np.sum(terms))) <= 1e-12 * special.gamma(k + 1)
    np.testing.assert_array_equal(x, -x[::-1])
    np.testing.assert_array_equal(w, w[::-1])
    if n % 2:
        assert x[n // 2] == 0.0


@pytest.mark.parametrize("n", [1, 2, 3, 5, 20, 21, 101])
def test_gauss_hermite_symmetric_and_exact(n):
    x, w = q.gauss_hermite(n)
    np.testing.assert_array_equal(x, -x[::-1])
    np.testing.assert_array_equal(w, w[::-1])
    assert np.all(np.diff(x) > 0)
    assert float(np.sum(w)) == pytest.approx(np.sqrt(np.pi), rel=1e-13)


@pytest.mark.parametrize("table", ["gauss_legendre", "gauss_hermite"])
def test_table_size_limit_names_the_fix(table):
    with pytest.raises(ValueError, match="panels"):
        getattr(q, table)(100_000)


def test_tables_are_cached_and_read_only():
    x1, _ = q.gauss_legendre(32)
    x2, _ = q.gauss_legendre(32)
    assert x1 is x2
    with pytest.raises(ValueError):
        x1[0] = 0.0
