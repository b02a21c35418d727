"""Inhomogeneous Poisson process on a box in d >= 2 dimensions: a spatial point process
whose integrated intensity is a cubature."""
import numpy as np

from bayesquad._tf import tf, tfp
from bayesquad.distributions._box import BoxFunctionMixin
from bayesquad.distributions._mixins import PaddedEventsMixin, check_max_events

tfd = tfp.distributions

__all__ = ["SpatialPoissonProcess"]

_CHUNK = 64  # minimum candidate points drawn per thinning round


class SpatialPoissonProcess(BoxFunctionMixin, PaddedEventsMixin, tfd.Distribution):
    r"""Inhomogeneous Poisson process on the box ``[low, high]`` in d >= 2 dimensions.

    ``log_prob(events) = Σ_i log λ(x_i) − ∫_box λ(x) dx`` with ``λ = exp(log_intensity)``,
    the integral by :func:`bayesquad.cubature` in log space (or a planned product rule).

    Parameters
    ----------
    log_intensity : callable
        ``log_intensity(x, **params)`` with the coordinates on the trailing axis of ``x``
        (``x[..., 0]``, ``x[..., 1]``, ...), returning ``x.shape[:-1]``. Called with ``x`` of
        shape ``[m] + batch_shape + [d]`` inside the integral and ``sample_shape +
        batch_shape + [n_events, d]`` at the events; there each parameter gets a trailing
        unit axis (``param[..., None]``) to line up with the event axis.
    low, high : Tensor, shape ``[..., d]``
        Finite corners of the box, ``low < high`` on every axis; leading axes join the
        batch shape.
    params : dict of str -> Tensor, optional
        Scalar-per-batch-element parameters.
    intensity_bound : float or Tensor, optional
        Upper bound of ``λ`` on the box for thinning (per batch element). Default:
        ``bound_safety`` times the maximum of ``λ`` on a grid of ``bound_grid`` points
        per axis.
    max_events : int, optional
        Padded number of events (the static event shape ``[max_events, d]``); needed
        inside ``JointDistribution*`` models and under XLA (set it to the observed count).
    bound_grid : int, default 64
    bound_safety : float, default 1.25
    quadrature : GaussLegendre, Adaptive or None
        ``bayesquad.quadrature.GaussLegendre(nodes, panels)``: that rule on every axis (a
        product rule, ``(nodes·panels)^d`` evaluations, with per-axis error estimates);
        ``Adaptive(rtol=..., max_evals=...)``: adaptive cubature (Genz–Malik for d <= 6).
        None (default): a fit plans a product rule over the posterior region; outside a
        fit the keywords below apply.
    method : str, default ``"gauss-legendre"``
        A method of :func:`bayesquad.cubature`; ``nodes``/``panels`` default to 32 and 2
        per axis for ``"gauss-legendre"``.
    nodes, panels, rtol, atol, max_evals
        Its options.
    dtype, validate_args, allow_nan_stats, name
        As for TFP distributions.

    Notes
    -----
    *Events and padding* as for :class:`PoissonProcess`: one realisation is an ``[n, d]``
    array of points, padded to ``max_events`` rows with NaN (a row with a NaN coordinate
    is "no event"); any other point outside the box makes ``log_prob`` ``-inf``.
    ``log_prob`` is the Janossy density of the event set (without ``log n!``). ``sample``
    returns the points in the order drawn, NaN rows after them; a realisation with more
    than ``max_events`` events is returned as rows of ``+inf`` (``validate_args=True``
    raises instead).

    *Accuracy.* The default product rule (64 nodes per axis) resolves intensities smooth
    on about 1/20 of each side; a narrower hotspot needs more panels, which the status
    (per-axis Legendre-tail estimates, conservative for analytic integrands) and the
    quadrature check report. A plan finds the cheapest product rule within the fit's
    tolerance at points spread over the posterior region, and the quadrature check
    certifies it at posterior draws against adaptive Genz–Malik cubature.

    *Thinning* is exact when the bound bounds ``λ``; the grid bound can miss a peak
    narrower than the grid spacing (pass ``intensity_bound`` when you know one).
    """

    def __init__(self, log_intensity, low, high, params=None, *, intensity_bound=None,
                 max_events=None, bound_grid=64, bound_safety=1.25, quadrature=None,
                 method="gauss-legendre", nodes=None, panels=None, rtol=None, atol=None,
                 max_evals=None, dtype=None, validate_args=False, allow_nan_stats=True,
                 name="SpatialPoissonProcess"):
        parameters = dict(locals())
        check_max_events(max_events)
        with tf.name_scope(name) as name:
            dtype = self._init_box(
                log_intensity, "log_intensity", low, high, params, dtype,
                quadrature=quadrature, method=method, nodes=nodes, panels=panels, rtol=rtol,
                atol=atol, max_evals=max_evals, bound_grid=bound_grid,
                bound_safety=bound_safety)
            self._intensity_bound = (None if intensity_bound is None else
                                     tf.convert_to_tensor(intensity_bound, dtype))
            self._max_events = None if max_events is None else int(max_events)
            super().__init__(dtype=dtype, reparameterization_type=tfd.NOT_REPARAMETERIZED,
                             validate_args=validate_args, allow_nan_stats=allow_nan_stats,
                             parameters=parameters, name=name)

    @property
    def log_intensity(self):
        return self._fn

    def _event_shape(self):
        return tf.TensorShape([self._max_events, self.dim])

    def _event_shape_tensor(self):
        return tf.stack([tf.cast(self._resolve_max_events(), tf.int32), self.dim])

    def _default_event_space_bijector(self):
        return self._box_bijector(event_ndims_extra=1)

    # ---- integrated intensity ----------------------------------------------------
    def _quadrature_status(self, value):
        # the status of ∫λ over the box per batch element, whatever the events
        return self._box_integral("∫λ over the box")[1]

    def log_expected_count(self):
        """``log ∫_box λ(x) dx`` per batch element."""
        with self._name_and_control_scope("log_expected_count"):
            return self._box_integral("∫λ over the box")[0]

    def expected_count(self):
        """``Λ = ∫_box λ(x) dx``: the mean number of events."""
        with self._name_and_control_scope("expected_count"):
            return self._box_integral("∫λ over the box", log=False)[0]

    # ---- density -----------------------------------------------------------------
    def _log_prob(self, events):
        events = tf.convert_to_tensor(events, self.dtype)
        present = ~tf.reduce_any(tf.math.is_nan(events), axis=-1)
        inside, safe = self._inside(events, extra=1)
        params = {k: v[..., tf.newaxis] for k, v in self._params.items()}
        log_lam = tf.convert_to_tensor(self._fn(safe, **params), self.dtype)
        log_lam = log_lam + tf.zeros_like(safe[..., 0])
        total = tf.reduce_sum(tf.where(inside, log_lam, tf.zeros_like(log_lam)), axis=-1)
        stray = tf.reduce_any(present & ~inside, axis=-1)
        out = total - self._box_integral("∫λ over the box", log=False)[0]
        return tf.where(stray, tf.constant(-np.inf, self.dtype), out)

    # ---- sampling by thinning ----------------------------------------------------
    def _padding_mean(self):
        return self.expected_count()

    def log_intensity_bound(self):
        """``log`` of the thinning bound per batch element (see Notes)."""
        return self._log_bound(self._intensity_bound)

    def _sample_n(self, n, seed=None):
        """Thinning of a homogeneous process at the bound: candidates arrive in
        "volume time" (exponential gaps at rate ``bound · volume``) at uniform positions
        and are kept with probability ``λ/bound``, in rounds as wide as the output."""
        k = self._resolve_max_events()
        seed = tfp.random.sanitize_seed(seed, salt="SpatialPoissonProcess")
        dtype, d = self.dtype, self.dim
        shape = tf.concat([[n], self.batch_shape_tensor()], axis=0)
        rows = tf.reduce_prod(shape)
        rows = int(tf.get_static_value(rows)) if tf.get_static_value(rows) is not None else rows
        flat = lambda v: tf.reshape(tf.broadcast_to(v, shape), [rows, 1])  # noqa: E731
        low = tf.reshape(tf.broadcast_to(self._low, tf.concat([shape, [d]], 0)), [rows, 1, d])
        high = tf.reshape(tf.broadcast_to(self._high, tf.concat([shape, [d]], 0)),
                          [rows, 1, d])
        log_m = flat(tf.stop_gradient(self.log_intensity_bound()))
        log_volume = tf.reduce_sum(tf.math.log(high - low), -1)
        params = {key: flat(v) for key, v in self._params.items()}
        bad_bound = tf.math.is_nan(log_m) | tf.equal(log_m, np.inf)
        rate = tf.where(bad_bound, tf.ones_like(log_m), tf.exp(log_m + log_volume))
        tiny = np.finfo(dtype.as_numpy_dtype).tiny
        block = max(_CHUNK, k + 1) if isinstance(k, int) else tf.maximum(_CHUNK, k + 1)
        row_ids = tf.broadcast_to(tf.range(rows)[:, tf.newaxis], tf.stack([rows, block]))

        def body(t, count, out, exceeded, seed):
            seed, s_gap, s_pos, s_acc = tf.unstack(tfp.random.split_seed(seed, 4))
            u_gap = tf.random.stateless_uniform(tf.stack([rows, block]), s_gap, tiny, 1.0,
                                                dtype)
            times = t + tf.cumsum(-tf.math.log(u_gap) / rate, axis=-1)
            in_box = times <= 1.0
            u_pos = tf.random.stateless_uniform(tf.stack([rows, block, d]), s_pos, 0.0, 1.0,
                                                dtype)
            x = low + (high - low) * u_pos
            log_lam = self._fn(x, **params) + tf.zeros_like(times)
            u_acc = tf.random.stateless_uniform(tf.stack([rows, block]), s_acc, tiny, 1.0,
                                                dtype)
            accept = in_box & (tf.math.log(u_acc) < log_lam - log_m)
            exceeded |= tf.reduce_any(in_box & (log_lam > log_m), axis=-1, keepdims=True)
            pos = count + tf.cumsum(tf.cast(accept, tf.int32), axis=-1) - 1
            col = tf.where(accept & (pos < k), pos, k)  # rejected and overflow: scratch row k
            idx = tf.reshape(tf.stack([row_ids, col], axis=-1), [-1, 2])
            out = tf.tensor_scatter_nd_update(out, idx, tf.reshape(x, [-1, d]))
            count += tf.reduce_sum(tf.cast(accept, tf.int32), axis=-1, keepdims=True)
            new = (tf.reshape(times[:, -1], tf.shape(t)), count, out, exceeded, seed)
            return tuple(tf.ensure_shape(v, o.shape)
                         for v, o in zip(new, (t, count0, out0, exceeded0, seed)))

        def cond(t, count, out, exceeded, seed):
            return tf.reduce_any((t < 1.0) & (count <= k))

        t0 = tf.where(bad_bound, tf.ones_like(log_m), tf.zeros_like(log_m))
        out0 = tf.fill(tf.stack([rows, k + 1, d]), tf.constant(np.nan, dtype))
        count0 = tf.zeros([rows, 1], tf.int32)
        exceeded0 = tf.zeros([rows, 1], tf.bool)
        _, count, out, exceeded, _ = tf.while_loop(
            cond, body, (t0, count0, out0, exceeded0, seed))
        out = out[:, :k]
        overflow = (count > k)[..., tf.newaxis]
        out = tf.where(bad_bound[..., tf.newaxis] | overflow, tf.constant(np.inf, dtype), out)
        if self.validate_args:
            with tf.control_dependencies([
                    tf.debugging.assert_equal(tf.reduce_any(bad_bound | exceeded), False,
                                              message="thinning bound is not finite or is "
                                              "exceeded; pass intensity_bound"),
                    tf.debugging.assert_equal(tf.reduce_any(overflow), False,
                                              message="a realisation has more than "
                                              "`max_events` events; raise max_events")]):
                out = tf.identity(out)
        return tf.reshape(out, tf.concat([shape, [k, d]], axis=0))
