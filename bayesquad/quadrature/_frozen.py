"""Frozen rules: a fixed quadrature rule evaluated as a bare weighted sum.

A frozen rule has no error estimate and no status: it is what a sampler evaluates once a
quadrature plan has shown, against adaptive references over the posterior region, that
the rule is accurate there (``bayesquad.inference.plan_quadrature``), and what the
diagnostics' quadrature check certifies at posterior draws afterwards. Used anywhere
else it is a hand-chosen rule whose accuracy is the caller's business.
"""
import functools
import numbers

import numpy as np

from bayesquad._tf import tf
from bayesquad.quadrature import _tables
from bayesquad.quadrature._coordinates import scaled_map

__all__ = ["GaussLegendre", "MAX_BOX_NODES"]

#: Largest tensor-product rule ``integrate_box`` evaluates (as ``cubature``'s)
MAX_BOX_NODES = 1 << 22


@functools.lru_cache(maxsize=None)
def _composite(nodes, panels):
    """Unit-interval nodes ``t``, their complements ``1 - t`` (computed without
    cancellation, for the maps of infinite ranges) and weights (summing to 1) of
    ``panels`` copies."""
    x, w = _tables.gauss_legendre(nodes)
    p = np.arange(panels, dtype=np.float64)[:, None]
    t = ((p + 0.5 * (x + 1.0)) / panels).ravel()
    tc = ((panels - 1 - p + 0.5 * (1.0 - x)) / panels).ravel()
    weights = np.tile(0.5 * w / panels, panels)
    for a in (t, tc, weights):
        a.setflags(write=False)
    return t, tc, weights


class GaussLegendre:
    """Composite Gauss–Legendre: ``panels`` equal panels of ``nodes`` nodes each.

    Parameters
    ----------
    nodes : int
        Nodes per panel (1 to 1024).
    panels : int
        Equal panels on the range (default 1).
    scale : float, optional
        For infinite ranges: the rule is applied on ``u`` in [0, 1] after
        ``x = a + scale·u/(1-u)`` on ``[a, inf)``, ``x = b - scale·u/(1-u)`` on
        ``(-inf, b]`` and ``x = scale·(2u-1)/(u(1-u))`` on the whole line, so that half
        the nodes lie within ``scale`` of the finite end (of 0 on the line). Finite
        ranges ignore it; without it an infinite range is refused.

    Notes
    -----
    ``integrate`` returns the rule's sum only. It is exact for polynomials of degree
    ``2 nodes - 1`` on each panel and converges geometrically for integrands analytic
    near the range; kinks, endpoint singularities and features narrower than a panel
    converge slowly or not at all, and nothing here says so. Such integrands belong to
    :func:`bayesquad.integrate`, whose answers carry an error estimate and a status.
    On an infinite range the mapped integrand must decay on about ``scale``: mass far
    beyond ``scale / nodes`` of resolution near the end, or a tail decaying like a power
    ``|x|^-p`` (an algebraic endpoint singularity after the map), is resolved slowly.
    """

    def __init__(self, nodes, panels=1, scale=None):
        for name, value, top in (("nodes", nodes, _tables.MAX_TABLE_NODES),
                                 ("panels", panels, 1 << 20)):
            if (not isinstance(value, numbers.Integral) or isinstance(value, bool)
                    or not 1 <= value <= top):
                raise ValueError(f"{name}={value!r} must be an integer in [1, {top}]")
        if scale is not None:
            if (not isinstance(scale, numbers.Real) or isinstance(scale, bool)
                    or not (np.isfinite(scale) and scale > 0)):
                raise ValueError(f"scale={scale!r} must be a positive finite number (the "
                                 "length over which the integrand on an infinite range "
                                 "decays), or None for finite ranges only")
            scale = float(scale)
        self.nodes, self.panels, self.scale = int(nodes), int(panels), scale

    @property
    def cost(self):
        """Integrand evaluations per integral."""
        return self.nodes * self.panels

    def describe(self):
        """Words for a report: ``"16-node Gauss–Legendre"``, ``"... x 4 panels"``."""
        text = f"{self.nodes}-node Gauss–Legendre"
        if self.panels != 1:
            text = f"{text} × {self.panels} panels"
        if self.scale is not None:
            text = (f"{text} after x = a ± {self.scale:g}·u/(1−u) on half-lines "
                    f"({self.scale:g}·(2u−1)/(u(1−u)) on the line)")
        return text

    def to_dict(self):
        out = {"rule": "gauss-legendre", "nodes": self.nodes, "panels": self.panels}
        if self.scale is not None:
            out["scale"] = self.scale
        return out

    def _key(self):
        return (self.nodes, self.panels, self.scale)

    def __eq__(self, other):
        return isinstance(other, GaussLegendre) and self._key() == other._key()

    def __hash__(self):
        return hash(("gauss-legendre",) + self._key())

    def __repr__(self):
        scale = "" if self.scale is None else f", scale={self.scale!r}"
        return f"GaussLegendre(nodes={self.nodes}, panels={self.panels}{scale})"

    def unit_rule(self, dtype=tf.float64):
        """``(t, w)`` on [0, 1] as constants of ``dtype`` (weights sum to 1)."""
        t, _, w = _composite(self.nodes, self.panels)
        return tf.constant(t, dtype), tf.constant(w, dtype)

    def integrate(self, f, lower, upper, *, args=(), log=False):
        """``∫_lower^upper f(x, *args) dx`` by this rule (``log``: of ``exp(f)``, as a log).

        ``f`` gets the nodes on the leading axis, ``x.shape == [m] + batch_shape`` as for
        :func:`bayesquad.integrate`. ``lower`` and ``upper`` must be finite unless the
        rule has a ``scale``; then either may be infinite (per element; ``lower <
        upper`` where one is). Returns the value only, shape ``batch_shape``; gradients
        flow to ``args``, captured tensors and finite limits.
        """
        return self._integrate(f, lower, upper, args, "log" if log else "plain")

    def integrate_exp(self, f, lower, upper, *, args=()):
        """``∫_lower^upper exp(f(x, *args)) dx`` by this rule, as a value (not its log).

        For a caller that needs the integral itself, such as an expected count or a
        cumulative hazard subtracted from a log density: one exponential and a weighted
        sum per node, where ``exp(integrate(f, ..., log=True))`` also takes the nodes'
        maximum and a logarithm, and so its gradient has more passes over the nodes
        (W4's value and gradient: ~20 % faster this way). Arguments as for
        :meth:`integrate`.

        Notes
        -----
        The sum of positive terms is as accurate as the log-sum-exp, but its range is
        float's: it overflows to ``inf`` once one node's ``exp(f)`` (on an infinite range,
        times the map's Jacobian) exceeds the largest float, and terms below the smallest
        underflow to 0 (an integral below ~1e-308 in float64, ~1e-38 in float32, comes out
        as 0). Where the log of a tiny or huge integral is wanted, use
        ``integrate(..., log=True)``.
        """
        return self._integrate(f, lower, upper, args, "exp")

    def _integrate(self, f, lower, upper, args, mode):
        lower = tf.convert_to_tensor(lower)
        dtype = lower.dtype
        upper = tf.convert_to_tensor(upper, dtype)
        args = tuple(tf.convert_to_tensor(a) for a in args)
        batch = tf.TensorShape([])
        for s in [lower.shape, upper.shape] + [a.shape for a in args]:
            batch = tf.broadcast_static_shape(batch, s)
        self._check_limits(lower, upper)
        t_np, tc_np, w_np = _composite(self.nodes, self.panels)
        shape = [-1] + [1] * batch.rank
        t, w = (tf.reshape(tf.constant(a, dtype), shape) for a in (t_np, w_np))
        nodes = tf.TensorShape([t.shape[0]]).concatenate(batch)
        if self.scale is None:
            width = upper - lower  # may be negative (a reversed range) or zero
            x, log_jac = lower + width * t, None
        else:
            tc = tf.reshape(tf.constant(tc_np, dtype), shape)
            x, log_jac = scaled_map(t, tc, lower, upper, tf.constant(self.scale, dtype))
        x = tf.broadcast_to(x, nodes)
        g = tf.convert_to_tensor(f(x, *args))
        if g.shape.rank is not None and g.shape != x.shape:
            raise ValueError(f"f returned shape {g.shape.as_list()} for nodes of shape "
                             f"{x.shape.as_list()}; it must return one value per node")
        if self.scale is None:
            if mode == "log":  # lower < upper (the log of a negative integral does not exist)
                return tf.reduce_logsumexp(g + tf.math.log(w), 0) + tf.math.log(width)
            return tf.reduce_sum(w * (tf.exp(g) if mode == "exp" else g), 0) * width
        if mode == "log":
            return tf.reduce_logsumexp(g + tf.math.log(w) + log_jac, 0)
        if mode == "exp":  # one exponent: a huge Jacobian times a tiny integrand is finite
            return tf.reduce_sum(w * tf.exp(g + log_jac), 0)
        return tf.reduce_sum(w * g * tf.exp(log_jac), 0)

    def integrate_box(self, f, lower, upper, *, args=(), log=False):
        """``∫ f`` over the box ``[lower, upper]`` (shape ``[..., d]``) by the tensor
        product of this rule on every axis (``(nodes·panels)^d`` evaluations).

        ``f`` gets ``x.shape == [m] + batch_shape + [d]`` and returns ``[m] +
        batch_shape``, as for :func:`bayesquad.cubature`. Sides may be infinite when the
        rule has a ``scale`` (each axis mapped as in :meth:`integrate`). Returns the value
        only; gradients flow to ``args``, captured tensors and finite limits.
        """
        return self._integrate_box(f, lower, upper, args, "log" if log else "plain")

    def integrate_box_exp(self, f, lower, upper, *, args=()):
        """``∫ exp(f)`` over the box ``[lower, upper]``, as a value (not its log).

        :meth:`integrate_box` for a caller that needs the integral itself (an expected
        count): one exponential and a weighted sum per node, no log-sum-exp. The Notes
        of :meth:`integrate_exp` apply: the value overflows to ``inf`` or underflows to 0
        where the integral leaves float's range.
        """
        return self._integrate_box(f, lower, upper, args, "exp")

    def _integrate_box(self, f, lower, upper, args, mode):
        lower = tf.convert_to_tensor(lower)
        dtype = lower.dtype
        upper = tf.convert_to_tensor(upper, dtype)
        args = tuple(tf.convert_to_tensor(a) for a in args)
        dim = lower.shape[-1] if lower.shape.rank else None
        if dim is None or upper.shape.rank == 0 or upper.shape[-1] != dim:
            raise ValueError(f"`lower` and `upper` must have the same static trailing axis "
                             f"(the dimension), got shapes {lower.shape} and {upper.shape}")
        self._check_limits(lower, upper)
        batch = tf.broadcast_static_shape(lower.shape[:-1], upper.shape[:-1])
        for a in args:
            batch = tf.broadcast_static_shape(batch, a.shape)
        t, tc, w = _composite(self.nodes, self.panels)
        if t.size ** dim > MAX_BOX_NODES:
            raise ValueError(f"{self!r} on a {dim}-dimensional box is {t.size ** dim} nodes "
                             f"(at most {MAX_BOX_NODES}); use fewer nodes or panels, or "
                             "bayesquad.cubature(method='genz-malik' or 'qmc')")
        index = [i.ravel() for i in np.meshgrid(*[np.arange(t.size)] * dim, indexing="ij")]
        log_w = tf.reshape(tf.constant(np.log(w)[np.stack(index, -1)].sum(-1), dtype),
                           [-1] + [1] * batch.rank)
        nodes = tf.TensorShape([index[0].size]).concatenate(batch)
        if self.scale is None:
            grid = tf.reshape(tf.constant(t[np.stack(index, -1)], dtype),
                              [-1] + [1] * batch.rank + [dim])
            width = upper - lower
            x = tf.broadcast_to(lower + width * grid, nodes.concatenate([dim]))
            log_jac = tf.reduce_sum(tf.math.log(width), -1)  # lower < upper on every axis
        else:
            x, log_jac = box_nodes(t[np.stack(index, -1)], tc[np.stack(index, -1)], lower,
                                   upper, self.scale)
            # the limits' batch axes align with the trailing ones of the whole batch
            extra = [1] * (batch.rank - (log_jac.shape.rank - 1))
            x = tf.reshape(x, tf.concat([tf.shape(x)[:1], extra, tf.shape(x)[1:]], 0))
            log_jac = tf.reshape(log_jac, tf.concat([tf.shape(log_jac)[:1], extra,
                                                     tf.shape(log_jac)[1:]], 0))
            x = tf.broadcast_to(x, nodes.concatenate([dim]))
        g = tf.convert_to_tensor(f(x, *args))
        if g.shape.rank is not None and g.shape != x.shape[:-1]:
            raise ValueError(f"f returned shape {g.shape.as_list()} for nodes of shape "
                             f"{x.shape.as_list()}; it must return one value per node "
                             f"({x.shape[:-1].as_list()})")
        if mode == "log":
            return tf.reduce_logsumexp(g + log_w + log_jac, 0)
        if self.scale is None:
            terms = tf.exp(g) if mode == "exp" else g
            return tf.reduce_sum(tf.exp(log_w) * terms, 0) * tf.reduce_prod(upper - lower, -1)
        if mode == "exp":  # one exponent: a huge Jacobian times a tiny integrand is finite
            return tf.reduce_sum(tf.exp(g + log_w + log_jac), 0)
        return tf.reduce_sum(g * tf.exp(log_w + log_jac), 0)

    def _check_limits(self, lower, upper):
        if self.scale is not None:
            # the maps assume lower < upper: an empty or reversed infinite range would be
            # read as a half-line or the whole line
            lo, hi = tf.get_static_value(lower), tf.get_static_value(upper)
            if lo is not None and hi is not None and not np.all(np.less(lo, hi)):
                raise ValueError(f"a Gauss-Legendre rule with a `scale` needs lower < upper "
                                 f"on every element, got lower={lo}, upper={hi}")
            return
        for name, value in (("lower", lower), ("upper", upper)):
            static = tf.get_static_value(value)
            if static is not None and not np.all(np.isfinite(static)):
                raise ValueError(
                    f"`{name}` is not finite; a Gauss-Legendre rule on an infinite range "
                    "needs a `scale` (GaussLegendre(nodes, scale=...)), or use "
                    "bayesquad.integrate")


def box_nodes(t, tc, lower, upper, scale):
    """Points ``x`` ``[m] + batch + [d]`` and ``log |dx/du|`` ``[m] + batch`` of unit
    points ``t`` ``[m, d]`` (with complements ``tc``) mapped into the box ``[lower,
    upper]`` (``[..., d]``), each axis as :meth:`GaussLegendre.integrate` maps a range:
    linearly where finite, by ``x = a + scale·u/(1-u)`` (or its mirror or the line's map)
    where a side is infinite."""
    lower = tf.convert_to_tensor(lower)
    dtype = lower.dtype
    upper = tf.convert_to_tensor(upper, dtype)
    rank = max(lower.shape.rank, upper.shape.rank) - 1
    shape = [-1] + [1] * rank
    xs, logs = [], []
    for k in range(int(lower.shape[-1])):
        tk = tf.reshape(tf.constant(np.asarray(t)[:, k], dtype), shape)
        tck = tf.reshape(tf.constant(np.asarray(tc)[:, k], dtype), shape)
        x, log_jac = scaled_map(tk, tck, lower[..., k], upper[..., k],
                                tf.constant(scale, dtype))
        xs.append(x)
        logs.append(log_jac)
    return tf.stack(xs, -1), tf.add_n(logs)
