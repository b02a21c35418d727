"""Tanh-sinh quadrature with level doubling (exp-sinh / sinh-sinh on infinite ends).

Nodes cluster doubly exponentially at the ends of each segment, so integrable endpoint
singularities (x^-0.9, log x) cost little. Each level halves the step and adds the new
nodes only. Levels 0..4 are evaluated in one call of the integrand and the remaining
levels in a second call behind a ``tf.cond`` that skips them once every element has
converged, so shapes stay static for XLA (one call per level compiled several times
slower). Elements are frozen at the level where they converge.

Error estimate at level k, from the level sums S_k: with e1 = |S_k - S_{k-1}| and
e2 = |S_{k-1} - S_{k-2}|, the error is ``e1 * min(1, 10 e1/e2)`` (the rule converges
roughly quadratically, so the next difference is far below e1), floored at the rounding
level, plus the uncertainty of the part of the integral beyond the outermost resolvable
node.

Ends. Nodes stop at a distance ``delta`` from each end below which they would not be
distinct from it (``4 eps |end|`` in x; ``sqrt(tiny)`` at an end at 0 or infinity). Three
probes at ``delta, 4 delta, 16 delta`` measure the power law ``g ~ C u^alpha`` the
t-space integrand follows there (from the distances the integrand actually saw, which
near an end other than 0 differ from the intended ones by rounding). Where both probe
pairs give an integrable ``alpha``, the part closer than ``delta`` is added as
``C delta^(alpha+1) / (alpha+1)`` with twice the difference between the two pairs'
answers as its error, and every node near that end is corrected from the distance it
was evaluated at to the one the rule intended (``g * (intended/actual)^alpha``). That is
what lets ``(1-x)^(-1/2)`` at an upper limit 1 reach the accuracy of ``x^(-1/2)`` at 0;
QUADPACK reaches it by extrapolating its bisection sequence instead. An end without a
consistent power law (oscillation, a sign change, ``alpha <= -1``) adds nothing and
claims ``10 delta |g(delta)|`` of error, which makes the status ROUNDOFF where that
exceeds the tolerance.
"""
import numpy as np

from bayesquad._tf import tf
from bayesquad.quadrature import _tables
from bayesquad.quadrature._fixed import finalize
from bayesquad.quadrature._segments import evaluate, in_xla
from bayesquad.quadrature._status import Status

__all__ = ["tanh_sinh"]

_DEFAULT_LEVELS = 7
_FIRST_PHASE = 4
_PROBE_RATIO = 4.0
# alpha this close to -1 is a non-integrable (or numerically indistinguishable) end
_ALPHA_MARGIN = 1e-3


def _unit_nodes(max_levels, tiny):
    """Nodes of the whole rule in t-space, grouped by the level that adds them."""
    t_half, dist, weight, level = _tables.tanh_sinh(max_levels, tiny)
    groups = []
    for lev in range(max_levels + 1):
        idx = np.nonzero((level == lev) & (t_half > 0))[0]
        d, w = dist[idx], weight[idx]
        t = np.concatenate([1.0 - 0.5 * d, 0.5 * d])
        tc = np.concatenate([0.5 * d, 1.0 - 0.5 * d])
        ww = np.concatenate([0.5 * w, 0.5 * w])
        if lev == 0:
            t, tc = np.append(t, 0.5), np.append(tc, 0.5)
            ww = np.append(ww, 0.5 * weight[0])
        groups.append((t, tc, ww))
    return groups


def _resolvable_distance(bounds, eps, tiny):
    """Smallest t-distance from each end of each segment whose node is distinct from it."""
    lo, hi = bounds[:-1], bounds[1:]
    lo_inf, hi_inf = tf.math.is_inf(lo), tf.math.is_inf(hi)
    finite = ~lo_inf & ~hi_inf
    width = tf.where(finite, hi - lo, tf.ones_like(lo))
    width = tf.where(width > 0, width, tf.ones_like(width))
    # sqrt(tiny) also at finite ends: nearer nodes gain nothing measurable (x^-0.9 loses
    # 5e-15 of its mass) but make the integrand's derivative overflow (x^-1.5 at 1e-300)
    # and turn gradients into NaN.
    floor = tf.cast(np.sqrt(tiny), lo.dtype)
    d_lo = tf.where(lo_inf | ~finite, floor, tf.maximum(4.0 * eps * tf.abs(lo) / width, floor))
    d_hi = tf.where(hi_inf | ~finite, floor, tf.maximum(4.0 * eps * tf.abs(hi) / width, floor))
    return d_lo, d_hi  # [S] + batch


def tanh_sinh(problem, segments, max_levels, log, rtol, atol, skip_converged=True):
    """``method="tanh-sinh"``: see the module docstring.

    ``skip_converged=False`` drops the ``tf.cond`` around the later levels (used when the
    caller already runs this inside a conditional: nested conditionals with gradients
    compile very slowly under XLA).
    """
    levels = max_levels or _DEFAULT_LEVELS
    # Under XLA, this tf.cond with gradients crashed the process (heap corruption in
    # TF 2.21's XLA CPU backend, reproduced with a batched upper limit), so there all
    # levels are always evaluated.
    skip = skip_converged and not in_xla()
    dtype, eps, tiny = problem.dtype, problem.eps, problem.tiny
    count = segments.count
    groups = _unit_nodes(levels, tiny)
    d_lo, d_hi = _resolvable_distance(segments.bounds, eps, tiny)
    batch_rank = problem.batch_shape.rank
    expand = lambda z: tf.reshape(z, z.shape.concatenate([1] * batch_rank))  # noqa: E731
    ninf = tf.constant(-np.inf, dtype)

    def level_terms(levels_wanted):
        """Per level: sum of w*g over its new nodes (all segments), sum of |w g|, bad.

        All requested levels are evaluated in one call of ``f`` (one fused XLA kernel
        rather than one per level, which compiles several times faster).
        """
        parts = [groups[lev] for lev in levels_wanted]
        sizes = [p[0].size for p in parts]
        t_np = np.concatenate([p[0] for p in parts])
        tc_np = np.concatenate([p[1] for p in parts])
        w_np = np.concatenate([p[2] for p in parts])
        m = t_np.size
        seg = np.repeat(np.arange(count), m)
        t = expand(tf.constant(np.tile(t_np, count), dtype))
        tc = expand(tf.constant(np.tile(tc_np, count), dtype))
        w = expand(tf.constant(np.tile(w_np, count), dtype))
        # the masks need no gradient; keeping the gathers off the tape also keeps their
        # gradients (segment sums XLA cannot size inside auto's tf.cond) out of the graph
        keep = (t >= tf.gather(tf.stop_gradient(d_lo), seg)) & (
            tc >= tf.gather(tf.stop_gradient(d_hi), seg))
        half = tf.constant(0.5, dtype)
        g, bad, shift = evaluate(problem, segments, seg, tf.where(keep, t, half),
                                 tf.where(keep, tc, half), log, offsets=True)
        # nodes too close to an end to resolve take the end's power law instead
        model, modelled = end_model(seg, t, tc)
        g = tf.where(keep, corrected(g, shift, seg, t), model)
        w = tf.where(keep | modelled, w, tf.zeros_like(w))
        # regroup [count * m] -> [count, m] so each level's slice covers every segment
        regroup = lambda z: tf.reshape(z, tf.concat([[count, m], tf.shape(z)[1:]], 0))  # noqa: E731
        g, w, bad = regroup(g), regroup(w), regroup(bad & keep)
        out, start = [], 0
        for size in sizes:
            gs, ws = g[:, start:start + size], w[:, start:start + size]
            level_bad = tf.reduce_any(bad[:, start:start + size], [0, 1])
            if log:
                lw = tf.where(ws > 0, gs + tf.math.log(tf.where(ws > 0, ws, 1.0)), ninf)
                total = tf.reduce_logsumexp(lw, [0, 1])
                out.append((total, total, level_bad, size * count))
            else:
                out.append((tf.reduce_sum(ws * gs, [0, 1]), tf.reduce_sum(tf.abs(ws * gs), [0, 1]),
                            level_bad, size * count))
            start += size
        return out

    def end_laws():
        """Power law at each end of each segment from three probes (module docstring).

        Returns per end (``[2, count] + batch``, lower ends first): whether a consistent
        integrable law was found, its ``alpha``, and the probe anchoring it (log |g|, its
        sign, and the log distance it was evaluated at); plus the summed error of the
        modelled parts over every end (a log in log mode) and the probes' bad flags.
        """
        seg = np.repeat(np.arange(count), 6)
        end = np.tile(np.repeat([0, 1], 3), count)
        scale = np.tile(np.tile(_PROBE_RATIO ** np.arange(3), 2), count)
        d_all = tf.stop_gradient(tf.concat([d_lo, d_hi], 0))  # [2 count] + batch
        d = tf.gather(d_all, end * count + seg) * expand(tf.constant(scale, dtype))
        at_lo = expand(tf.constant(end == 0))
        g, bad, shift = evaluate(problem, segments, seg, tf.where(at_lo, d, 1.0 - d),
                                 tf.where(at_lo, 1.0 - d, d), log, offsets=True)
        split = lambda z: tf.reshape(z, tf.concat([[count, 2, 3], tf.shape(z)[1:]], 0))  # noqa: E731
        g, bad, d, shift = split(g), split(bad), split(d), split(shift)
        log_u = tf.math.log(d) - shift  # log of the distance each probe was evaluated at
        finite = tf.reduce_all(tf.math.is_finite(g), 2)
        if log:
            sign = tf.ones_like(g[:, :, 0])
            level = g
        else:
            signs = tf.sign(g)
            finite &= tf.reduce_all(tf.equal(signs, signs[:, :, :1]) & (signs != 0), 2)
            sign = signs[:, :, 0]
            level = tf.math.log(tf.abs(tf.where(tf.math.is_finite(g) & (g != 0), g, 1.0)))
        finite &= 16.0 * d[:, :, 0] < 0.25  # the probes must lie near their end
        level = tf.where(finite[:, :, None], level, tf.zeros_like(level))
        slope = lambda i, j: (level[:, :, j] - level[:, :, i]) / (  # noqa: E731
            log_u[:, :, j] - log_u[:, :, i])
        alpha12, alpha23 = slope(0, 1), slope(1, 2)
        valid = finite & (alpha12 > _ALPHA_MARGIN - 1.0) & (alpha23 > _ALPHA_MARGIN - 1.0)
        one = tf.ones_like(alpha12)
        a12, a23 = tf.where(valid, alpha12, one), tf.where(valid, alpha23, one)
        log_d = tf.math.log(d[:, :, 0])

        def log_tail(a):  # log |integral of the law from 0 to d|
            return level[:, :, 0] + a * (log_d - log_u[:, :, 0]) + log_d - tf.math.log1p(a)

        t12 = log_tail(a12)
        # the two laws' difference, plus rounding (eps in g and ~eps in alpha, amplified
        # by 1/(alpha+1))
        rel = 2.0 * tf.abs(1.0 - tf.exp(log_tail(a23) - t12)) + 4.0 * eps / (a12 + 1.0)
        g0 = tf.where(finite, level[:, :, 0], tf.where(tf.math.is_finite(g[:, :, 0]), (
            g[:, :, 0] if log else tf.math.log(tf.abs(g[:, :, 0]))), -np.inf * one))
        fallback = log_d + np.log(10.0) + g0  # 10 delta |g(delta)|
        err = tf.where(valid, t12 + tf.math.log(rel), fallback)
        flat = lambda z: tf.reshape(z, tf.concat([[2 * count], tf.shape(z)[2:]], 0))  # noqa: E731
        total_err = tf.reduce_logsumexp(flat(err), 0)
        laws = dict(valid=valid, alpha=a12, level=level[:, :, 0], sign=sign,
                    log_u=log_u[:, :, 0])
        return laws, (total_err if log else tf.exp(total_err)), tf.reduce_any(bad, [0, 1, 2])

    laws, tail_error, bad = end_laws()
    per_node = lambda z, seg, t: tf.where(  # noqa: E731
        t < 0.5, tf.gather(z[:, 0], seg), tf.gather(z[:, 1], seg))
    # log of the largest finite value, so the modelled nodes cannot overflow before
    # their (tiny) weights multiply them
    log_max = float(np.log(np.finfo(dtype.as_numpy_dtype).max)) - 1.0

    def end_model(seg, t, tc):
        """The end's power law at the intended distances of nodes ``(seg, t, tc)``."""
        # the table reaches distances of ~tiny, where TF flushes subnormal halves to 0
        log_u = tf.math.log(tf.maximum(tf.where(t < 0.5, t, tc), tiny))
        valid = per_node(laws["valid"], seg, t)
        alpha = per_node(laws["alpha"], seg, t)
        log_g = per_node(laws["level"], seg, t) + alpha * (log_u - per_node(laws["log_u"], seg, t))
        valid &= log_g < log_max
        log_g = tf.where(valid, log_g, tf.zeros_like(log_g))
        if log:
            return tf.where(valid, log_g, ninf * tf.ones_like(log_g)), valid
        return tf.where(valid, per_node(laws["sign"], seg, t) * tf.exp(log_g),
                        tf.zeros_like(log_g)), valid

    def corrected(g, shift, seg, t):
        """Move each node's value from the distance it was evaluated at to the intended one.

        alpha keeps its gradient: the parameter derivative of g at the actual distance
        differs from the one at the intended distance by exactly d(alpha) * shift.
        """
        alpha = tf.where(per_node(laws["valid"], seg, t), per_node(laws["alpha"], seg, t),
                         tf.zeros_like(g))
        return g + alpha * shift if log else g * tf.exp(alpha * shift)

    shape = problem.batch_shape
    zero_i = tf.zeros(shape, tf.int32)
    done = tf.zeros(shape, tf.bool)
    history = []
    value = error = None
    evals = zero_i + 2 * count

    def accumulate(lev, state, terms):
        prev, prev_abs, prev_bad, prev_evals = state
        new, new_abs, new_bad, m = terms
        h = 2.0 ** -lev
        if log:
            total = new + np.log(h) if prev is None else tf.reduce_logsumexp(
                tf.stack([prev - np.log(2.0), new + np.log(h)]), 0)
            absolute = total
        else:
            total = h * new if prev is None else 0.5 * prev + h * new
            absolute = h * new_abs if prev is None else 0.5 * prev_abs + h * new_abs
        return total, absolute, prev_bad | new_bad, prev_evals + m

    # Levels up to _FIRST_PHASE always run; the rest run together, only if needed.
    first = list(range(min(levels, _FIRST_PHASE) + 1))
    rest = list(range(first[-1] + 1, levels + 1))
    terms = level_terms(first)
    state = (None, None, bad, evals)
    states = []
    for lev, term in zip(first, terms):
        state = accumulate(lev, state, term)
        states.append(state)
    for lev in range(levels + 1):
        if lev == len(first):  # entering the second phase
            def more(base=state):
                out, st = [], base
                for lv, term in zip(rest, level_terms(rest)):
                    st = accumulate(lv, st, term)
                    out.append(st)
                return out

            def skip(base=state):
                return [base] * len(rest)

            states += tf.cond(tf.reduce_all(done), skip, more) if skip else more()
        state = states[lev]
        total, absolute, lev_bad, lev_evals = state
        history.append(total)
        if lev < 2:
            continue
        if log:
            # differences relative to the newest estimate (not the previous one, which
            # can be far too small while a narrow peak is still being found)
            prev1, prev2 = tf.exp(history[-2] - total), tf.exp(history[-3] - total)
            e1 = tf.abs(1.0 - prev1)
            e2 = tf.abs(prev1 - prev2)
            extra = tf.exp(tail_error - total) + 50.0 * eps
        else:
            e1 = tf.abs(history[-1] - history[-2])
            e2 = tf.abs(history[-2] - history[-3])
            extra = tail_error + 50.0 * eps * absolute
        one, zero = tf.ones_like(e1), tf.zeros_like(e1)
        ratio = tf.where(e2 > 0, e1 / tf.where(e2 > 0, e2, one), tf.where(e1 > 0, one, zero))
        err = e1 * tf.minimum(10.0 * ratio, 1.0) + extra
        err = tf.where(tf.math.is_nan(err), tf.constant(np.inf, dtype), err)
        if log:  # every node zero (an empty range): the integral is exactly 0
            err = tf.where(tf.equal(total, -np.inf) & tf.equal(tail_error, -np.inf),
                           tf.zeros_like(err), err)
        if log:
            tol = tf.cast(max(atol, rtol), dtype)
            err_log = tf.math.log(err) + total  # finalize expects log-mode errors as logs
        else:
            tol = tf.maximum(tf.cast(atol, dtype), rtol * tf.abs(total))
            err_log = err
        ok = err <= tol
        limited = extra > tol  # the unresolvable tail or rounding alone exceeds the tolerance
        fresh = ~done
        value = total if value is None else tf.where(fresh, total, value)
        error = err_log if error is None else tf.where(fresh, err_log, error)
        evals_out = lev_evals if lev == 2 else tf.where(fresh, lev_evals, evals_out)
        bad_out = lev_bad if lev == 2 else tf.where(fresh, lev_bad, bad_out)
        limited_out = limited if lev == 2 else tf.where(fresh, limited, limited_out)
        done = done | ok | lev_bad
    # Count what this element costs on its own: the first phase is always evaluated in
    # full, the second only for elements that needed it.
    first_count = 2 * count + count * sum(groups[lev][0].size for lev in first)
    evals_out = tf.where(evals_out <= first_count, first_count, lev_evals)
    failed = tf.where(limited_out, int(Status.ROUNDOFF), int(Status.BUDGET_EXHAUSTED))
    return finalize(problem, segments, value, error, bad_out, evals_out, log, rtol, atol,
                    failed=failed)
