"""Binned expectations and the extended unbinned (Poisson-count) likelihood."""
import numpy as np

from bayesquad._tf import tf, tfp
from bayesquad.distributions import _common as C
from bayesquad.distributions._maps import TrailingEventBijector
from bayesquad.distributions._mixins import PaddedEventsMixin, check_max_events

tfd = tfp.distributions

__all__ = ["ExtendedUnbinned", "expected_bin_counts"]


def _check_edges(edges):
    if edges.shape.rank is not None and edges.shape.rank < 1:
        raise ValueError("`edges` must have a trailing axis of bin edges, got a scalar")
    n = edges.shape[-1]
    if n is not None and n < 2:
        raise ValueError(f"`edges` needs at least 2 entries along its last axis, got {n}")
    e = tf.get_static_value(edges)
    if e is not None:
        if np.any(np.isnan(e)):
            raise ValueError("`edges` contains NaN")
        if np.any(np.diff(e, axis=-1) <= 0):
            raise ValueError("`edges` must be strictly increasing along the last axis")


def expected_bin_counts(distribution_or_log_density, edges, total=1.0, params=None, *,
                        normalize=None, method=C.DEFAULT_METHOD, rtol=None, atol=None,
                        nodes=None, panels=None, max_evals=None, max_levels=None,
                        return_status=False, dtype=None):
    r"""Expected counts per bin, one integral per bin in a single vectorised call.

    Parameters
    ----------
    distribution_or_log_density : tfd.Distribution or callable
        A scalar TFP distribution (its ``log_prob`` is integrated, e.g. a
        :class:`Normalized`) or ``log_density(x, **params)`` (elementwise; ``x`` arrives
        with shape ``[m, n_bins] + batch_shape``).
    edges : Tensor, shape ``edges_batch + [n_bins + 1]``
        Strictly increasing bin edges (±inf allowed for under/overflow bins).
    total : float or Tensor
        Scale (broadcast against the batch shape); see ``normalize``.
    params : dict of str -> Tensor, optional
        Parameters of a callable ``log_density`` (batch parameters as in
        :class:`Normalized`). Not allowed with a distribution.
    normalize : bool, optional
        ``False``: ``counts_k = total · ∫_bin_k exp(log p)``; for a distribution ``total``
        is then the expected number of events over its whole support, and for a callable
        with ``total=1`` these are the integrals of an intensity. ``True``: counts are
        rescaled to sum to ``total`` over ``[edges[0], edges[-1]]`` (an unnormalised
        density). Default: ``False`` for a distribution, ``True`` for a callable.
    method, rtol, atol, nodes, panels, max_evals, max_levels
        Quadrature settings (see :func:`bayesquad.integrate`).
    return_status : bool
        Also return the int32 :class:`bayesquad.Status` per bin.
    dtype : tf.DType, optional

    Returns
    -------
    counts : Tensor, shape ``batch_shape + [n_bins]``
        ``batch_shape`` broadcasts ``edges_batch``, the distribution's batch shape (or the
        params' shapes) and ``total``'s shape.
    status : Tensor, optional
        With ``return_status=True``.

    Notes
    -----
    The integrals are done in log space, so bins far in a tail keep their relative
    accuracy (~``rtol``) instead of underflowing. A bin whose integrand was NaN/+inf gives
    NaN (never a silent 0), other non-converged bins keep their estimate: check
    ``status``. Use the counts as the rates of ``tfd.Poisson`` for a binned likelihood:
    ``tfd.Independent(tfd.Poisson(rate=counts), 1).log_prob(observed)``.
    """
    is_dist = isinstance(distribution_or_log_density, tfd.Distribution)
    if not is_dist and not callable(distribution_or_log_density):
        raise ValueError("`distribution_or_log_density` must be a tfd.Distribution or a "
                         "callable log_density(x, **params), got "
                         f"{type(distribution_or_log_density).__name__}")
    if is_dist:
        dist = distribution_or_log_density
        if params:
            raise ValueError("`params` is for a callable log_density; a distribution "
                             "carries its own parameters")
        if dist.event_shape.rank != 0:
            raise ValueError(f"`distribution_or_log_density` must have a scalar event, got "
                             f"event_shape {dist.event_shape}")
        dtype = C.common_dtype(dtype=dtype or dist.dtype)
        params = {}
        batch_dummy = tf.zeros(dist.batch_shape_tensor(), dtype)

        def log_f(x):
            return dist.log_prob(x)
        normalize = False if normalize is None else bool(normalize)
    else:
        raw = dict(params) if hasattr(params, "items") else {}
        dtype = C.common_dtype(edges, total, *raw.values(), dtype=dtype)
        params = C.convert_params(params, dtype)
        log_f = distribution_or_log_density
        batch_dummy = tf.zeros(C.batch_shape_tensor(*params.values()), dtype)
        normalize = True if normalize is None else bool(normalize)
    edges = tf.convert_to_tensor(edges, dtype, name="edges")
    total = tf.convert_to_tensor(total, dtype, name="total")
    _check_edges(edges)
    opts = C.default_quadrature_options(method, rtol=rtol, atol=atol, nodes=nodes,
                                        panels=panels, max_evals=max_evals,
                                        max_levels=max_levels)

    # Bins go on the leading batch axis, followed by unit axes so the model's own batch
    # axes (params / distribution) broadcast on the right: x is [m, n_bins, ..., B].
    lower = tf.experimental.numpy.moveaxis(edges[..., :-1], -1, 0)
    upper = tf.experimental.numpy.moveaxis(edges[..., 1:], -1, 0)
    model_rank = batch_dummy.shape.rank
    extra = max(model_rank - (edges.shape.rank - 1), 0)
    new_shape = tf.concat([tf.shape(lower)[:1], tf.ones([extra], tf.int32),
                           tf.shape(lower)[1:]], axis=0)
    lower = tf.reshape(lower, new_shape)
    upper = tf.reshape(upper, new_shape)
    lower = lower + tf.zeros_like(batch_dummy)
    res = C.integrate_log(log_f, lower, upper, params, opts)
    log_bins = tf.experimental.numpy.moveaxis(C.checked_log_value(res), 0, -1)
    status = tf.experimental.numpy.moveaxis(res.status, 0, -1)
    if normalize:
        log_bins = log_bins - tf.reduce_logsumexp(log_bins, axis=-1, keepdims=True)
    counts = total[..., tf.newaxis] * tf.exp(log_bins)
    if return_status:
        return counts, tf.broadcast_to(status, tf.shape(counts))
    return counts


class ExtendedUnbinned(PaddedEventsMixin, tfd.Distribution):
    r"""Extended unbinned likelihood: ``N ~ Poisson(ν)`` events i.i.d. from ``distribution``.

    ``log_prob(x) = Σ_i log(ν p(x_i)) − ν = N log ν + Σ_i log p(x_i) − ν``.

    Parameters
    ----------
    distribution : tfd.Distribution
        Scalar-event shape density ``p`` (e.g. :class:`Normalized`), batch shape ``B``.
    total : float or Tensor
        Expected number of events ``ν > 0``, broadcasting against ``B``.
    max_events : int, optional
        Padded length of a sampled realisation (static event shape; needed under XLA,
        also for ``log_prob`` inside ``JointDistribution*`` models, which trace a
        sample). Default: ``ceil(ν + 8√ν + 8)`` (a run-time value inside
        ``tf.function``).
    validate_args, allow_nan_stats, name
        As for TFP distributions.

    Notes
    -----
    Events of one realisation form the last axis; realisations of different sizes are
    NaN-padded (NaN = no event; see :func:`pad_events`), as for :class:`PoissonProcess`,
    of which this is the special case ``λ(x) = ν p(x)``. The constant ``-log N!`` is *not*
    included: ``log_prob`` is the density of the event set (Janossy density), the usual
    extended maximum-likelihood form; add ``-lgamma(N + 1)`` for the density of the
    ordered sample, e.g. when comparing with a binned Poisson likelihood's normalisation.
    Accuracy is that of ``distribution.log_prob`` (for :class:`Normalized`, its
    normaliser). ``sample`` draws ``N`` then ``max_events`` i.i.d. points and keeps the
    first ``N`` (unordered); a count above ``max_events`` is truncated.
    """

    def __init__(self, distribution, total, *, max_events=None, validate_args=False,
                 allow_nan_stats=True, name="ExtendedUnbinned"):
        parameters = dict(locals())
        if not isinstance(distribution, tfd.Distribution):
            raise ValueError("`distribution` must be a tfd.Distribution, got "
                             f"{type(distribution).__name__}")
        if distribution.event_shape.rank != 0:
            raise ValueError("`distribution` must have a scalar event shape, got "
                             f"{distribution.event_shape}")
        check_max_events(max_events)
        with tf.name_scope(name) as name:
            self._distribution = distribution
            self._total = tf.convert_to_tensor(total, distribution.dtype, name="total")
            t = tf.get_static_value(self._total)
            if t is not None and np.any(~(np.asarray(t) > 0)):
                raise ValueError(f"`total` must be > 0, got {t}")
            self._max_events = None if max_events is None else int(max_events)
            super().__init__(
                dtype=distribution.dtype, reparameterization_type=tfd.NOT_REPARAMETERIZED,
                validate_args=validate_args, allow_nan_stats=allow_nan_stats,
                parameters=parameters, name=name)

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        # `distribution` carries batch shape too; _batch_shape below adds it.
        return dict(
            total=tfp.util.ParameterProperties(
                default_constraining_bijector_fn=lambda: tfp.bijectors.Softplus()))

    @property
    def distribution(self):
        return self._distribution

    @property
    def total(self):
        return self._total

    def expected_count(self):
        """``ν`` broadcast to the batch shape."""
        return self._total + tf.zeros(self.batch_shape_tensor(), self.dtype)

    def __getitem__(self, slices):
        # `distribution` is not among the parameter properties, so TFP would slice
        # `total` alone; slice both here.
        batch = self.batch_shape_tensor()
        if self._distribution.batch_shape != self.batch_shape:
            raise NotImplementedError("slicing needs `distribution` to have the full batch "
                                      "shape; broadcast its parameters first")
        return self.copy(distribution=self._distribution[slices],
                         total=tf.broadcast_to(self._total, batch)[slices])

    def _batch_shape(self):
        return tf.broadcast_static_shape(self._distribution.batch_shape, self._total.shape)

    def _batch_shape_tensor(self, **kwargs):
        return tf.broadcast_dynamic_shape(self._distribution.batch_shape_tensor(),
                                          tf.shape(self._total))

    def _parameter_control_dependencies(self, is_init):
        if not self.validate_args:
            return []
        return [tf.debugging.assert_positive(self._total, message="`total` must be > 0")]

    def _default_event_space_bijector(self):
        inner = self._distribution.experimental_default_event_space_bijector()
        return None if inner is None else TrailingEventBijector(inner)

    def _safe_point(self):
        bij = self._distribution.experimental_default_event_space_bijector()
        zeros = tf.zeros(self._distribution.batch_shape_tensor(), self.dtype)
        return zeros if bij is None else bij.forward(zeros)

    def _log_prob(self, x):
        x = tf.convert_to_tensor(x, self.dtype)
        xf = tf.experimental.numpy.moveaxis(x, -1, 0)  # events first: batch axes on the right
        present = ~tf.math.is_nan(xf)
        x_safe = tf.where(present, xf, self._safe_point() + tf.zeros_like(xf))
        lp = self._distribution.log_prob(x_safe)
        present = tf.broadcast_to(present, tf.shape(lp + tf.zeros_like(xf)))
        lp = tf.broadcast_to(lp, tf.shape(present))
        sum_lp = tf.reduce_sum(tf.where(present, lp, tf.zeros_like(lp)), axis=0)
        n = tf.reduce_sum(tf.cast(present, self.dtype), axis=0)
        return n * tf.math.log(self._total) + sum_lp - self._total

    def _padding_mean(self):
        return self._total

    def _sample_n(self, n, seed=None):
        k = self._resolve_max_events()
        seed = tfp.random.sanitize_seed(seed, salt="ExtendedUnbinned")
        s_count, s_draw = tfp.random.split_seed(seed, 2)
        batch = self.batch_shape_tensor()
        counts = tfd.Poisson(rate=self._total + tf.zeros(batch, self.dtype)).sample(
            n, seed=s_count)
        draws = self._distribution.sample([k, n], seed=s_draw)  # [k, n] + B_dist
        draws = tf.experimental.numpy.moveaxis(draws, 0, -1)
        draws = tf.broadcast_to(draws, tf.concat([[n], batch, [k]], axis=0))
        keep = tf.range(k, dtype=self.dtype) < counts[..., tf.newaxis]
        return tf.where(keep, draws, tf.constant(np.nan, self.dtype))
