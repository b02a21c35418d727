"""Node and weight tables, computed once in float64 with numpy and cached.

Every table is built from its defining property (orthogonality, exactness on
polynomials) rather than typed-in constants, then polished by Newton steps, so the
tests can check each table against that property directly.

Every table is symmetric by construction: only the positive half is computed and then
mirrored, with the middle node of an odd rule exactly 0. Eigen-solvers and root-finders
return the two halves with last-bit differences that depend on the machine's
BLAS/LAPACK, so a table taken from them whole is symmetric on one machine and not on
another (and a symmetric integrand then integrates differently there).
"""
import functools

import numpy as np
from numpy.polynomial import hermite as nphermite
from numpy.polynomial import legendre as npleg

__all__ = [
    "KRONROD_SIZES",
    "MAX_TABLE_NODES",
    "gauss_hermite",
    "gauss_kronrod",
    "gauss_legendre",
    "tanh_sinh",
]

KRONROD_SIZES = (15, 21, 31, 41, 51, 61)
# The eigen-solvers behind the tables build dense n x n matrices (n = 10^5 would need
# 75 GiB); beyond a few hundred nodes a composite rule (panels=) is the better tool.
MAX_TABLE_NODES = 1024


def _frozen(*arrays):
    for a in arrays:
        a.setflags(write=False)
    return arrays


def _check_size(name, n):
    if n < 1:
        raise ValueError(f"nodes must be >= 1 for {name}, got {n}")
    if n > MAX_TABLE_NODES:
        raise ValueError(
            f"nodes={n} is more than one {name} table can have (at most {MAX_TABLE_NODES}); "
            "use more panels (panels=) or an adaptive method instead"
        )


def _mirror(positive_x, positive_w, middle_w, odd):
    """Ascending symmetric table from its positive half (any order) and middle weight."""
    order = np.argsort(positive_x)
    px, pw = np.asarray(positive_x, np.float64)[order], np.asarray(positive_w, np.float64)[order]
    mid_x, mid_w = ([0.0], [middle_w]) if odd else ([], [])
    x = np.concatenate([-px[::-1], mid_x, px])
    w = np.concatenate([pw[::-1], mid_w, pw])
    return x, w


def _legendre_and_derivative(coefs, x):
    return npleg.legval(x, coefs), npleg.legval(x, npleg.legder(coefs))


@functools.lru_cache(maxsize=None)
def gauss_legendre(n):
    """Gauss–Legendre nodes and weights on [-1, 1] (exact for degree 2n-1)."""
    _check_size("Gauss-Legendre", n)
    x, _ = npleg.leggauss(n)
    x = x[x > 0.5 / n**2]  # the positive roots (the middle root of odd n is exactly 0)
    p_n = np.eye(n + 1)[n]
    for _ in range(2):  # Newton polish of the roots of P_n
        value, slope = _legendre_and_derivative(p_n, x)
        x = x - value / slope
    slope = npleg.legval(x, npleg.legder(p_n))
    w = 2.0 / ((1.0 - x * x) * slope * slope)
    middle = 2.0 / npleg.legval(0.0, npleg.legder(p_n)) ** 2 if n % 2 else None
    return _frozen(*_mirror(x, w, middle, n % 2 == 1))


@functools.lru_cache(maxsize=None)
def gauss_kronrod(n_kronrod):
    """Gauss–Kronrod rule with ``n_kronrod = 2n+1`` nodes on [-1, 1].

    Returns ``(x, w_kronrod, w_gauss)`` where ``w_gauss`` is zero at the added
    Kronrod nodes, so ``w_kronrod - w_gauss`` is the usual error functional.

    The added nodes are the zeros of the Stieltjes polynomial E_{n+1}, fixed by
    orthogonality to every polynomial of degree <= n with weight P_n. E_{n+1} has the
    parity of n+1, so it is expanded in the Legendre polynomials of that parity only;
    the orthogonality conditions (against the test polynomials of the same parity, the
    others vanish by symmetry) are integrated exactly by a large Gauss rule, and the
    positive roots are polished by Newton steps. The Kronrod weights of the positive
    nodes and of the middle node then solve the even moment equations (degrees 0..2n),
    which the odd ones satisfy by symmetry.
    """
    if n_kronrod not in KRONROD_SIZES:
        raise ValueError(
            f"nodes={n_kronrod} is not a Gauss-Kronrod size; use one of {KRONROD_SIZES}"
        )
    n = (n_kronrod - 1) // 2
    xg, wg = gauss_legendre(n)
    xq, wq = npleg.leggauss(3 * n + 4)  # integrates degree <= 3n+1 products exactly
    basis = np.stack([npleg.legval(xq, np.eye(n + 2)[j]) for j in range(n + 2)])
    parity = (n + 1) % 2
    js = np.arange(parity, n + 1, 2)  # unknown coefficients of P_j, j < n+1, same parity
    # rows: test polynomials P_k (k <= n); P_n P_k E_{n+1} has the parity of k + 1, so
    # only odd k give conditions that do not hold by symmetry alone
    ks = np.arange(1, n + 1, 2)
    m = np.einsum("q,kq,jq,q->kj", basis[n], basis[ks], basis[js], wq)
    rhs = -np.einsum("q,kq,q,q->k", basis[n], basis[ks], basis[n + 1], wq)
    c = np.zeros(n + 2)
    c[js] = np.linalg.lstsq(m, rhs, rcond=None)[0]
    c[n + 1] = 1.0
    roots = np.real(npleg.legroots(c))
    roots = np.sort(roots[roots > 0.25 / n**2])
    for _ in range(4):
        value, slope = _legendre_and_derivative(c, roots)
        roots = roots - value / slope
    positive_gauss = xg[xg > 0]
    positive = np.concatenate([positive_gauss, roots])  # n nodes; 0 is the (2n+1)-th
    # even moments: sum_i w_i P_2k(x_i) = 2 [k == 0], with each positive node counted twice
    even = np.arange(0, 2 * n + 1, 2)
    vander = npleg.legvander(np.append(positive, 0.0), 2 * n)[:, even].T
    vander[:, :-1] *= 2.0
    moments = np.zeros(n + 1)
    moments[0] = 2.0
    w = np.linalg.solve(vander, moments)
    x, wk = _mirror(positive, w[:-1], w[-1], True)
    # Gauss weights at the Gauss nodes, zero elsewhere; mirrored the same way
    gauss_w = np.concatenate([wg[xg > 0], np.zeros(roots.size)])
    middle_gauss = wg[np.argmin(np.abs(xg))] if n % 2 else 0.0
    _, w_gauss = _mirror(positive, gauss_w, middle_gauss, True)
    return _frozen(x, wk, w_gauss)


@functools.lru_cache(maxsize=None)
def gauss_hermite(n):
    """Gauss–Hermite nodes/weights for the weight exp(-x^2) on the real line."""
    if n < 1:
        raise ValueError(f"num_nodes must be >= 1 for Gauss-Hermite, got {n}")
    _check_size("Gauss-Hermite", n)
    x, w = nphermite.hermgauss(n)
    positive = x > 0.5 / n
    middle = w[np.argmin(np.abs(x))] if n % 2 else None
    return _frozen(*_mirror(x[positive], w[positive], middle, n % 2 == 1))


@functools.lru_cache(maxsize=None)
def tanh_sinh(max_levels, tiny):
    """Tanh-sinh nodes on the half line t >= 0 of the step h = 2**-max_levels.

    Returns ``(t, distance, weight, level)`` for t = j*h, j = 0..J where
    ``distance = 1 - tanh(pi/2 sinh t)`` is computed without cancellation (so nodes
    next to an endpoint keep their full precision), ``weight`` is the derivative of
    the map, and ``level`` is the first level (step 2**-level) containing the node.
    The table stops where ``distance`` would fall below ``tiny`` (the smallest
    distance the working dtype can still add to a limit at zero). The rule is the
    mirror image of this half line, so it is symmetric by construction.
    """
    h = 2.0 ** -max_levels
    # distance = 2 / (1 + exp(pi sinh t)) falls below tiny when pi sinh t > log(2/tiny)
    t_max = np.arcsinh(np.log(2.0 / tiny) / np.pi)
    j = np.arange(int(np.floor(t_max / h)) + 1)
    t = j * h
    u = 0.5 * np.pi * np.sinh(t)
    distance = 1.0 / (np.exp(u) * np.cosh(u))  # = 1 - tanh(u)
    weight = 0.5 * np.pi * np.cosh(t) / np.cosh(u) ** 2
    # level = smallest l such that j is a multiple of 2**(max_levels - l)
    level = np.full(j.shape, max_levels)
    for lev in range(max_levels - 1, -1, -1):
        level[j % (2 ** (max_levels - lev)) == 0] = lev
    return _frozen(t, distance, weight, level)
