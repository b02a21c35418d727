"""Globally adaptive quadrature with any fixed rule, every batch element bisected in lockstep.

The driver takes a rule object (``_rules.FixedRule``: nodes, weights and an error
estimator on the unit interval) and applies it to every interval of its mesh;
``method="adaptive-gk"`` and ``"auto"`` hand it the Gauss–Kronrod rule
(``_methods.METHODS``).

Each element keeps up to ``capacity`` intervals (in the unit coordinate of their
segment) in fixed-size arrays, so shapes are static and the loop compiles under XLA.
Each iteration bisects, per element, the fewest worst intervals whose errors cover the
excess over the tolerance (at most ``_SPLIT`` of them), and stops the element when its
summed error meets the tolerance, it runs out of room, or nothing can be split.

Gradients: the loop runs with recording paused and its mesh is treated as a constant;
the integral is then evaluated once more on the final intervals ("replay"), which is
the sum autodiff sees. Outside XLA the replay covers only the intervals in use; under
XLA (static shapes) it covers the whole capacity, so there ``max_evals`` should be set
to what the integrand needs.
"""
import contextlib

import numpy as np

from bayesquad._tf import tf
from bayesquad.quadrature import _rules
from bayesquad.quadrature._fixed import finalize
from bayesquad.quadrature._segments import evaluate, in_xla
from bayesquad.quadrature._status import Status

try:  # pausing every tape keeps the adaptive loop off GradientTape/ForwardAccumulator
    from tensorflow.python.eager.record import stop_recording as _stop_recording
except ImportError:  # pragma: no cover - the loop is still excluded by stop_gradient
    _stop_recording = contextlib.nullcontext

__all__ = ["DEFAULT_BUDGET", "adaptive"]

_SPLIT = 8
_SPLIT_XLA = 2
DEFAULT_BUDGET = 4179  # 100 intervals of G10K21


class _Kernel:
    """Evaluates the rule on ``q`` intervals per element (arrays [B, q])."""

    def __init__(self, problem, segments, rule, log):
        self.problem, self.segments, self.rule, self.log = problem, segments, rule, log
        dtype = problem.dtype
        self.tau = tf.constant(rule.t, dtype)
        self.tauc = tf.constant(rule.tc, dtype)
        self.weights = tf.constant(rule.weights, dtype)
        self.functionals = tf.constant(rule.functionals, dtype)
        self.size = int(np.prod(problem.batch_shape.as_list(), dtype=np.int64))

    def min_width(self, seg, ends):
        """Narrowest interval worth splitting: nodes must stay distinct in x.

        On a finite segment the rule's nodes (Gauss–Kronrod's outermost sits 0.2% of the
        width from the ends) must differ from the interval ends in x, i.e. the width must exceed
        ~2000 ulps of |x|; and the unit coordinate must resolve the interval, relative
        to the nearer segment end (ends are kept as t and 1 - t, so both ends of a
        segment are resolved alike).
        """
        a, b, ac, bc = ends
        bounds = tf.transpose(tf.reshape(self.segments.bounds, [-1, self.size]))
        lo = tf.gather(bounds, seg, batch_dims=1)
        hi = tf.gather(bounds, seg + 1, batch_dims=1)
        finite = tf.math.is_finite(lo) & tf.math.is_finite(hi)
        zero = tf.zeros_like(lo)
        lo, hi = tf.where(finite, lo, zero), tf.where(finite, hi, zero)
        length = tf.where(finite & (hi > lo), hi - lo, tf.ones_like(lo))
        near_lo = a + b < 1.0
        x_a = tf.abs(tf.where(near_lo, lo + (hi - lo) * a, hi - (hi - lo) * ac))
        x_b = tf.abs(tf.where(near_lo, lo + (hi - lo) * b, hi - (hi - lo) * bc))
        eps = self.problem.eps
        in_x = 2048.0 * eps * tf.maximum(x_a, x_b) / length
        in_t = 64.0 * eps * tf.where(near_lo, b, ac)
        # below tiny/eps, node offsets would be subnormal, which TF flushes to zero
        floor = self.problem.tiny / eps
        if self.problem.complement:
            # f reads the exact distance xc near the ends: only t must resolve the nodes
            return tf.maximum(in_t, floor)
        return tf.maximum(tf.where(finite, tf.maximum(in_x, in_t), in_t), floor)

    @staticmethod
    def width(ends):
        a, b, ac, bc = ends
        return tf.where(a + b < 1.0, b - a, ac - bc)

    def __call__(self, seg, ends, live=None, with_error=True):
        """Per-interval ``(value, error, bad)``, [B, q] each; log mode gives logs.

        ``ends = (a, b, 1 - a, 1 - b)`` in the segment's unit coordinate.
        """
        a, b, ac, bc = ends
        q, n = tf.shape(a)[1], self.rule.size
        width = self.width(ends)
        if live is not None:  # dead slots: a harmless interior node with zero weight
            half = tf.constant(0.5, a.dtype)
            a, bc = tf.where(live, a, half), tf.where(live, bc, half)
            width = tf.where(live, width, tf.zeros_like(width))
        # t from the left end and tc = 1 - t from the right end, each exact near its end
        t = a[:, :, None] + width[:, :, None] * self.tau
        tc = bc[:, :, None] + width[:, :, None] * self.tauc
        seg = tf.broadcast_to(seg[:, :, None], [self.size, q, n])
        shape = tf.concat([[q * n], tf.constant(self.problem.batch_shape.as_list(), tf.int32)], 0)
        flat = lambda z: tf.reshape(tf.transpose(tf.reshape(z, [self.size, q * n])), shape)  # noqa: E731
        g, bad = evaluate(self.problem, self.segments, flat(seg), flat(t), flat(tc), self.log)
        g = tf.reshape(g, [q, n, self.size])
        bad = tf.reduce_any(tf.reshape(bad, [q, n, self.size]), axis=1)
        w_t = tf.transpose(width)[:, None, :]
        if self.log:
            # dead slots have zero width: log(1) inside, -inf outside, so no NaN gradient
            positive = w_t > 0
            log_w = tf.math.log(tf.where(positive, w_t, tf.ones_like(w_t)))
            g = tf.where(positive, g + log_w, tf.constant(-np.inf, g.dtype))
        else:
            g = g * w_t
        scale, h = _rules.panel_sums(g, self.weights, self.log)
        value = tf.einsum("n,pn...->p...", self.weights, h)
        if with_error:
            error = self.rule.estimate(h, self.functionals, self.weights, self.problem.eps)
        else:
            error = tf.zeros_like(value)
        if self.log:
            value, error = scale + tf.math.log(value), scale + tf.math.log(error)
        return tf.transpose(value), tf.transpose(error), tf.transpose(bad)


def _totals(value, error, live, log):
    if log:
        ninf = tf.constant(-np.inf, value.dtype)
        return (tf.reduce_logsumexp(tf.where(live, value, ninf), 1),
                tf.reduce_logsumexp(tf.where(live, error, ninf), 1))
    zero = tf.zeros_like(value)
    return tf.reduce_sum(tf.where(live, value, zero), 1), tf.reduce_sum(tf.where(live, error, zero), 1)


def _excess_fraction(total_value, total_error, log, rtol, atol):
    """Fraction of the summed error that must go for the element to converge."""
    dtype = total_value.dtype
    if log:
        log_tol = tf.math.log(tf.maximum(tf.cast(atol, dtype), tf.cast(rtol, dtype)))
        return 1.0 - tf.exp(log_tol + total_value - total_error)
    tol = tf.maximum(tf.cast(atol, dtype), tf.cast(rtol, dtype) * tf.abs(total_value))
    return 1.0 - tol / total_error


def _priority(kernel, seg, ends, error, log):
    """Splitting priority: the error, or -inf where the interval cannot be split."""
    ninf = tf.constant(-np.inf, error.dtype)
    priority = error if log else tf.where(error > 0, error, ninf)
    return tf.where(kernel.width(ends) > kernel.min_width(seg, ends), priority, ninf)


def _refine(kernel, count, capacity, log, rtol, atol, bailout):
    """The adaptive loop; returns the final mesh and per-element flags."""
    size, dtype = kernel.size, kernel.problem.dtype
    slots = capacity + 1  # the last slot is scratch for masked-out writes
    seg0 = tf.broadcast_to(tf.range(count, dtype=tf.int32), [size, count])
    zeros0 = tf.zeros([size, count], dtype)
    ends0 = (zeros0, zeros0 + 1.0, zeros0 + 1.0, zeros0)
    value0, error0, bad0 = kernel(seg0, ends0)
    pad = [[0, 0], [0, slots - count]]
    ninf = tf.constant(-np.inf, dtype)
    state = dict(
        seg=tf.pad(seg0, pad), a=tf.pad(ends0[0], pad), b=tf.pad(ends0[1], pad),
        ac=tf.pad(ends0[2], pad), bc=tf.pad(ends0[3], pad),
        value=tf.pad(value0, pad), error=tf.pad(error0, pad),
        priority=tf.pad(_priority(kernel, seg0, ends0, error0, log), pad,
                        constant_values=-np.inf),
        used=tf.fill([size], count), bad=tf.reduce_any(bad0, 1),
        evals=tf.fill([size], count * kernel.rule.size),
        done=tf.zeros([size], tf.bool), stuck=tf.zeros([size], tf.bool),
    )
    # Under XLA every iteration evaluates `split` intervals per element whether or not
    # they are chosen, so few are offered; elsewhere only as many as some element chose.
    xla = in_xla()
    split = min(_SPLIT_XLA if xla else _SPLIT, capacity)
    ranks = tf.range(split)[None, :]

    def body(s):
        live = tf.range(slots)[None, :] < s["used"][:, None]
        total_value, total_error = _totals(s["value"], s["error"], live, log)
        excess = _excess_fraction(total_value, total_error, log, rtol, atol)
        converged = excess <= 0.0
        if bailout is not None:
            # Error piling up in a tiny interval at a segment end is the signature of an
            # endpoint singularity, which bisection reaches only slowly: leave it to the
            # caller's next method instead of spending the budget.
            worst = tf.argmax(tf.where(live, s["error"], ninf), 1)[:, None]
            worst_ends = [tf.gather(s[k], worst, batch_dims=1)[:, 0] for k in "a b ac bc".split()]
            at_end = tf.equal(worst_ends[0], 0.0) | tf.equal(worst_ends[3], 0.0)
            stuck_at_end = at_end & (_Kernel.width(worst_ends) < bailout)
        else:
            stuck_at_end = tf.zeros([size], tf.bool)
        # not the scratch slot: under XLA it holds the children of unchosen intervals,
        # priorities included, and splitting it would count a piece of the range twice
        top, parent = tf.math.top_k(s["priority"][:, :capacity], split)
        share = tf.exp(top - total_error[:, None]) if log else top / total_error[:, None]
        share = tf.where(top > ninf, share, tf.zeros_like(share))
        before = tf.math.cumsum(share, axis=1, exclusive=True)
        free = capacity - s["used"]
        stuck = ~converged & (top[:, 0] == ninf)
        done = s["done"] | converged | s["bad"] | stuck | (free <= 0) | stuck_at_end
        select = (top > ninf) & (before < excess[:, None]) & (ranks < free[:, None])
        select &= ~done[:, None]
        n_sel = tf.reduce_sum(tf.cast(select, tf.int32), 1)
        if not xla:  # the chosen intervals are a prefix of the top-k order
            width = tf.reduce_max(n_sel)
            select, parent = select[:, :width], parent[:, :width]
        rank = tf.range(tf.shape(select)[1])[None, :]
        rows = tf.broadcast_to(tf.range(size)[:, None], tf.shape(select))
        take = lambda z: tf.gather(z, parent, batch_dims=1)  # noqa: E731
        pa, pb, pac, pbc, pseg = (take(s[k]) for k in ("a", "b", "ac", "bc", "seg"))
        mid, midc = 0.5 * (pa + pb), 0.5 * (pac + pbc)
        both = lambda left, right: tf.concat([left, right], 1)  # noqa: E731
        seg_c = both(pseg, pseg)
        ends_c = (both(pa, mid), both(mid, pb), both(pac, midc), both(midc, pbc))
        value, error, bad = kernel(seg_c, ends_c)
        priority = _priority(kernel, seg_c, ends_c, error, log)
        scratch = tf.fill(tf.shape(select), capacity)
        left_at = tf.stack([rows, tf.where(select, parent, scratch)], -1)
        right_at = tf.stack([rows, tf.where(select, s["used"][:, None] + rank, scratch)], -1)
        at = tf.concat([left_at, right_at], 1)
        put = lambda z, new: tf.tensor_scatter_nd_update(z, at, new)  # noqa: E731
        chosen = both(select, select)
        return (dict(
            seg=put(s["seg"], seg_c), a=put(s["a"], ends_c[0]), b=put(s["b"], ends_c[1]),
            ac=put(s["ac"], ends_c[2]), bc=put(s["bc"], ends_c[3]),
            value=put(s["value"], value), error=put(s["error"], error),
            priority=put(s["priority"], priority),
            used=s["used"] + n_sel, bad=s["bad"] | tf.reduce_any(bad & chosen, 1),
            evals=s["evals"] + 2 * kernel.rule.size * n_sel, done=done,
            stuck=s["stuck"] | stuck,
        ),)

    def cond(s):
        return ~tf.reduce_all(s["done"])

    state = tf.while_loop(cond, body, (state,), maximum_iterations=capacity + 2)[0]
    return {k: tf.stop_gradient(v) for k, v in state.items()}


def _replay(kernel, mesh, capacity, log):
    """Differentiable sum over the final intervals of every element.

    XLA needs static shapes, so there the replay covers the whole capacity (dead slots
    weigh zero); elsewhere it stops at the largest interval count in the batch.
    Choosing among a few padded sizes with ``tf.switch_case`` was measured to multiply
    XLA compile time by 3-5 (each branch carries its own gradient), so it is not done.
    """
    if in_xla():
        size = capacity
    else:
        size = tf.maximum(tf.reduce_max(mesh["used"]), 0)  # an empty batch has no maximum
    live = tf.range(size)[None, :] < mesh["used"][:, None]
    # The errors were computed by the loop on the same nodes; only the value is replayed.
    ends = tuple(mesh[k][:, :size] for k in ("a", "b", "ac", "bc"))
    value, _, bad = kernel(mesh["seg"][:, :size], ends, live, with_error=False)
    total_value, _ = _totals(value, value, live, log)
    all_live = tf.range(capacity + 1)[None, :] < mesh["used"][:, None]
    _, total_error = _totals(mesh["value"], mesh["error"], all_live, log)
    return total_value, total_error, tf.reduce_any(bad & live, 1)


def adaptive(problem, segments, rule, max_evals, log, rtol, atol, bailout=None):
    """Globally adaptive integration with ``rule``: see the module docstring.

    Parameters
    ----------
    problem, segments
        From ``_validate.prepare`` and ``_segments.build_segments``.
    rule : _rules.FixedRule
        Applied to every interval; its ``estimate`` decides where to bisect.
    max_evals : int or None
        Integrand evaluations per element (``DEFAULT_BUDGET`` when None).
    log, rtol, atol
        As in :func:`bayesquad.integrate`.
    bailout : float, optional
        A width in segment units (used by ``method="auto"``): stop an element early,
        not converged, when its worst interval is that narrow and touches a segment end.

    Returns
    -------
    IntegrationResult

    Notes
    -----
    Capacity is fixed by the budget: the first pass costs ``count * n`` evaluations and
    each bisection ``2n`` more, for an ``n``-node rule.
    """
    budget = max_evals or DEFAULT_BUDGET
    count = segments.count
    # the first pass costs count*n evaluations, every bisection 2n more
    capacity = count + max(0, budget - count * rule.size) // (2 * rule.size)
    kernel = _Kernel(problem, segments, rule, log)
    with _stop_recording():
        mesh = _refine(kernel, count, capacity, log, rtol, atol, bailout)
    value, error, bad = _replay(kernel, mesh, capacity, log)
    shape = problem.batch_shape
    reshape = lambda z: tf.reshape(z, shape)  # noqa: E731
    failed = tf.where(mesh["stuck"], int(Status.ROUNDOFF), int(Status.BUDGET_EXHAUSTED))
    return finalize(problem, segments, reshape(value), reshape(error), reshape(bad | mesh["bad"]),
                    reshape(mesh["evals"]), log, rtol, atol, failed=reshape(failed))
