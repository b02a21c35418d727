"""Globally adaptive Genz–Malik cubature, every batch element refined in lockstep.

Each element keeps up to ``capacity`` boxes (centre and half-widths in the unit
coordinate of the integration box) in fixed-size arrays, so shapes are static and the
loop compiles under XLA. Each iteration bisects, per element, the fewest worst boxes
whose errors cover the excess over the tolerance (at most ``_SPLIT`` of them; under XLA
every offered slot is evaluated, chosen or not), each along the axis its rule chose,
and stops the element when its summed error meets the tolerance, it runs out of room,
or no box can be split any more (``ROUNDOFF``).

Gradients, as in :mod:`bayesquad.quadrature._adaptive`: the loop runs with recording
paused and its mesh is a constant; the integrand is evaluated once more on the final
boxes ("replay"), which is the sum autodiff sees. Under XLA the replay covers the
whole capacity, so ``max_evals`` should be what the integrand needs.
"""
import numpy as np

from bayesquad._tf import tf
from bayesquad.quadrature._adaptive import _excess_fraction, _stop_recording, _totals
from bayesquad.quadrature._cubature_rules import GenzMalik
from bayesquad.quadrature._segments import in_xla

__all__ = ["DEFAULT_REGIONS", "genz_malik"]

# Boxes offered for bisection per iteration. Under XLA all of them are evaluated every
# iteration, chosen or not, but an iteration's fixed cost dominates: on W6 (17-node boxes,
# ~660 bisections) 4/8/16/32 offered took 14.1/8.4/5.5/3.8 ms per value+gradient, with
# the same mesh. Only the boxes whose errors are needed to cover the excess are split.
_SPLIT = 32
_SPLIT_XLA = 32
DEFAULT_REGIONS = 1000  # boxes per element by default: max_evals = (2*1000 - 1) * nodes


class _Kernel:
    """The rule on ``q`` boxes per element: centres/half-widths ``[B, q, d]``."""

    def __init__(self, box, rule, log):
        self.box, self.rule, self.log = box, rule, log

    def __call__(self, center, half, live=None):
        """Per box ``(value, error, axis, bad)``, each ``[B, q]``."""
        box, rule = self.box, self.rule
        if live is not None:  # dead slots: the whole box, weighed zero below
            whole = tf.constant(0.5, center.dtype)
            center = tf.where(live[..., None], center, whole)
            half = tf.where(live[..., None], half, whole)
        q, n, d = tf.shape(center)[1], rule.size, box.dim
        t = tf.transpose(rule.nodes(center, half), [1, 2, 0, 3])  # [q, n, B, d]
        shape = tf.concat([[q * n], tf.constant(box.batch_shape.as_list(), tf.int32), [d]], 0)
        g, bad = box.evaluate(tf.reshape(t, shape))
        g = tf.transpose(tf.reshape(g, [q, n, box.size]), [2, 0, 1])
        bad = tf.reduce_any(tf.reshape(bad, [q, n, box.size]), 1)
        value, error, axis = rule.estimate(g, half, box.eps, self.log)
        bad = tf.transpose(bad)
        if live is not None:
            off = tf.constant(-np.inf if self.log else 0.0, value.dtype)
            value = tf.where(live, value, off)
            error = tf.where(live, error, off)
            bad &= live
        return value, error, axis, bad


def _priority(box, center, half, axis, error, log):
    """Split priority: the error, or -inf where the box cannot be split usefully."""
    ninf = tf.constant(-np.inf, error.dtype)
    priority = error if log else tf.where(error > 0, error, ninf)
    return tf.where(box.splittable(center, half, axis), priority, ninf)


def _children(center, half, axis, dim):
    """Both halves of each box along its axis: ``(centres, halves)`` doubled on axis 1."""
    step = tf.one_hot(axis, dim, dtype=half.dtype)
    new_half = half * (1.0 - 0.5 * step)
    shift = step * new_half
    return (tf.concat([center - shift, center + shift], 1),
            tf.concat([new_half, new_half], 1))


def _refine(kernel, capacity, log, rtol, atol):
    box = kernel.box
    size, dim, dtype = box.size, box.dim, box.dtype
    slots = capacity + 1  # the last slot is scratch for masked-out writes
    center0 = tf.fill([size, 1, dim], tf.constant(0.5, dtype))
    half0 = center0
    value0, error0, axis0, bad0 = kernel(center0, half0)
    pad = lambda z, c=0: tf.pad(  # noqa: E731
        z, [[0, 0], [0, slots - 1]] + [[0, 0]] * (z.shape.rank - 2), constant_values=c)
    state = dict(
        center=pad(center0, 0.5), half=pad(half0, 0.5), value=pad(value0),
        error=pad(error0), axis=pad(axis0),
        priority=pad(_priority(box, center0, half0, axis0, error0, log), -np.inf),
        used=tf.ones([size], tf.int32), bad=bad0[:, 0],
        evals=tf.fill([size], kernel.rule.size),
        done=tf.zeros([size], tf.bool), stuck=tf.zeros([size], tf.bool),
    )
    xla = in_xla()
    split = min(_SPLIT_XLA if xla else _SPLIT, capacity)
    ranks = tf.range(split)[None, :]
    ninf = tf.constant(-np.inf, dtype)

    def body(s):
        live = tf.range(slots)[None, :] < s["used"][:, None]
        total_value, total_error = _totals(s["value"], s["error"], live, log)
        excess = _excess_fraction(total_value, total_error, log, rtol, atol)
        converged = excess <= 0.0
        # not the scratch slot: under XLA it holds the children of unchosen boxes
        top, parent = tf.math.top_k(s["priority"][:, :capacity], split)
        share = tf.exp(top - total_error[:, None]) if log else top / total_error[:, None]
        share = tf.where(top > ninf, share, tf.zeros_like(share))
        before = tf.math.cumsum(share, axis=1, exclusive=True)
        free = capacity - s["used"]
        stuck = ~converged & (top[:, 0] == ninf)
        done = s["done"] | converged | s["bad"] | stuck | (free <= 0)
        select = (top > ninf) & (before < excess[:, None]) & (ranks < free[:, None])
        select &= ~done[:, None]
        n_sel = tf.reduce_sum(tf.cast(select, tf.int32), 1)
        if not xla:  # the chosen boxes are a prefix of the top-k order
            width = tf.reduce_max(n_sel)
            select, parent = select[:, :width], parent[:, :width]
        rank = tf.range(tf.shape(select)[1])[None, :]
        rows = tf.broadcast_to(tf.range(size)[:, None], tf.shape(select))
        take = lambda z: tf.gather(z, parent, batch_dims=1)  # noqa: E731
        center_c, half_c = _children(take(s["center"]), take(s["half"]), take(s["axis"]), dim)
        value, error, axis, bad = kernel(center_c, half_c)
        priority = _priority(box, center_c, half_c, axis, error, log)
        scratch = tf.fill(tf.shape(select), capacity)
        left_at = tf.stack([rows, tf.where(select, parent, scratch)], -1)
        right_at = tf.stack([rows, tf.where(select, s["used"][:, None] + rank, scratch)], -1)
        at = tf.concat([left_at, right_at], 1)
        put = lambda z, new: tf.tensor_scatter_nd_update(z, at, new)  # noqa: E731
        chosen = tf.concat([select, select], 1)
        return (dict(
            center=put(s["center"], center_c), half=put(s["half"], half_c),
            value=put(s["value"], value), error=put(s["error"], error),
            axis=put(s["axis"], axis), priority=put(s["priority"], priority),
            used=s["used"] + n_sel, bad=s["bad"] | tf.reduce_any(bad & chosen, 1),
            evals=s["evals"] + 2 * kernel.rule.size * n_sel, done=done,
            stuck=s["stuck"] | stuck,
        ),)

    def cond(s):
        return ~tf.reduce_all(s["done"])

    state = tf.while_loop(cond, body, (state,), maximum_iterations=capacity + 2)[0]
    return {k: tf.stop_gradient(v) for k, v in state.items()}


def _replay(kernel, mesh, capacity, log):
    """Differentiable sum over the final boxes (the whole capacity under XLA)."""
    if in_xla():
        size = capacity
    else:
        size = tf.maximum(tf.reduce_max(mesh["used"]), 0)
    live = tf.range(size)[None, :] < mesh["used"][:, None]
    value, _, _, bad = kernel(mesh["center"][:, :size], mesh["half"][:, :size], live)
    total_value, _ = _totals(value, value, live, log)
    all_live = tf.range(capacity + 1)[None, :] < mesh["used"][:, None]
    _, total_error = _totals(mesh["value"], mesh["error"], all_live, log)
    return total_value, total_error, tf.reduce_any(bad, 1)


def genz_malik(box, max_evals, log, rtol, atol):
    """Adaptive Genz–Malik on ``box``: flat ``(value, error, bad, evals, stuck)``, [B] each.

    ``box`` (``_cubature._Box``) supplies ``evaluate``, ``splittable`` and the shapes.
    """
    rule = GenzMalik(box.dim)
    budget = max_evals or (2 * DEFAULT_REGIONS - 1) * rule.size
    # the first box costs n evaluations, every bisection 2n more
    capacity = 1 + max(0, budget - rule.size) // (2 * rule.size)
    kernel = _Kernel(box, rule, log)
    with _stop_recording():
        mesh = _refine(kernel, capacity, log, rtol, atol)
    value, error, bad = _replay(kernel, mesh, capacity, log)
    return value, error, bad | mesh["bad"], mesh["evals"], mesh["stuck"]
