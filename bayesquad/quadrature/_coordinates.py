"""Coordinate maps from the unit interval onto a range whose ends may be infinite.

Every quadrature rule of the package lives on ``[0, 1]`` (per axis on ``[0, 1]^d``) and
reaches the user's range through one of the maps here; the distributions use the same
module for their quantile searches, so a node and a quantile of one range are mapped
alike. All are elementwise per batch element (a batch may mix finite and infinite ends)
and take the complement ``tc = 1 - t`` where it matters, so a point next to ``t = 1``
keeps its full distance from that end.

* :func:`segment_map` -- ``integrate`` and ``cubature``: affine, ``lo + t/(1-t)``,
  ``hi - (1-t)/t``, ``(t - (1-t))/(4 t (1-t))``, and ``dx/dt``. Keeps ``t`` off the ends
  (a floor of ``sqrt(tiny)``) so x and the Jacobian stay finite at every node.
* :func:`unit_map` / :func:`unit_map_inverse` -- the same four maps with ``log dx/du``,
  reaching the ends exactly (``u = 0, 1`` give the ends, ±inf included) and with an
  inverse: the distributions' quantile searches run in ``u``.
* :func:`scaled_map` -- quadrature plans: the half-line and line maps stretched by a
  ``scale`` (``x = a + s u/(1-u)``), with ``log dx/du``; the planner climbs a ladder of
  scales.

``segment_map`` and ``unit_map`` are one map written twice: their rounding differs in
the last bits, and the distributions' draws (quantiles in ``u``) and the integrals'
values are fixed by tests and seeds, so each keeps its arithmetic.
"""
import numpy as np

from bayesquad._tf import tf

__all__ = ["finite_parts", "scaled_map", "segment_map", "unit_map", "unit_map_inverse"]


def finite_parts(low, high):
    """``(lo_fin, hi_fin, lo0, hi0)`` broadcast to a common shape: finiteness of each end
    and the ends with infinities replaced by 0, so formulas that only use a finite end
    (selected with ``tf.where``) never see an infinity in value or gradient."""
    zero = tf.zeros_like(low + high)
    low, high = low + zero, high + zero
    lo_fin, hi_fin = tf.math.is_finite(low), tf.math.is_finite(high)
    return lo_fin, hi_fin, tf.where(lo_fin, low, zero), tf.where(hi_fin, high, zero)


def segment_map(t, tc, lo, hi, tiny, may_low_inf=True, may_high_inf=True):
    """x and dx/dt for the four kinds of segment, chosen per element.

    Every kind is one formula with per-element coefficients,
    ``x = base(t) + c2 * t/tc + c3 * tc/t`` with ``base = A + c1 t`` (t < 1/2) or
    ``B - c1 tc`` (t >= 1/2): finite ``[lo, hi]`` has A=lo, B=hi, c1=hi-lo; ``[lo, inf)``
    has A=B=lo, c2=1; ``(-inf, hi]`` has A=B=hi, c3=-1; the line has c2=1/4, c3=-1/4.
    The coefficients are selected once per element, so the per-node work and its
    gradient stay small even when the limits are computed tensors.
    """
    if not (may_low_inf or may_high_inf):
        width = hi - lo
        return tf.where(t < 0.5, lo + width * t, hi - width * tc), width + 0.0 * t
    lo_inf, hi_inf = tf.math.is_inf(lo), tf.math.is_inf(hi)
    zero, one = tf.zeros_like(lo), tf.ones_like(lo)
    lo_f = tf.where(lo_inf, zero, lo)  # keeps inf out of the unused branches' gradients
    hi_f = tf.where(hi_inf, zero, hi)
    finite = ~lo_inf & ~hi_inf
    # [inf, inf] and [-inf, -inf] are empty ranges (lo == hi), not the whole line
    empty = tf.equal(lo, hi)
    c1 = tf.where(finite, hi_f - lo_f, zero)
    anchor_a = tf.where(lo_inf, hi_f, lo_f)
    anchor_b = tf.where(hi_inf, lo_f, hi_f)
    c2 = tf.where(hi_inf & ~empty, tf.where(lo_inf, 0.25 * one, one), zero)
    c3 = tf.where(lo_inf & ~empty, tf.where(hi_inf, -0.25 * one, -one), zero)
    # The infinite maps need tc (or t) bounded away from 0 so x and dx/dt stay finite.
    floor = tf.cast(np.sqrt(tiny), t.dtype)
    tcs, ts = tf.maximum(tc, floor), tf.maximum(t, floor)
    x = tf.where(t < 0.5, anchor_a + c1 * t, anchor_b - c1 * tc)
    x = x + c2 * (ts / tcs) + c3 * (tcs / ts)
    jac = c1 + c2 / (tcs * tcs) - c3 / (ts * ts)
    return x, jac


def scaled_map(t, tc, lower, upper, scale):
    """Map unit points ``u = t`` (complements ``tc = 1 - u``) onto ``[lower, upper]``
    with a length ``scale`` on infinite sides; returns ``(x, log dx/du)``.

    The map of quadrature plans (``GaussLegendre(nodes, panels, scale)``), per element.
    Finite ``[a, b]``: ``x = a + (b-a) u``. ``[a, inf)``: ``x = a + s u/(1-u)``, Jacobian
    ``s/(1-u)^2``; ``(-inf, b]`` the mirror image; the line: ``x = s (u - (1-u))/(u (1-u))``,
    Jacobian ``s (u^2 + (1-u)^2)/(u (1-u))^2``. ``1 - u`` is the exact complement ``tc``,
    so nodes near ``u = 1`` keep their full distance from the end.
    """
    lo_inf, hi_inf = tf.math.is_inf(lower), tf.math.is_inf(upper)
    zero = tf.zeros_like(lower)
    lo = tf.where(lo_inf, zero, lower)  # keep inf out of unused branches and gradients
    hi = tf.where(hi_inf, zero, upper)
    width = tf.where(lo_inf | hi_inf, tf.ones_like(lower), hi - lo)
    ratio = t / tc
    x_finite = lo + width * t
    x_upper = lo + scale * ratio
    x_lower = hi - scale * ratio
    x_line = scale * (t - tc) / (t * tc)
    log_half = tf.math.log(scale) - 2.0 * tf.math.log(tc)
    log_line = (tf.math.log(scale) + tf.math.log(t * t + tc * tc)
                - 2.0 * tf.math.log(t * tc))
    x = tf.where(lo_inf & hi_inf, x_line,
                 tf.where(hi_inf, x_upper, tf.where(lo_inf, x_lower, x_finite)))
    log_jac = tf.where(lo_inf & hi_inf, log_line,
                       tf.where(lo_inf | hi_inf, log_half, tf.math.log(width) + zero * t))
    return x, log_jac


def _unit_parts(low, high):
    """Infinity masks, ends with infinities replaced by 0, and the affine width (1 unless
    both ends are finite)."""
    lo_fin, hi_fin, lo_f, hi_f = finite_parts(low, high)
    width = tf.where(lo_fin & hi_fin, hi_f - lo_f, tf.ones_like(lo_f))
    return ~lo_fin, ~hi_fin, lo_f, hi_f, width


def unit_map(u, low, high):
    """Map ``u ∈ [0, 1]`` onto ``[low, high]`` with the transforms ``integrate`` uses.

    Finite: affine; ``[a, inf)``: ``a + u/(1-u)``; ``(-inf, b]``: ``b - (1-u)/u``; whole
    line: ``(2u - 1) / (4u(1-u))``. Returns ``(x, log_dxdu)``; ``u = 0``/``1`` give the
    ends exactly (±inf for infinite ones). Inverse: :func:`unit_map_inverse`.
    """
    lo_inf, hi_inf, lo_f, hi_f, width = _unit_parts(low, high)
    uc = 1.0 - u
    x_fin = tf.where(u < 0.5, lo_f + width * u, hi_f - width * uc)
    with np.errstate(divide="ignore"):
        x_right = lo_f + u / uc
        x_left = hi_f - uc / u
        x_both = (u - uc) / (4.0 * u * uc)
    x = tf.where(lo_inf, tf.where(hi_inf, x_both, x_left), tf.where(hi_inf, x_right, x_fin))
    log_u, log_uc = tf.math.log(u), tf.math.log(uc)
    lj_both = tf.math.log(2.0 * u * u - 2.0 * u + 1.0) - np.log(4.0) - 2.0 * (
        log_u + log_uc)
    lj = tf.where(lo_inf, tf.where(hi_inf, lj_both, -2.0 * log_u),
                  tf.where(hi_inf, -2.0 * log_uc, tf.math.log(width) + tf.zeros_like(u)))
    return x, lj


def unit_map_inverse(x, low, high):
    """Inverse of :func:`unit_map`: ``u ∈ [0, 1]`` of ``x ∈ [low, high]``."""
    lo_inf, hi_inf, lo_f, hi_f, width = _unit_parts(low, high)
    one = tf.ones_like(x)
    d_lo = tf.maximum(x - lo_f, 0.0)
    d_hi = tf.maximum(hi_f - x, 0.0)
    s = tf.sqrt(4.0 * x * x + 1.0)
    pos = tf.maximum(s + 2.0 * x, 1.0)  # only used for x >= 0
    u_both = tf.where(x >= 0, pos / (pos + 1.0), one / (s - 2.0 * x + 1.0))
    u = tf.where(lo_inf, tf.where(hi_inf, u_both, one / (1.0 + d_hi)),
                 tf.where(hi_inf, d_lo / (1.0 + d_lo), (x - lo_f) / width))
    u = tf.where(x >= high, one, tf.where(x <= low, tf.zeros_like(u), u))  # incl. ±inf ends
    return tf.clip_by_value(u, 0.0, 1.0)
