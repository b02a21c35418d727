"""Inhomogeneous Poisson process on an interval, its integrated intensity by quadrature."""
import math

import numpy as np

from bayesquad._tf import tf, tfp
from bayesquad.distributions import _common as C
from bayesquad.distributions._maps import TrailingEventBijector, interval_bijector
from bayesquad.distributions._mixins import (
    IntervalFunctionMixin,
    PaddedEventsMixin,
    check_max_events,
)

tfd = tfp.distributions

__all__ = ["PoissonProcess", "pad_events"]

_CHUNK = 64  # minimum candidate points drawn per thinning round


def pad_events(realisations, max_events=None, dtype=np.float64):
    """Stack 1-D event arrays of different lengths into a NaN-padded ``[r, max_events]`` array.

    Parameters
    ----------
    realisations : sequence of 1-D array-like
        Event times of each realisation.
    max_events : int, optional
        Width of the result (default: the longest realisation).
    dtype : numpy dtype

    Returns
    -------
    numpy.ndarray
        Events first (in the given order), NaN after them; the padding convention of
        :class:`PoissonProcess` and :class:`ExtendedUnbinned`.
    """
    rows = [np.asarray(r, dtype=dtype).reshape(-1) for r in realisations]
    width = max((len(r) for r in rows), default=0) if max_events is None else int(max_events)
    if any(len(r) > width for r in rows):
        raise ValueError(f"`max_events`={width} is smaller than the longest realisation "
                         f"({max(len(r) for r in rows)} events)")
    if any(np.isnan(r).any() for r in rows):
        raise ValueError("`realisations` contain NaN, which is reserved for padding")
    out = np.full((len(rows), width), np.nan, dtype=dtype)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


class PoissonProcess(IntervalFunctionMixin, PaddedEventsMixin, tfd.Distribution):
    r"""Inhomogeneous Poisson process on ``[low, high]`` with intensity ``exp(log_intensity)``.

    ``log_prob(events) = Σ_i log λ(t_i) − ∫_low^high λ(t) dt``, the integral by
    :func:`bayesquad.integrate` in log space.

    Parameters
    ----------
    log_intensity : callable
        ``log_intensity(t, **params)``, elementwise, broadcasting against the parameters.
        Called with ``t`` of shape ``[m] + batch_shape`` inside the integral, and
        ``sample_shape + batch_shape + [n_events]`` at the events; there each parameter
        gets a trailing unit axis (``param[..., None]``) so it lines up with the event
        axis.
    low, high : float or Tensor
        Finite window, ``low < high``.
    params : dict of str -> Tensor, optional
        Scalar-per-batch-element parameters; ``batch_shape`` is the broadcast of their
        shapes with ``low``/``high``.
    intensity_bound : float or Tensor, optional
        Upper bound of ``λ`` on the window for thinning (per batch element), finite and
        > 0 (a ``ValueError`` when known at construction). Default: ``bound_safety``
        times the maximum of ``λ`` over ``bound_grid`` equispaced points (and ``points``).
    max_events : int, optional
        Padded length of a realisation (the static event shape). Needed under XLA, both
        to sample and inside ``JointDistribution*`` models (they trace a sample to learn
        the event spec, also in ``log_prob``). Default: ``ceil(Λ + 8√Λ + 8)`` at the
        largest expected count ``Λ`` of the batch, a Python int in eager mode and a
        run-time value inside ``tf.function``.
    bound_grid : int, default 1024
    bound_safety : float, default 1.25
    quadrature : GaussLegendre, Adaptive or None
        How the integral is computed, as on every distribution (see :class:`Normalized`):
        ``bayesquad.quadrature.GaussLegendre`` or ``Adaptive``; None: planned by a fit.
        The keywords below say the same in this distribution's terms: give one or the other.
    method, rtol, atol, nodes, panels, max_evals, max_levels, points
        Quadrature settings for ``∫λ`` (see :class:`Normalized`).
    dtype, validate_args, allow_nan_stats, name
        As for TFP distributions. With ``validate_args=True`` a non-converged integral
        raises, and so does a thinning candidate where ``λ`` exceeds the bound or a
        sampled realisation with more than ``max_events`` events.

    Notes
    -----
    *Events and padding.* One realisation is a 1-D tensor of event times (order is
    irrelevant). Several realisations of different sizes are stacked along leading
    (sample/batch) axes and padded with NaN: NaN marks "no event" and contributes
    nothing, like a mask, with no separate mask argument (TFP's ``log_prob(x)`` takes a
    single tensor). Use :func:`pad_events`. Any non-NaN event outside ``[low, high]``
    makes ``log_prob`` ``-inf``; gradients stay finite. ``sample`` returns sorted events
    followed by NaN padding, shape ``sample_shape + batch_shape + [max_events]``. A
    realisation with more than ``max_events`` events is never truncated: it is returned
    as a row of ``+inf`` (``log_prob`` of it is ``-inf``), and with
    ``validate_args=True`` sampling raises instead (probability < 1e-9 with the default
    size; choose ``max_events`` with the same margin).

    *Density convention.* ``log_prob`` is the Janossy log-density of the event *set*,
    without ``log n!``; it is the standard point-process likelihood.

    *Accuracy.* ``∫λ`` has the quadrature's accuracy (default: composite Gauss-Legendre,
    16 panels x 32 nodes, ~1e-14 relative for intensities smooth on ~1/50 of the window;
    it degrades for narrower bumps — pass ``points`` or raise ``panels`` — and the status
    says so; see ``quadrature_status()`` and :class:`Normalized`). If the integrand is
    NaN/+inf somewhere the integral and ``log_prob`` are NaN (the sampler rejects the
    point).

    *Thinning* is exact when the bound really bounds ``λ``. The grid bound can miss a
    spike narrower than ``(high - low) / bound_grid`` or underestimate a peak between
    grid points by more than ``bound_safety``; then the sample is biased towards lower
    intensity there. Pass ``intensity_bound`` when you know one. Candidates are drawn in
    rounds of ``max(64, max_events + 1)`` per realisation, and a realisation stops once
    its window is exhausted or it has more than ``max_events`` events, so the cost is
    ``~ bound·(high − low)`` candidates in ``~ bound·(high − low) / max_events`` rounds,
    at most about ``max_events / acceptance rate`` candidates; a loose bound costs in
    proportion to its looseness. Batch elements whose bound is NaN or ``+inf`` return
    ``+inf`` events (never mistakable for data).
    """

    def __init__(self, log_intensity, low, high, params=None, *, intensity_bound=None,
                 max_events=None, bound_grid=1024, bound_safety=1.25, quadrature=None,
                 method=C.DEFAULT_METHOD, rtol=None, atol=None, nodes=None, panels=None,
                 max_evals=None, max_levels=None, points=None, dtype=None,
                 validate_args=False, allow_nan_stats=True, name="PoissonProcess"):
        parameters = dict(locals())
        C.check_callable(log_intensity, "log_intensity")  # before the other arguments'
        check_max_events(max_events)
        if not isinstance(bound_grid, (int, np.integer)) or bound_grid < 2:
            raise ValueError(f"`bound_grid` must be an int >= 2, got {bound_grid!r}")
        if not bound_safety >= 1.0:
            raise ValueError(f"`bound_safety` must be >= 1, got {bound_safety!r}")
        with tf.name_scope(name) as name:
            dtype = self._init_interval(
                log_intensity, "log_intensity", low, high, params, points, dtype,
                require_finite=True, choice=quadrature, method=method, rtol=rtol, atol=atol,
                nodes=nodes, panels=panels, max_evals=max_evals, max_levels=max_levels)
            self._intensity_bound = (None if intensity_bound is None else
                                     tf.convert_to_tensor(intensity_bound, dtype,
                                                          name="intensity_bound"))
            bound = (None if intensity_bound is None
                     else tf.get_static_value(self._intensity_bound))
            if bound is not None and not np.all(np.isfinite(bound) & (bound > 0)):
                raise ValueError(
                    f"`intensity_bound` must be a finite number > 0 bounding the intensity "
                    f"exp(log_intensity) on [low, high] (one per batch element), got "
                    f"{bound}; omit it to use the grid bound (bound_grid, bound_safety)")
            self._max_events = None if max_events is None else int(max_events)
            self._bound_grid = int(bound_grid)
            self._bound_safety = float(bound_safety)
            super().__init__(
                dtype=dtype, reparameterization_type=tfd.NOT_REPARAMETERIZED,
                validate_args=validate_args, allow_nan_stats=allow_nan_stats,
                parameters=parameters, name=name)

    @property
    def log_intensity(self):
        return self._fn

    def _slice_extra(self, cut):
        return {} if self._intensity_bound is None else dict(
            intensity_bound=cut(self._intensity_bound))

    def _default_event_space_bijector(self):
        return TrailingEventBijector(
            interval_bijector(self._low, self._high, validate_args=self.validate_args))

    # ---- integrated intensity ----------------------------------------------------
    def integral_result(self):
        """:class:`bayesquad.IntegrationResult` of ``log ∫λ`` per batch element."""
        with self._name_and_control_scope("integral_result"):
            return self._log_integral(self._low, self._high)

    def _quadrature_status(self, value):
        # the status of ∫λ per batch element: the same for every set of events
        return self._window_integral("∫λ")[1]

    def _log_expected(self):
        return self._window_integral("∫λ")[0]

    def log_expected_count(self):
        """``log ∫_low^high λ(t) dt`` per batch element."""
        with self._name_and_control_scope("log_expected_count"):
            return self._log_expected()

    def expected_count(self):
        """``Λ = ∫_low^high λ(t) dt``: the mean (and variance) of the number of events."""
        with self._name_and_control_scope("expected_count"):
            return self._window_integral("∫λ", log=False)[0]

    # ---- density -----------------------------------------------------------------
    def _expanded_params(self):
        return {k: v[..., tf.newaxis] for k, v in self._params.items()}

    def _log_prob(self, events):
        events = tf.convert_to_tensor(events, self.dtype)
        low, high = self._low[..., tf.newaxis], self._high[..., tf.newaxis]
        present = ~tf.math.is_nan(events)
        inside, t_safe = C.support_mask(events, low, high)
        log_lam = tf.convert_to_tensor(
            self._fn(t_safe, **self._expanded_params()), self.dtype)
        log_lam = tf.broadcast_to(log_lam, tf.shape(t_safe + tf.zeros_like(log_lam)))
        inside = tf.broadcast_to(inside, tf.shape(log_lam))
        total = tf.reduce_sum(tf.where(inside, log_lam, tf.zeros_like(log_lam)), axis=-1)
        stray = tf.reduce_any(present & ~inside, axis=-1)
        out = total - self._window_integral("∫λ", log=False)[0]
        return tf.where(stray, tf.constant(-np.inf, self.dtype), out)

    # ---- sampling by thinning ----------------------------------------------------
    def _padding_mean(self):
        return self.expected_count()

    def log_intensity_bound(self):
        """``log`` of the thinning bound per batch element (see Notes)."""
        if self._intensity_bound is not None:
            return tf.math.log(self._intensity_bound) + tf.zeros(self.batch_shape_tensor(),
                                                                 self.dtype)
        u = tf.cast(tf.linspace(0.0, 1.0, self._bound_grid), self.dtype)
        u = tf.reshape(u, [-1] + [1] * len(self.batch_shape))
        grid = self._low + (self._high - self._low) * u
        if self._points is not None:
            pts = tf.experimental.numpy.moveaxis(
                self._points + tf.zeros_like(self._low)[..., tf.newaxis], -1, 0)
            pts = tf.clip_by_value(pts, self._low, self._high)
            grid = tf.concat([grid + tf.zeros_like(pts[:1]), pts + tf.zeros_like(grid[:1])],
                             axis=0)
        log_lam = self._fn(grid, **self._params) + tf.zeros_like(grid)
        return tf.reduce_max(log_lam, axis=0) + math.log(self._bound_safety)

    def _sample_n(self, n, seed=None):
        k = self._resolve_max_events()
        seed = tfp.random.sanitize_seed(seed, salt="PoissonProcess")
        dtype = self.dtype
        shape = tf.concat([[n], self.batch_shape_tensor()], axis=0)
        rows = tf.reduce_prod(shape)
        rows = int(tf.get_static_value(rows)) if tf.get_static_value(rows) is not None else rows
        flat = lambda v: tf.reshape(tf.broadcast_to(v, shape), [rows, 1])  # noqa: E731
        low, high = flat(self._low), flat(self._high)
        log_m = flat(tf.stop_gradient(self.log_intensity_bound()))
        params = {key: flat(v) for key, v in self._params.items()}
        bad_bound = tf.math.is_nan(log_m) | tf.equal(log_m, np.inf)
        rate = tf.where(bad_bound, tf.ones_like(log_m), tf.exp(log_m))
        tiny = np.finfo(dtype.as_numpy_dtype).tiny
        # Rounds as wide as the output: the per-round update of `out` costs O(k), so
        # narrow rounds made sampling quadratic in the expected count.
        block = max(_CHUNK, k + 1) if isinstance(k, int) else tf.maximum(_CHUNK, k + 1)
        row_ids = tf.broadcast_to(tf.range(rows)[:, tf.newaxis], tf.stack([rows, block]))

        def body(t, count, out, exceeded, seed):
            seed, s_gap, s_acc = tf.unstack(tfp.random.split_seed(seed, 3))
            u_gap = tf.random.stateless_uniform(tf.stack([rows, block]), s_gap, tiny, 1.0,
                                                dtype)
            times = t + tf.cumsum(-tf.math.log(u_gap) / rate, axis=-1)
            in_window = times <= high
            t_safe = tf.where(in_window, times, low + tf.zeros_like(times))
            log_lam = self._fn(t_safe, **params) + tf.zeros_like(times)
            u_acc = tf.random.stateless_uniform(tf.stack([rows, block]), s_acc, tiny, 1.0,
                                                dtype)
            accept = in_window & (tf.math.log(u_acc) < log_lam - log_m)
            exceeded |= tf.reduce_any(in_window & (log_lam > log_m), axis=-1, keepdims=True)
            pos = count + tf.cumsum(tf.cast(accept, tf.int32), axis=-1) - 1
            # Rejected candidates and overflow go to a scratch column k, dropped below.
            col = tf.where(accept & (pos < k), pos, k)
            idx = tf.stack([row_ids, col], axis=-1)
            out = tf.tensor_scatter_nd_update(out, tf.reshape(idx, [-1, 2]),
                                              tf.reshape(times, [-1]))
            count += tf.reduce_sum(tf.cast(accept, tf.int32), axis=-1, keepdims=True)
            new = (tf.reshape(times[:, -1], tf.shape(t)), count, out, exceeded, seed)
            # Keep the static shapes tf.while_loop insists on (batch sizes may be known
            # statically outside the loop but not be inferred inside it).
            return tuple(tf.ensure_shape(v, o.shape)
                         for v, o in zip(new, (t, count0, out0, exceeded0, seed)))

        def cond(t, count, out, exceeded, seed):
            # A row with more than k events is flagged below: no need to finish it.
            return tf.reduce_any((t < high) & (count <= k))

        t0 = tf.where(bad_bound, high, low)
        out0 = tf.fill(tf.stack([rows, k + 1]), tf.constant(np.nan, dtype))
        count0 = tf.zeros([rows, 1], tf.int32)
        exceeded0 = tf.zeros([rows, 1], tf.bool)
        _, count, out, exceeded, _ = tf.while_loop(
            cond, body, (t0, count0, out0, exceeded0, seed))
        out = out[:, :k]
        overflow = count > k
        out = tf.where(bad_bound | overflow, tf.constant(np.inf, dtype), out)
        if self.validate_args:
            with tf.control_dependencies([
                    tf.debugging.assert_equal(
                        tf.reduce_any(bad_bound), False,
                        message="`intensity_bound` (or the grid bound) is not a finite "
                                "number > 0; pass a finite positive intensity_bound"),
                    tf.debugging.assert_equal(
                        tf.reduce_any(exceeded), False,
                        message="thinning bound exceeded by the intensity; pass "
                                "intensity_bound or raise bound_grid/bound_safety"),
                    tf.debugging.assert_equal(
                        tf.reduce_any(overflow), False,
                        message="a realisation has more than `max_events` events; "
                                "raise max_events")]):
                out = tf.identity(out)
        return tf.reshape(out, tf.concat([shape, [k]], axis=0))
