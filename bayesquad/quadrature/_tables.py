"""Node and weight tables, computed once in float64 with numpy and cached.

Every table is built from its defining property (orthogonality, exactness on
polynomials) rather than typed-in constants, then polished by Newton steps, so the
tests can check each table against that property directly.
"""
import functools

import numpy as np
from numpy.polynomial import legendre as npleg

__all__ = [
    "KRONROD_SIZES",
    "gauss_hermite",
    "gauss_kronrod",
    "gauss_legendre",
    "tanh_sinh",
]

KRONROD_SIZES = (15, 21, 31, 41, 51, 61)


def _frozen(*arrays):
    for a in arrays:
        a.setflags(write=False)
    return arrays


def _legendre_and_derivative(coefs, x):
    return npleg.legval(x, coefs), npleg.legval(x, npleg.legder(coefs))


@functools.lru_cache(maxsize=None)
def gauss_legendre(n):
    """Gauss–Legendre nodes and weights on [-1, 1] (exact for degree 2n-1)."""
    if n < 1:
        raise ValueError(f"nodes must be >= 1 for Gauss-Legendre, got {n}")
    x, _ = npleg.leggauss(n)
    p_n = np.eye(n + 1)[n]
    for _ in range(2):  # Newton polish of the roots of P_n
        value, slope = _legendre_and_derivative(p_n, x)
        x = x - value / slope
    slope = npleg.legval(x, npleg.legder(p_n))
    w = 2.0 / ((1.0 - x * x) * slope * slope)
    return _frozen(x, w)


@functools.lru_cache(maxsize=None)
def gauss_kronrod(n_kronrod):
    """Gauss–Kronrod rule with ``n_kronrod = 2n+1`` nodes on [-1, 1].

    Returns ``(x, w_kronrod, w_gauss)`` where ``w_gauss`` is zero at the added
    Kronrod nodes, so ``w_kronrod - w_gauss`` is the usual error functional.

    The added nodes are the zeros of the Stieltjes polynomial E_{n+1}, fixed by
    orthogonality to every polynomial of degree <= n with weight P_n. E_{n+1} is
    expanded in Legendre polynomials, the orthogonality conditions are integrated
    exactly by a large Gauss rule, and the roots are polished by Newton steps. The
    Kronrod weights then solve the moment equations for degrees 0..2n.
    """
    if n_kronrod not in KRONROD_SIZES:
        raise ValueError(
            f"nodes={n_kronrod} is not a Gauss-Kronrod size; use one of {KRONROD_SIZES}"
        )
    n = (n_kronrod - 1) // 2
    xg, wg = gauss_legendre(n)
    xq, wq = npleg.leggauss(3 * n + 4)  # integrates degree <= 3n+1 products exactly
    p_n = npleg.legval(xq, np.eye(n + 2)[n])
    basis = np.stack([npleg.legval(xq, np.eye(n + 2)[j]) for j in range(n + 2)])
    # rows: test polynomial P_k (k = 0..n); columns: unknown coefficient of P_j (j = 0..n)
    m = np.einsum("q,kq,jq,q->kj", p_n, basis[: n + 1], basis[: n + 1], wq)
    rhs = -np.einsum("q,kq,q,q->k", p_n, basis[: n + 1], basis[n + 1], wq)
    c = np.linalg.lstsq(m, rhs, rcond=None)[0]
    coefs = np.concatenate([c, [1.0]])
    roots = np.sort(np.real(npleg.legroots(coefs)))
    for _ in range(4):
        value, slope = _legendre_and_derivative(coefs, roots)
        roots = roots - value / slope
    x = np.sort(np.concatenate([xg, roots]))
    vander = npleg.legvander(x, 2 * n).T  # (2n+1) x (2n+1): P_k(x_i)
    moments = np.zeros(2 * n + 1)
    moments[0] = 2.0
    wk = np.linalg.solve(vander, moments)
    w_gauss = np.zeros_like(x)
    idx = np.searchsorted(x, xg)
    idx = np.clip(idx, 0, len(x) - 1)
    # xg entries are exact copies, so searchsorted finds them exactly.
    w_gauss[idx] = wg
    return _frozen(x, wk, w_gauss)


@functools.lru_cache(maxsize=None)
def gauss_hermite(n):
    """Gauss–Hermite nodes/weights for the weight exp(-x^2) on the real line."""
    if n < 1:
        raise ValueError(f"num_nodes must be >= 1 for Gauss-Hermite, got {n}")
    x, w = np.polynomial.hermite.hermgauss(n)
    return _frozen(x, w)


@functools.lru_cache(maxsize=None)
def tanh_sinh(max_levels, tiny):
    """Tanh-sinh nodes on the half line t >= 0 of the step h = 2**-max_levels.

    Returns ``(t, distance, weight, level)`` for t = j*h, j = 0..J where
    ``distance = 1 - tanh(pi/2 sinh t)`` is computed without cancellation (so nodes
    next to an endpoint keep their full precision), ``weight`` is the derivative of
    the map, and ``level`` is the first level (step 2**-level) containing the node.
    The table stops where ``distance`` would fall below ``tiny`` (the smallest
    distance the working dtype can still add to a limit at zero).
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
