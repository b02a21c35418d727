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

__all__ = ["GaussLegendre"]


@functools.lru_cache(maxsize=None)
def _composite(nodes, panels):
    """Unit-interval nodes ``t`` and weights (summing to 1) of ``panels`` copies."""
    x, w = _tables.gauss_legendre(nodes)
    p = np.arange(panels, dtype=np.float64)[:, None]
    t = ((p + 0.5 * (x + 1.0)) / panels).ravel()
    weights = np.tile(0.5 * w / panels, panels)
    t.setflags(write=False)
    weights.setflags(write=False)
    return t, weights


class GaussLegendre:
    """Composite Gauss–Legendre: ``panels`` equal panels of ``nodes`` nodes each.

    Parameters
    ----------
    nodes : int
        Nodes per panel (1 to 1024).
    panels : int
        Equal panels on the range (default 1).

    Notes
    -----
    ``integrate`` returns the rule's sum only. It is exact for polynomials of degree
    ``2 nodes - 1`` on each panel and converges geometrically for integrands analytic
    near the range; kinks, endpoint singularities and features narrower than a panel
    converge slowly or not at all, and nothing here says so. Such integrands belong to
    :func:`bayesquad.integrate`, whose answers carry an error estimate and a status.
    """

    def __init__(self, nodes, panels=1):
        for name, value, top in (("nodes", nodes, _tables.MAX_TABLE_NODES),
                                 ("panels", panels, 1 << 20)):
            if (not isinstance(value, numbers.Integral) or isinstance(value, bool)
                    or not 1 <= value <= top):
                raise ValueError(f"{name}={value!r} must be an integer in [1, {top}]")
        self.nodes, self.panels = int(nodes), int(panels)

    @property
    def cost(self):
        """Integrand evaluations per integral."""
        return self.nodes * self.panels

    def describe(self):
        """Words for a report: ``"16-node Gauss–Legendre"``, ``"... x 4 panels"``."""
        text = f"{self.nodes}-node Gauss–Legendre"
        return text if self.panels == 1 else f"{text} × {self.panels} panels"

    def to_dict(self):
        return {"rule": "gauss-legendre", "nodes": self.nodes, "panels": self.panels}

    def __eq__(self, other):
        return isinstance(other, GaussLegendre) and (self.nodes, self.panels) == (
            other.nodes, other.panels)

    def __hash__(self):
        return hash(("gauss-legendre", self.nodes, self.panels))

    def __repr__(self):
        return f"GaussLegendre(nodes={self.nodes}, panels={self.panels})"

    def unit_rule(self, dtype=tf.float64):
        """``(t, w)`` on [0, 1] as constants of ``dtype`` (weights sum to 1)."""
        t, w = _composite(self.nodes, self.panels)
        return tf.constant(t, dtype), tf.constant(w, dtype)

    def integrate(self, f, lower, upper, *, args=(), log=False):
        """``∫_lower^upper f(x, *args) dx`` by this rule (``log``: of ``exp(f)``, as a log).

        ``f`` gets the nodes on the leading axis, ``x.shape == [m] + batch_shape`` as for
        :func:`bayesquad.integrate`; ``lower`` and ``upper`` must be finite. Returns the
        value only, shape ``batch_shape``; gradients flow to ``args``, captured tensors and
        the limits.
        """
        lower = tf.convert_to_tensor(lower)
        dtype = lower.dtype
        upper = tf.convert_to_tensor(upper, dtype)
        args = tuple(tf.convert_to_tensor(a) for a in args)
        batch = tf.TensorShape([])
        for s in [lower.shape, upper.shape] + [a.shape for a in args]:
            batch = tf.broadcast_static_shape(batch, s)
        t, w = self.unit_rule(dtype)
        t = tf.reshape(t, [-1] + [1] * batch.rank)
        width = upper - lower
        x = tf.broadcast_to(lower + width * t, tf.TensorShape([t.shape[0]]).concatenate(batch))
        g = tf.convert_to_tensor(f(x, *args))
        if g.shape.rank is not None and g.shape != x.shape:
            raise ValueError(f"f returned shape {g.shape.as_list()} for nodes of shape "
                             f"{x.shape.as_list()}; it must return one value per node")
        w = tf.reshape(w, t.shape)
        if log:
            return tf.reduce_logsumexp(g + tf.math.log(w), 0) + tf.math.log(width)
        return tf.reduce_sum(w * g, 0) * width
