"""L-BFGS over a batch of independent problems, driven from numpy around one compiled call.

Each iteration evaluates every problem of the batch at once (one call of a compiled value
and gradient of shape ``[K, D]``), so the cost per iteration is one dispatch, not K; the
problems converge, and stop, each on its own.  The line search is the weak-Wolfe
bracketing of Lewis & Overton (2013), vectorised: cheap, needs no interpolation, and
accepts the unit step that a well-scaled L-BFGS direction nearly always gives.
"""
import collections

import numpy as np

__all__ = ["BatchOptimum", "minimize_batch"]

BatchOptimum = collections.namedtuple(
    "BatchOptimum", ["position", "value", "gradient", "converged", "failed", "iterations",
                     "evaluations"])
BatchOptimum.__doc__ = """Result of :func:`minimize_batch`, every field ``[K, ...]`` but
``evaluations`` (calls of the batched function)."""

_ARMIJO, _CURVATURE = 1e-4, 0.9
_MAX_TRIALS = 40  # step halvings/doublings per line search: 2^-40 ~ 1e-12 of the first step


def _direction(grad, s_hist, y_hist, count, newest):
    """``-H g`` by the two-loop recursion, each problem with its own history (``count``
    pairs, the newest in slot ``newest[k]`` of its ring)."""
    k, m, _ = s_hist.shape
    rows = np.arange(k)
    q = grad.copy()
    alphas = []
    for j in range(m):  # newest first
        slot = (newest - j) % m
        use = count > j
        s, y = s_hist[rows, slot], y_hist[rows, slot]
        rho = 1.0 / np.where(use, np.sum(s * y, -1), 1.0)
        alpha = np.where(use, rho * np.sum(s * q, -1), 0.0)
        q -= alpha[:, None] * y
        alphas.append((alpha, rho, use, s, y))
    s, y = s_hist[rows, newest], y_hist[rows, newest]
    gamma = np.where(count > 0, np.sum(s * y, -1) / np.maximum(np.sum(y * y, -1), 1e-300),
                     1.0 / np.maximum(1.0, np.sqrt(np.sum(grad * grad, -1))))
    r = gamma[:, None] * q
    for alpha, rho, use, s, y in reversed(alphas):  # oldest first
        beta = np.where(use, rho * np.sum(y * r, -1), 0.0)
        r += np.where(use, alpha - beta, 0.0)[:, None] * s
    return -r


def _line_search(fun, x, f, g, d, active):
    """Weak-Wolfe steps for the ``active`` problems; ``(x, f, g, ok, n_calls)``."""
    slope = np.sum(g * d, -1)
    step = np.ones(len(x))
    low, high = np.zeros(len(x)), np.full(len(x), np.inf)
    searching = active.copy()
    x_new, f_new, g_new = x.copy(), f.copy(), g.copy()
    ok = np.zeros(len(x), bool)
    calls = 0
    for _ in range(_MAX_TRIALS):
        if not searching.any():
            break
        trial = np.where(searching[:, None], x + step[:, None] * d, x)
        ft, gt = fun(trial)
        calls += 1
        finite = np.isfinite(ft) & np.all(np.isfinite(gt), -1)
        armijo = finite & (ft <= f + _ARMIJO * step * slope)
        curved = np.sum(gt * d, -1) >= _CURVATURE * slope
        accept = searching & armijo & curved
        x_new[accept], f_new[accept], g_new[accept] = trial[accept], ft[accept], gt[accept]
        ok |= accept
        too_long = searching & ~armijo
        too_short = searching & armijo & ~curved
        high = np.where(too_long, step, high)
        low = np.where(too_short, step, low)
        step = np.where(np.isinf(high), 2.0 * step, 0.5 * (low + high))
        searching &= ~accept
    return x_new, f_new, g_new, ok, calls


def minimize_batch(fun, x0, *, tolerance=1e-8, max_iterations=500, history=20,
                   f_relative_tolerance=1e-15, initial=None):
    """Minimise K independent functions of D variables, evaluated together.

    Parameters
    ----------
    fun : callable
        ``fun(x [K, D]) -> (f [K], grad [K, D])`` as numpy arrays; row ``k`` is problem
        ``k``. Non-finite values are allowed: the line search steps back from them.
    x0 : array [K, D]
    tolerance : float
        A problem converges when its gradient's largest absolute entry is at most this.
    max_iterations : int
    history : int
        Correction pairs kept per problem.
    f_relative_tolerance : float
        A problem also stops (converged) when an iteration changes its value by less than
        this, relative to the value: progress below rounding.
    initial : tuple, optional
        ``fun(x0)`` if the caller has it already (counted as one evaluation).

    Returns
    -------
    BatchOptimum

    Notes
    -----
    ``failed`` marks problems whose line search found no weak-Wolfe step (a non-finite or
    non-smooth objective, or a gradient inconsistent with the values); they stop where
    they are. A problem that reaches ``max_iterations`` is neither converged nor failed.
    """
    x = np.array(x0, np.float64)
    k, dim = x.shape
    f, g = fun(x) if initial is None else initial
    calls = 1
    converged = np.isfinite(f) & (np.max(np.abs(g), -1) <= tolerance)
    failed = ~(np.isfinite(f) & np.all(np.isfinite(g), -1))
    s_hist, y_hist = np.zeros((k, history, dim)), np.zeros((k, history, dim))
    count, newest = np.zeros(k, int), np.zeros(k, int)
    iterations = np.zeros(k, int)
    for _ in range(int(max_iterations)):
        active = ~(converged | failed)
        if not active.any():
            break
        d = _direction(g, s_hist, y_hist, count, newest)
        uphill = np.sum(g * d, -1) >= 0  # history gone stale: restart from steepest descent
        if uphill.any():
            count = np.where(uphill, 0, count)
            d = np.where(uphill[:, None], -g / np.maximum(1.0, np.linalg.norm(g, axis=-1))
                         [:, None], d)
        x_new, f_new, g_new, ok, n = _line_search(fun, x, f, g, d, active)
        calls += n
        failed |= active & ~ok
        moved = active & ok
        iterations += moved
        s, y = x_new - x, g_new - g
        keep = moved & (np.sum(s * y, -1) > 1e-300)  # Wolfe makes it so, bar rounding
        newest = np.where(keep, (newest + 1) % history, newest)
        s_hist[keep, newest[keep]] = s[keep]
        y_hist[keep, newest[keep]] = y[keep]
        count = np.where(keep, np.minimum(count + 1, history), count)
        stalled = moved & (np.abs(f - f_new) <= f_relative_tolerance * np.abs(f_new))
        x, f, g = np.where(moved[:, None], x_new, x), np.where(moved, f_new, f), \
            np.where(moved[:, None], g_new, g)
        converged |= moved & ((np.max(np.abs(g), -1) <= tolerance) | stalled)
    return BatchOptimum(position=x, value=f, gradient=g, converged=converged, failed=failed,
                        iterations=iterations, evaluations=calls)
