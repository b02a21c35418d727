"""Fixed rules as objects, and the panel arithmetic every method shares.

A rule lives on the unit interval: nodes ``t`` (with ``tc = 1 - t``), weights summing
to one, and a way to estimate its own error from the same integrand values. Values are
combined per panel in a *scaled* linear form so the same code serves ``log=True``:
each panel keeps ``(scale, sum)`` with the panel integral ``exp(scale) * sum``.
"""
import functools

import numpy as np
from numpy.polynomial import legendre as npleg

from bayesquad._tf import tf
from bayesquad.quadrature import _tables

__all__ = [
    "FixedRule",
    "combine_panels",
    "gauss_kronrod_rule",
    "gauss_legendre_rule",
    "panel_sums",
    "quadpack_error",
    "simpson_rule",
    "trapezoid_rule",
]


class FixedRule:
    """Nodes and weights on [0, 1] plus an error estimator using the same values.

    ``estimate(h, functionals, weights, eps)`` receives scaled integrand values ``h``
    with shape ``[panels, n] + batch`` (plus the rule's error functionals and weights as
    tensors) and returns the per-panel absolute error, scaled like ``h``.
    """

    def __init__(self, name, t, weights, estimate, functionals):
        self.name = name
        self.t = np.asarray(t, dtype=np.float64)
        self.tc = 1.0 - self.t
        self.weights = np.asarray(weights, dtype=np.float64)
        self.functionals = np.asarray(functionals, dtype=np.float64)
        self.estimate = estimate

    @property
    def size(self):
        return self.t.size

    def composite(self, panels):
        """Node arrays of ``panels`` equal copies on [0, 1]: shapes [panels, n]."""
        p = np.arange(panels, dtype=np.float64)[:, None]
        t = (p + self.t) / panels
        tc = (panels - 1 - p + self.tc) / panels
        return t, tc, self.weights / panels


def _roundoff(h, weights, eps):
    return 50.0 * eps * tf.einsum("n,pn...->p...", weights, tf.abs(h))


def _difference_error(h, functionals, weights, eps):
    """|E h| for a single error functional (nested rules), floored at rounding level."""
    diff = tf.abs(tf.einsum("n,pn...->p...", functionals[0], h))
    return tf.maximum(diff, _roundoff(h, weights, eps))


def trapezoid_rule(panels):
    if panels % 2:
        raise ValueError(
            f"panels={panels} must be even for the trapezoid rule (its error is estimated "
            "from the rule on every other node)"
        )
    return _trapezoid(panels)


@functools.lru_cache(maxsize=None)
def _trapezoid(panels):
    t = np.linspace(0.0, 1.0, panels + 1)
    w = np.full(panels + 1, 1.0 / panels)
    w[[0, -1]] *= 0.5
    coarse = np.zeros_like(w)
    coarse[::2] = 2.0 / panels
    coarse[[0, -1]] *= 0.5
    return FixedRule("trapezoid", t, w, _difference_error, [w - coarse])


def simpson_rule(panels):
    if panels % 2:
        raise ValueError(f"panels={panels} must be even for Simpson's rule")
    return _simpson(panels)


def _simpson_weights(panels, stride):
    w = np.zeros(panels + 1)
    n = panels // stride
    base = np.ones(n + 1)
    base[1:-1:2], base[2:-1:2] = 4.0, 2.0
    w[::stride] = base / (3.0 * n)
    return w


@functools.lru_cache(maxsize=None)
def _simpson(panels):
    t = np.linspace(0.0, 1.0, panels + 1)
    w = _simpson_weights(panels, 1)
    if panels % 4 == 0:
        coarse = _simpson_weights(panels, 2)
    else:  # no nested Simpson rule: compare with the trapezoid rule (more pessimistic)
        coarse = np.full(panels + 1, 1.0 / panels)
        coarse[[0, -1]] *= 0.5
    return FixedRule("simpson", t, w, _difference_error, [w - coarse])


def _legendre_tail_error(h, functionals, weights, eps, steps=(1.0, 1.0)):
    """Error of a Gauss–Legendre panel from the tail of its Legendre expansion.

    ``functionals`` give the Legendre coefficients c_{n-1}, c_{n-2} ("tail"), c_{n/2},
    c_{n/2-1} ("middle") and c_{3n/4}, c_{3n/4-1} ("upper") of the polynomial
    interpolating the values (pairs, so that even or odd integrands do not read as
    zeros). The Gauss rule integrates the interpolant exactly; its error is of the order
    of c_{2n}. With ``r = tail/middle`` (``rho^(n/2)`` under geometric decay
    ``rho^-k``), c_{2n} is about ``tail * r^2``. That extrapolation is trusted only when
    the decay is clearly geometric: r < 1e-3, and the decay per order between the upper
    and the tail pair at least 0.9 of that between the middle and the upper pair
    (``steps`` are the two distances in orders). Algebraic decay ``k^-p`` slows down
    towards the tail, and a high-order kink (``|x|^8.5``: r = 4e-4 at 16 nodes) would
    otherwise claim 4e-12 for a true error of 1.5e-9. For 1e-3 <= r < 0.1, or decay not
    shown geometric, one factor r is claimed; slower decay (finite smoothness, kinks,
    aliasing) claims nothing beyond the tail itself.
    """
    coef = tf.abs(tf.einsum("rn,pn...->rp...", functionals, h))
    tail = coef[0] + coef[1]
    middle = coef[2] + coef[3]
    upper = coef[4] + coef[5]
    one = tf.ones_like(tail)
    safe = tf.where(middle > 0, middle, one)
    ratio = tf.where(middle > 0, tf.minimum(tail / safe, 1.0), one)
    # the dtype's own smallest normal: float64's underflows to 0 in float32, and log(0)
    # would make the decay test NaN (read as "not geometric")
    tiny = tf.constant(np.finfo(tail.dtype.as_numpy_dtype).tiny, tail.dtype)
    log_t, log_u, log_m = (tf.math.log(tf.maximum(c, tiny)) for c in (tail, upper, middle))
    decay_tail = (log_u - log_t) / steps[0]  # per order, positive when decaying
    decay_mid = (log_m - log_u) / steps[1]
    geometric = (decay_mid > 0) & (decay_tail >= 0.9 * decay_mid)
    factor = tf.where((ratio < 1e-3) & geometric, ratio * ratio,
                      tf.where(ratio < 0.1, ratio, one))
    return tf.maximum(tail * factor, _roundoff(h, weights, eps))


def gauss_legendre_rule(nodes):
    if nodes < 4:
        raise ValueError(f"nodes={nodes} must be >= 4 for Gauss-Legendre (error estimation)")
    return _gauss_legendre(nodes)


@functools.lru_cache(maxsize=None)
def _gauss_legendre(n):
    x, w = _tables.gauss_legendre(n)
    t = 0.5 * (x + 1.0)
    weights = 0.5 * w
    orders = [n - 1, n - 2, n // 2, n // 2 - 1, (3 * n) // 4, (3 * n) // 4 - 1]
    vander = npleg.legvander(x, n - 1)  # P_k(x_i)
    # c_k = (2k+1)/2 * sum_i w_i P_k(x_i) f(x_i); in t-space the weights are halved.
    functionals = [(2 * k + 1) * weights * vander[:, k] for k in orders]
    # distances in orders between the pairs' midpoints: tail-upper, upper-middle
    mid = [0.5 * (orders[i] + orders[i + 1]) for i in (0, 2, 4)]
    steps = (mid[0] - mid[2], mid[2] - mid[1])
    estimate = functools.partial(_legendre_tail_error, steps=steps)
    return FixedRule("gauss-legendre", t, weights, estimate, functionals)


def quadpack_error(h, functionals, weights, eps):
    """QUADPACK's error estimate for a Gauss–Kronrod panel (Piessens et al., 1983).

    ``|K - G|`` is the error of the Gauss result; the Kronrod result is much better, so
    the estimate is rescaled as ``resasc * min(1, (200 |K-G| / resasc)^1.5)`` where
    ``resasc`` measures the integrand's variation on the panel, and floored at the
    rounding level ``50 eps * sum |h| w``.
    """
    diff = tf.abs(tf.einsum("n,pn...->p...", functionals[0], h))
    mean = tf.einsum("n,pn...->p...", weights, h)
    resasc = tf.einsum("n,pn...->p...", weights, tf.abs(h - mean[:, tf.newaxis]))
    safe = tf.where(resasc > 0, resasc, tf.ones_like(resasc))
    scaled = safe * tf.minimum((200.0 * diff / safe) ** 1.5, 1.0)
    err = tf.where((resasc > 0) & (diff > 0), scaled, diff)
    return tf.maximum(err, _roundoff(h, weights, eps))


def gauss_kronrod_rule(nodes):
    return _gauss_kronrod(nodes)


@functools.lru_cache(maxsize=None)
def _gauss_kronrod(n):
    x, wk, wg = _tables.gauss_kronrod(n)
    t = 0.5 * (x + 1.0)
    return FixedRule("gauss-kronrod", t, 0.5 * wk, quadpack_error, [0.5 * (wk - wg)])


def panel_sums(g, weights, log):
    """Per-panel ``(scale, h)`` from t-space values ``g`` with shape [panels, n]+batch.

    In log mode ``h = exp(g - scale)`` with ``scale`` the panel maximum, otherwise
    ``h = g`` and ``scale = 0``.
    """
    if not log:
        return tf.zeros_like(g[:, 0]), g
    scale = tf.reduce_max(g, axis=1)
    scale = tf.where(tf.math.is_finite(scale), scale, tf.zeros_like(scale))
    return scale, tf.exp(g - scale[:, tf.newaxis])


def combine_panels(scale, value, error, log, axis=0):
    """Sum panel values and errors; in log mode returns (log value, log error)."""
    if not log:
        return tf.reduce_sum(value, axis), tf.reduce_sum(error, axis)
    log_value = tf.reduce_logsumexp(scale + tf.math.log(value), axis)
    log_error = tf.reduce_logsumexp(scale + tf.math.log(error), axis)
    return log_value, log_error
