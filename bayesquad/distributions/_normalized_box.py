"""A density on a box in d >= 2 dimensions known up to its normalising constant."""
import numpy as np

from bayesquad._tf import tf, tfp
from bayesquad.distributions._box import BoxFunctionMixin

tfd = tfp.distributions

__all__ = ["NormalizedBox"]

_MIN_BLOCK = 64       # candidates per row and rejection round, at least
_MAX_ROUNDS = 10_000  # a row still short after this many rounds is NaN (see Notes)


class NormalizedBox(BoxFunctionMixin, tfd.Distribution):
    r"""``p(x) = exp(log_density(x)) / Z`` on the box ``[low, high]`` in d >= 2 dimensions,
    ``Z`` by :func:`bayesquad.cubature` (or a planned product rule).

    The d-dimensional sibling of :class:`Normalized`: a detector acceptance or a
    Dalitz-like plane, a bivariate density truncated to a window.

    Parameters
    ----------
    log_density : callable
        ``log_density(x, **params)`` with the coordinates on the trailing axis of ``x``,
        returning ``x.shape[:-1]``. Called with ``x`` of shape ``[m] + batch_shape + [d]``
        (quadrature nodes) and ``sample_shape + batch_shape + [d]`` (``log_prob``);
        parameters broadcast against ``x[..., 0]``.
    low, high : Tensor, shape ``[..., d]``
        Corners of the box, ``low < high`` on every axis; sides may be infinite (a
        density on the plane, a half-plane).
    params : dict of str -> Tensor, optional
        Scalar-per-batch-element parameters.
    quadrature : GaussLegendre, Adaptive or None
        As for :class:`SpatialPoissonProcess`: a product rule, adaptive cubature, or None
        (planned by a fit; outside a fit the keywords below).
    method, nodes, panels, rtol, atol, max_evals
        The configured cubature (default: product Gauss–Legendre, 32 nodes x 2 panels per
        axis).
    density_bound : float or Tensor, optional
        Upper bound of ``exp(log_density)`` on the box, for rejection sampling. Default:
        ``bound_safety`` times its maximum on a grid of ``bound_grid`` points per axis.
    bound_grid : int, default 64
    bound_safety : float, default 1.25
    dtype, validate_args, allow_nan_stats, name
        As for TFP distributions.

    Notes
    -----
    ``log_prob`` is ``-inf`` outside the box (with finite gradients). Its accuracy is that
    of ``log Z``: the status (``quadrature_status()``, per-axis Legendre-tail estimates for
    the product rule) says when the configured rule does not resolve the density, and a
    fit's plan is measured over the posterior region and certified at posterior draws.

    *Infinite sides* are mapped as :class:`~bayesquad.quadrature.GaussLegendre` with a
    ``scale`` maps them (``x = a + s·u/(1-u)``); a fit plans the scale and the nodes per
    axis over the posterior region. Outside a fit the configured cubature maps them with
    scale 1, so a density whose mass sits far from the unit scale needs a plan, a chosen
    rule, or shifted and scaled coordinates (the status says so).

    *Sampling* is rejection from the uniform distribution on the unit cube mapped into the
    box (on a finite box: uniform on the box), exact when the bound bounds the mapped
    density; the grid bound can miss a peak narrower than the grid spacing (pass
    ``density_bound`` on a finite box). The cost is ``bound · volume / Z`` candidates per draw; a
    row still short after 10,000 rounds (a bound 10^4 times too loose, or a NaN one) is
    returned as NaN, and with ``validate_args=True`` sampling raises instead.
    """

    def __init__(self, log_density, low, high, params=None, *, quadrature=None,
                 method="gauss-legendre", nodes=None, panels=None, rtol=None, atol=None,
                 max_evals=None, density_bound=None, bound_grid=64, bound_safety=1.25,
                 dtype=None, validate_args=False, allow_nan_stats=True,
                 name="NormalizedBox"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            dtype = self._init_box(
                log_density, "log_density", low, high, params, dtype, quadrature=quadrature,
                method=method, nodes=nodes, panels=panels, rtol=rtol, atol=atol,
                max_evals=max_evals, bound_grid=bound_grid, bound_safety=bound_safety,
                allow_infinite=True)
            lo, hi = tf.get_static_value(self._low), tf.get_static_value(self._high)
            if density_bound is not None and not (
                    lo is not None and hi is not None and np.all(np.isfinite(lo))
                    and np.all(np.isfinite(hi))):
                raise ValueError("`density_bound` needs a finite box (known when the "
                                 "distribution is built); on a box with an infinite side "
                                 "sampling bounds the mapped density on a grid instead")
            self._density_bound = (None if density_bound is None else
                                   tf.convert_to_tensor(density_bound, dtype))
            super().__init__(dtype=dtype, reparameterization_type=tfd.NOT_REPARAMETERIZED,
                             validate_args=validate_args, allow_nan_stats=allow_nan_stats,
                             parameters=parameters, name=name)

    @property
    def log_density(self):
        """The user's unnormalised log-density callable."""
        return self._fn

    def _event_shape(self):
        return tf.TensorShape([self.dim])

    def _event_shape_tensor(self):
        return tf.constant([self.dim], tf.int32)

    def _default_event_space_bijector(self):
        return self._box_bijector()

    # ---- normaliser -----------------------------------------------------------------
    def log_normalizer(self):
        """``log Z = log ∫_box exp(log_density)`` per batch element."""
        with self._name_and_control_scope("log_normalizer"):
            return self._box_integral("the normaliser over the box")[0]

    def _quadrature_status(self, value):
        # the status of Z per batch element, whatever the value
        return self._box_integral("the normaliser over the box")[1]

    def _log_prob(self, x):
        x = tf.convert_to_tensor(x, self.dtype)
        inside, safe = self._inside(x)
        log_f = tf.convert_to_tensor(self._fn(safe, **self._params), self.dtype)
        value = log_f - self._box_integral("the normaliser over the box")[0]
        return tf.where(inside, value, tf.constant(-np.inf, self.dtype))

    # ---- sampling by rejection ------------------------------------------------------
    def _sample_n(self, n, seed=None):
        seed = tfp.random.sanitize_seed(seed, salt="NormalizedBox")
        dtype, d = self.dtype, self.dim
        batch = self.batch_shape_tensor()
        rows = tf.reduce_prod(batch)
        rows = int(tf.get_static_value(rows)) if tf.get_static_value(rows) is not None else rows
        flat = lambda v: tf.reshape(tf.broadcast_to(v, batch), [rows, 1])  # noqa: E731
        corner = lambda v: tf.reshape(  # noqa: E731
            tf.broadcast_to(v, tf.concat([batch, [d]], 0)), [rows, 1, d])
        low, high = corner(self._low), corner(self._high)
        params = {key: flat(v) for key, v in self._params.items()}
        log_m = flat(tf.stop_gradient(self._log_mapped_bound(self._density_bound)))
        bad_bound = tf.math.is_nan(log_m) | tf.equal(log_m, np.inf)
        block = max(_MIN_BLOCK, n) if isinstance(n, int) else tf.maximum(_MIN_BLOCK, n)
        row_ids = tf.broadcast_to(tf.range(rows)[:, tf.newaxis], tf.stack([rows, block]))

        def body(rounds, count, out, exceeded, seed):
            seed, s_pos, s_acc = tf.unstack(tfp.random.split_seed(seed, 3))
            u = tf.random.stateless_uniform(tf.stack([rows, block, d]), s_pos, 0.0, 1.0, dtype)
            # proposals uniform in the unit cube, mapped into the box as the integral maps
            # it: accepted with probability f(x(u)) |dx/du| / bound
            x, log_jac = self._to_box(u, low, high)
            log_f = self._fn(x, **params) + log_jac
            u_acc = tf.random.stateless_uniform(tf.stack([rows, block]), s_acc,
                                                np.finfo(dtype.as_numpy_dtype).tiny, 1.0, dtype)
            accept = (tf.math.log(u_acc) < log_f - log_m) & ~bad_bound
            exceeded |= tf.reduce_any(log_f > log_m, axis=-1, keepdims=True)
            pos = count + tf.cumsum(tf.cast(accept, tf.int32), axis=-1) - 1
            col = tf.where(accept & (pos < n), pos, n)  # the rest to scratch row n
            idx = tf.reshape(tf.stack([row_ids, col], axis=-1), [-1, 2])
            out = tf.tensor_scatter_nd_update(out, idx, tf.reshape(x, [-1, d]))
            count = tf.minimum(count + tf.reduce_sum(tf.cast(accept, tf.int32), axis=-1,
                                                     keepdims=True), n)
            return rounds + 1, count, out, exceeded, seed

        def cond(rounds, count, out, exceeded, seed):
            return (rounds < _MAX_ROUNDS) & tf.reduce_any((count < n) & ~bad_bound)

        out0 = tf.fill(tf.stack([rows, n + 1, d]), tf.constant(np.nan, dtype))
        _, count, out, exceeded, _ = tf.while_loop(
            cond, body, (tf.constant(0), tf.zeros([rows, 1], tf.int32), out0,
                         tf.zeros([rows, 1], tf.bool), seed))
        out = out[:, :n]
        if self.validate_args:
            with tf.control_dependencies([
                    tf.debugging.assert_equal(
                        tf.reduce_any(bad_bound | exceeded | (count < n)), False,
                        message="rejection sampling failed: the bound is not finite, is "
                                "exceeded by the density, or accepts too rarely; pass "
                                "density_bound")]):
                out = tf.identity(out)
        out = tf.transpose(out, [1, 0, 2])  # [n, rows, d]
        return tf.reshape(out, tf.concat([[n], batch, [d]], axis=0))
