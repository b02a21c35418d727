"""Limits, breakpoints and variable transforms shared by every rule.

The range is split at the breakpoints into segments; every rule works on the unit
interval of a segment, with nodes given as ``(t, tc)`` where ``tc = 1 - t`` is passed
separately so nodes next to an endpoint keep full precision. Each segment is mapped to
x (``_coordinates.segment_map``) affinely (finite), by ``x = lo + t/tc`` (``[lo, inf)``), ``x = hi - tc/t``
(``(-inf, hi]``) or ``x = (t - tc)/(4 t tc)`` (whole line). Composed with tanh-sinh the
last two are exactly the exp-sinh and sinh-sinh rules.

Because x depends on the limits and breakpoints through these maps, differentiating a
quadrature sum evaluated on fixed ``(t, tc)`` gives the Leibniz terms for free.

Near a finite end other than 0 the node ``x = hi - width*tc`` is rounded to the grid of
representable numbers around ``hi``, so the integrand is evaluated at a distance
``hi - x`` from the end that differs from the intended ``width*tc`` by up to half an ulp
of ``hi``: a relative error of ``eps/distance`` that no rule can see. :func:`evaluate`
reports ``log(intended/actual)`` per node so that a rule can correct for it, and with
``complement=True`` hands the integrand the exact intended distance instead.
"""
import numpy as np

from bayesquad._tf import tf
from bayesquad.quadrature._coordinates import segment_map
from tensorflow.python.ops import control_flow_util as _control_flow_util

__all__ = ["Segments", "build_segments", "evaluate", "in_xla"]


def in_xla():
    """True where shapes must be static: tracing for XLA (``jit_compile=True``) or for
    ``tf.vectorized_map`` (which TFP's auto-batched joint distributions use, and whose
    loop body TF traces under the name scope ``loop_body``)."""
    graph = tf.compat.v1.get_default_graph()
    if _control_flow_util.GraphOrParentsInXlaContext(graph):
        return True
    return "loop_body" in graph.get_name_scope().split("/")


class Segments:
    """Segment bounds ``[S+1] + batch_shape`` plus the per-element sign and validity.

    ``may_low_inf``/``may_high_inf`` are False when the limits are known at trace time
    to be finite at that end; the maps for impossible kinds are then left out of the
    graph, which keeps XLA compile times down.
    """

    def __init__(self, bounds, sign, invalid, count, may_low_inf, may_high_inf):
        self.bounds = bounds
        self.sign = sign
        self.invalid = invalid
        self.count = count
        self.may_low_inf = may_low_inf
        self.may_high_inf = may_high_inf


def build_segments(problem, log):
    batch_shape = problem.batch_shape
    lower = tf.broadcast_to(problem.lower, batch_shape)
    upper = tf.broadcast_to(problem.upper, batch_shape)
    reversed_ = upper < lower
    a = tf.minimum(lower, upper)
    b = tf.maximum(lower, upper)
    invalid = tf.math.is_nan(lower) | tf.math.is_nan(upper)
    if log:
        invalid |= reversed_
    one = tf.ones([], problem.dtype)
    sign = tf.where(reversed_, -one, one)
    edges = [a[tf.newaxis]]
    count = 1
    if problem.points is not None:
        pts = tf.broadcast_to(
            problem.points, batch_shape.concatenate(problem.points.shape[-1:])
        )
        invalid |= tf.reduce_any(tf.math.is_nan(pts), axis=-1)
        pts = tf.clip_by_value(pts, a[..., tf.newaxis], b[..., tf.newaxis])
        pts = tf.sort(pts, axis=-1)
        k = int(problem.points.shape[-1])
        perm = [pts.shape.rank - 1] + list(range(pts.shape.rank - 1))
        edges.append(tf.transpose(pts, perm))
        count += k
    edges.append(b[tf.newaxis])
    bounds = tf.concat(edges, axis=0)
    low_static = tf.get_static_value(problem.lower)
    up_static = tf.get_static_value(problem.upper)
    if low_static is None or up_static is None:
        may_low_inf = may_high_inf = True
    else:
        may_low_inf = bool(np.isinf(np.minimum(low_static, up_static)).any())
        may_high_inf = bool(np.isinf(np.maximum(low_static, up_static)).any())
    return Segments(bounds, sign, invalid, count, may_low_inf, may_high_inf)


def _select(seg, bounds, offset):
    """Bound ``seg + offset`` of each node; ``seg`` is [m] (static) or [m]+batch."""
    count = int(bounds.shape[0]) - 1
    if isinstance(seg, np.ndarray):
        # Static segment indices come in runs: broadcast each bound over its run. (A
        # gather's gradient needs a segment count that XLA could not see as a constant
        # inside the tf.cond of method="auto".)
        starts = np.flatnonzero(np.diff(seg, prepend=-1))
        lengths = np.diff(np.append(starts, seg.size))
        shape = bounds.shape[1:]
        runs = [tf.broadcast_to(bounds[seg[i] + offset][tf.newaxis],
                                tf.TensorShape([n]).concatenate(shape))
                for i, n in zip(starts, lengths)]
        return runs[0] if len(runs) == 1 else tf.concat(runs, 0)
    out = bounds[offset]
    for s in range(1, count):
        out = tf.where(tf.equal(seg, s), bounds[s + offset], out)
    return out


def _call(problem, x, xc=None):
    fx = problem.f(x, *problem.args) if xc is None else problem.f(x, xc, *problem.args)
    try:
        fx = tf.convert_to_tensor(fx)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"f returned {type(fx).__name__}, which is not a tensor: {err}; f(x, *args) must "
            "return one value per node, a tensor shaped like x"
        ) from None
    if fx.dtype != x.dtype:
        raise TypeError(
            f"f returned dtype {fx.dtype.name} for nodes of dtype {x.dtype.name}; "
            "f must return the dtype of x"
        )
    # No broadcasting: a scalar or a shape that merely broadcasts (a stray reduce_sum, a
    # constant) would be spread over every node and integrate to a wrong number.
    if fx.shape.rank is not None and not (
            fx.shape.rank == x.shape.rank and fx.shape.is_compatible_with(x.shape)):
        raise ValueError(
            f"f returned shape {fx.shape.as_list()} for nodes of shape {x.shape.as_list()}; "
            "f(x, *args) must return one value per node, shaped like x = [m] + batch_shape "
            "(nodes on the leading axis; write a constant c as c * tf.ones_like(x), and do "
            "not reduce over x)"
        )
    return tf.ensure_shape(fx, x.shape)


def _distances(t, tc, lo, hi, x):
    """Per node: the intended distance to the nearer end of its segment (``-width*t``
    from ``lo``, ``+width*tc`` from ``hi``, the signed complement of Stan's integrate_1d)
    and ``log(intended / actual)`` where ``actual`` is measured from the rounded x. Both
    are NaN resp. 0 where that end is infinite or the segment is empty."""
    finite = tf.math.is_finite(lo) & tf.math.is_finite(hi) & (hi > lo)
    zero = tf.zeros_like(x)
    lo_f, hi_f = tf.where(finite, lo, zero), tf.where(finite, hi, zero)
    width = hi_f - lo_f
    near_lo = t < 0.5
    intended = tf.where(near_lo, width * t, width * tc)
    # exact (Sterbenz) for x within a factor 2 of the end, which holds where it matters
    actual = tf.where(near_lo, x - lo_f, hi_f - x)
    usable = finite & (actual > 0) & (intended > 0)
    one = tf.ones_like(x)
    shift = tf.where(usable, tf.math.log(tf.where(usable, intended, one) /
                                         tf.where(usable, actual, one)), zero)
    complement = tf.where(finite, tf.where(near_lo, -intended, intended),
                          tf.constant(np.nan, x.dtype) * one)
    return complement, tf.stop_gradient(shift)


def evaluate(problem, segments, seg, t, tc, log, offsets=False):
    """Integrand in t-space at nodes ``(seg, t, tc)``: values times the Jacobian.

    Returns ``(g, bad)``: ``g = f(x) dx/dt`` (log mode: ``f(x) + log dx/dt``) with shape
    ``[m] + batch_shape``, and ``bad`` marking non-finite integrand values. With
    ``offsets=True`` also ``log(intended/actual)`` distance of each node to the nearer
    end of its segment (0 where the integrand was handed the exact complement).
    """
    shape = tf.concat([tf.shape(t)[:1], tf.constant(problem.batch_shape.as_list(), tf.int32)], 0)
    lo = _select(seg, segments.bounds, 0)
    hi = _select(seg, segments.bounds, 1)
    extra = problem.batch_shape.rank - (t.shape.rank - 1)
    if extra:
        ones = tf.ones([extra], tf.int32)
        t = tf.reshape(t, tf.concat([tf.shape(t), ones], 0))
        tc = tf.reshape(tc, tf.concat([tf.shape(tc), ones], 0))
    x, jac = segment_map(t, tc, lo, hi, problem.tiny, segments.may_low_inf, segments.may_high_inf)
    x = tf.broadcast_to(x, shape)
    if problem.complement or offsets:
        t_b, tc_b = tf.broadcast_to(t, shape), tf.broadcast_to(tc, shape)
        xc, shift = _distances(t_b, tc_b, lo, hi, x)
    fx = _call(problem, x, xc if problem.complement else None)
    if log:
        bad = (tf.math.is_nan(fx) | (fx == np.inf)) & (jac > 0)
        g = tf.where(jac > 0, fx + tf.math.log(tf.where(jac > 0, jac, 1.0)), -np.inf)
    else:
        # zero-width segments (breakpoints outside the range) contribute nothing at all
        bad = ~tf.math.is_finite(fx) & (jac != 0)
        g = tf.where(jac != 0, fx * jac, tf.zeros_like(fx))
    if offsets:
        return g, bad, tf.zeros_like(shift) if problem.complement else shift
    return g, bad
