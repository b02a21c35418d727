"""Fixed (non-adaptive) quadrature: one rule, optionally composite, on every segment."""
import numpy as np

from bayesquad._tf import tf
from bayesquad.quadrature import _rules
from bayesquad.quadrature._segments import evaluate
from bayesquad.quadrature._status import IntegrationResult, Status

__all__ = ["finalize", "fixed_quadrature", "rule_sum"]


def rule_sum(problem, segments, rule, panels, log):
    """Apply ``rule`` composite over ``panels`` on each segment.

    Returns ``(value, error, bad)`` where value/error are combined over all panels and
    segments (log mode: log value and log error) and ``bad`` flags non-finite values.
    """
    t, tc, w = rule.composite(panels)
    count = segments.count
    seg = np.repeat(np.arange(count), t.size)
    dtype = problem.dtype
    t_all = tf.constant(np.tile(t.ravel(), count), dtype)
    tc_all = tf.constant(np.tile(tc.ravel(), count), dtype)
    g, bad = evaluate(problem, segments, seg, t_all, tc_all, log)
    g = tf.reshape(g, tf.TensorShape([count * panels, rule.size]).concatenate(problem.batch_shape))
    weights = tf.constant(w, dtype)
    functionals = tf.constant(rule.functionals / panels, dtype)
    scale, h = _rules.panel_sums(g, weights, log)
    value = tf.einsum("n,pn...->p...", weights, h)
    error = rule.estimate(h, functionals, weights, problem.eps)
    value, error = _rules.combine_panels(scale, value, error, log)
    return value, error, tf.reduce_any(bad, axis=0)


def finalize(problem, segments, value, error, bad, n_evals, log, rtol, atol, failed=None):
    """Apply the sign, convert log-mode errors, and assign a status per element.

    ``failed`` optionally gives the non-success status (per element) to report where
    the tolerance is not met; BUDGET_EXHAUSTED by default.
    """
    dtype = problem.dtype
    if log:
        both_zero = tf.math.is_inf(value) & (value < 0) & tf.math.is_inf(error) & (error < 0)
        error = tf.where(both_zero, tf.zeros_like(value), tf.exp(error - value))
        tol = tf.maximum(tf.cast(atol, dtype), tf.cast(rtol, dtype))
    else:
        value = value * segments.sign
        tol = tf.maximum(tf.cast(atol, dtype), tf.cast(rtol, dtype) * tf.abs(value))
    ok = error <= tol
    not_ok = int(Status.BUDGET_EXHAUSTED) if failed is None else failed
    status = tf.where(ok, int(Status.CONVERGED), not_ok)
    status = tf.where(bad, int(Status.NON_FINITE), status)
    status = tf.where(segments.invalid, int(Status.INVALID_LIMITS), status)
    nan = tf.constant(np.nan, dtype)
    value = tf.where(segments.invalid, nan, value)
    error = tf.where(segments.invalid | bad, tf.constant(np.inf, dtype), error)
    n_evals = tf.broadcast_to(tf.cast(n_evals, tf.int32), problem.batch_shape)
    return IntegrationResult(value, error, n_evals, tf.cast(status, tf.int32))


def fixed_quadrature(problem, segments, rule, panels, log, rtol, atol):
    """``rule`` (a ``_rules.FixedRule``) composite over ``panels`` on every segment, with
    its own error estimate and a status per element (the fixed methods of
    ``_methods.METHODS``)."""
    value, error, bad = rule_sum(problem, segments, rule, panels, log)
    n_evals = rule.size * panels * segments.count
    return finalize(problem, segments, value, error, bad, n_evals, log, rtol, atol)
