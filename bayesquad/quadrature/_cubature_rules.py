"""Cubature rules on the unit box as objects: Genz–Malik, product Gauss–Legendre, Sobol.

Every rule lives in the unit coordinate ``t`` in ``[0, 1]^d`` of the integration box
(``_cubature`` maps each axis to x, with its Jacobian) and is a set of numpy tables plus
the TF arithmetic that turns integrand values at its nodes into a value, an error
estimate and, for Genz–Malik, the axis to split along. Values arrive already multiplied
by the Jacobian; in log mode they arrive as logs and are summed in a scaled linear form
``exp(scale) * sum`` as in :mod:`bayesquad.quadrature._rules`.
"""
import functools
import itertools

import numpy as np

from bayesquad._tf import tf
from bayesquad.quadrature import _rules

__all__ = ["GenzMalik", "ProductGaussLegendre", "sobol_points"]


def _log_scale(g, axis):
    """``(scale, exp(g - scale))`` with ``scale`` the maximum over ``axis`` (0 if none
    is finite, so an all ``-inf`` region gives zeros rather than NaN)."""
    scale = tf.reduce_max(g, axis=axis, keepdims=True)
    scale = tf.where(tf.math.is_finite(scale), scale, tf.zeros_like(scale))
    return scale, tf.exp(g - scale)


class GenzMalik:
    """Genz & Malik's (1980) degree-7 rule with an embedded degree-5 rule, ``d >= 2``.

    Nodes, in units of the region's half-widths about its centre: the centre; ``±l2``
    and ``±l3`` on each axis; ``(±l4, ±l4)`` on each pair of axes; every corner
    ``(±l5, ..., ±l5)``: ``2^d + 2d^2 + 2d + 1`` in all. Weights are normalised to
    average (sum to one), so a region's integral is its volume times the weighted sum.
    The degree-7 weights at the centre (and on the ``l3`` points for d > 4) are
    negative, so a positive integrand can give a negative region value while the region
    is unresolved; its error estimate ``|I7 - I5|`` is then at least as large.

    The split axis of a region is the one with the largest fourth divided difference,
    ``|f(l2) + f(-l2) - 2 f(0) - (l2/l3)^2 (f(l3) + f(-l3) - 2 f(0))|`` along it (the
    second differences at two scales cancel the quadratic term); near ties (within
    1e-5 relative, e.g. all zero) go to the widest axis.
    """

    def __init__(self, dim):
        if dim < 2:
            raise ValueError(f"the Genz-Malik rule needs d >= 2 dimensions, got d={dim}")
        self.dim = d = int(dim)
        l2, l3, l4, l5 = np.sqrt([9 / 70, 9 / 10, 9 / 10, 9 / 19])
        eye = np.eye(d)
        groups = [np.zeros((1, d))]
        for lam in (l2, l3):  # +lam e_i, -lam e_i interleaved per axis
            groups.append(np.stack([lam * eye, -lam * eye], 1).reshape(2 * d, d))
        pairs = [lam_i * eye[i] + lam_j * eye[j]
                 for i, j in itertools.combinations(range(d), 2)
                 for lam_i, lam_j in itertools.product((l4, -l4), repeat=2)]
        groups.append(np.array(pairs).reshape(-1, d))
        groups.append(l5 * np.array(list(itertools.product((1.0, -1.0), repeat=d))))
        self.offsets = np.concatenate(groups)
        sizes = [len(g) for g in groups]
        w7 = [(12824 - 9120 * d + 400 * d * d) / 19683, 980 / 6561, (1820 - 400 * d) / 19683,
              200 / 19683, 6859 / 19683 / 2**d]
        w5 = [(729 - 950 * d + 50 * d * d) / 729, 245 / 486, (265 - 100 * d) / 1458,
              25 / 729, 0.0]
        self.w7 = np.repeat(w7, sizes)
        self.w5 = np.repeat(w5, sizes)
        self.ratio = l2 * l2 / (l3 * l3)

    @property
    def size(self):
        return self.offsets.shape[0]

    def nodes(self, center, half):
        """Node coordinates ``[..., n, d]`` of regions with centres/half-widths ``[..., d]``."""
        offsets = tf.constant(self.offsets, center.dtype)
        return center[..., None, :] + half[..., None, :] * offsets

    def estimate(self, g, half, eps, log):
        """Per region: ``(value, error, split_axis)`` from values ``g`` of shape ``[..., n]``.

        ``half`` is ``[..., d]``. Log mode returns the log of value and error; a region
        whose degree-7 sum is not positive then has value ``-inf`` and keeps its error.
        """
        dtype = g.dtype
        w7, w5 = tf.constant(self.w7, dtype), tf.constant(self.w5, dtype)
        if log:
            scale, h = _log_scale(g, -1)
            scale = scale[..., 0]
        else:
            scale, h = None, g
        s7 = tf.reduce_sum(h * w7, -1)
        s5 = tf.reduce_sum(h * w5, -1)
        # rounding in a sum with negative weights: the absolute sum sets its floor
        floor = 50.0 * eps * tf.reduce_sum(tf.abs(h) * tf.abs(w7), -1)
        err = tf.maximum(tf.abs(s7 - s5), floor)
        axis = self._split_axis(h, half)
        log_vol = tf.reduce_sum(tf.math.log(2.0 * half), -1)
        if log:
            # log(max(s7, 0)) would give 0 * inf = NaN gradients where s7 <= 0 (a box
            # where f is -inf throughout, or unresolved): such a box is -inf, gradient 0
            positive = s7 > 0
            log_s7 = tf.where(positive, tf.math.log(tf.where(positive, s7, tf.ones_like(s7))),
                              tf.constant(-np.inf, dtype))
            return log_s7 + scale + log_vol, tf.math.log(err) + scale + log_vol, axis
        vol = tf.exp(log_vol)
        return s7 * vol, err * vol, axis

    def _split_axis(self, h, half):
        d = self.dim
        centre = h[..., :1]
        at2 = h[..., 1:1 + 2 * d]
        at3 = h[..., 1 + 2 * d:1 + 4 * d]
        shape = tf.concat([tf.shape(h)[:-1], [d, 2]], 0)
        second2 = tf.reduce_sum(tf.reshape(at2, shape), -1) - 2.0 * centre
        second3 = tf.reduce_sum(tf.reshape(at3, shape), -1) - 2.0 * centre
        diff = tf.abs(second2 - self.ratio * second3)
        top = tf.reduce_max(diff, -1, keepdims=True)
        tied = diff >= top * (1.0 - 1e-5)
        return tf.argmax(tf.where(tied, half, -tf.ones_like(half)), -1, output_type=tf.int32)


class ProductGaussLegendre:
    """Tensor product of composite Gauss–Legendre rules, one per axis.

    ``nodes[i]`` nodes on each of ``panels[i]`` equal panels of axis ``i``. The error
    estimate is a sum over axes: for axis ``i`` the values are integrated over every
    other axis with its own rule, leaving a one-dimensional function of ``t_i`` whose
    Legendre-coefficient tail per panel (the 1-D Gauss–Legendre estimate of
    :func:`bayesquad.quadrature._rules._legendre_tail_error`) measures what axis ``i``
    fails to resolve. The product rule's error is, to leading order, the sum of these
    per-axis errors (the mixed terms are products of two small errors).
    """

    def __init__(self, nodes, panels):
        self.nodes, self.panels = tuple(nodes), tuple(panels)
        self.dim = len(self.nodes)
        self.axis_rules = [_rules.gauss_legendre_rule(n) for n in self.nodes]

    @property
    def size(self):
        return int(np.prod([n * p for n, p in zip(self.nodes, self.panels)]))

    @functools.cached_property
    def _axes(self):
        """Per axis ``(t, tc, w)``, flattened panel-major, weights summing to one."""
        out = []
        for rule, p in zip(self.axis_rules, self.panels):
            t, tc, w = rule.composite(p)
            out.append((t.ravel(), tc.ravel(), np.tile(w, p)))
        return out

    def grid(self):
        """``(t, tc)`` of every node, ``[size, d]`` each, axis 0 varying slowest."""
        mesh = lambda k: np.stack([a.ravel() for a in np.meshgrid(  # noqa: E731
            *[ax[k] for ax in self._axes], indexing="ij")], -1)
        return mesh(0), mesh(1)

    def estimate(self, g, batch_shape, eps, log):
        """``(value, error)`` from values ``g`` of shape ``[size] + batch_shape``."""
        dtype, d = g.dtype, self.dim
        if log:
            scale, h = _log_scale(g, 0)
            scale = scale[0]
        else:
            h = g
        counts = [n * p for n, p in zip(self.nodes, self.panels)]
        h = tf.reshape(h, tf.TensorShape(counts).concatenate(batch_shape))
        weights = [tf.constant(ax[2], dtype) for ax in self._axes]
        letters = "abcdefghijklmnopqrstuvwxyz"[:d]
        value = tf.einsum(f"{letters}...,{','.join(letters)}->...", h, *weights)
        error = tf.zeros_like(value)
        for i, (rule, p) in enumerate(zip(self.axis_rules, self.panels)):
            others = [k for k in range(d) if k != i]
            spec = f"{letters}...,{','.join(letters[k] for k in others)}->{letters[i]}..."
            partial = tf.einsum(spec, h, *[weights[k] for k in others]) if others else h
            partial = tf.reshape(partial, tf.TensorShape([p, rule.size]).concatenate(batch_shape))
            panel_err = rule.estimate(partial, tf.constant(rule.functionals / p, dtype),
                                      tf.constant(rule.weights / p, dtype), eps)
            error += tf.reduce_sum(panel_err, 0)
        if log:
            return tf.math.log(value) + scale, tf.math.log(error) + scale
        return value, error


@functools.lru_cache(maxsize=None)
def sobol_points(dim, n):
    """The first ``n`` Sobol points in ``[0, 1)^dim``, the origin first, as a read-only
    numpy array.

    Generated eagerly, outside any compiled function: TF's Sobol kernel has no XLA
    implementation.
    """
    # TF's sequence starts after the origin: with it prepended, the first 2^m points are
    # the digital net whose stratification scrambling preserves (without it, the error
    # of a smooth integrand fell like 1/n instead of n^-1.5)
    with tf.init_scope():
        points = tf.math.sobol_sample(dim, max(n - 1, 1), skip=0, dtype=tf.float64)
    points = np.concatenate([np.zeros((1, dim)), np.asarray(points)])[:n].copy()
    points.setflags(write=False)
    return points
