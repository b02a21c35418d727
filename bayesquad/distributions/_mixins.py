"""Mixins for the ``tfd.Distribution`` subclasses of this package (list them before
``tfd.Distribution`` in the bases), and the NaN-padding size of point-process events."""
import math

import numpy as np

from bayesquad._tf import tf, tfp
from bayesquad.distributions import _plans
from bayesquad.distributions._common import (
    DEFAULT_METHOD,
    batch_shape_static,
    batch_shape_tensor,
    check_callable,
    checked_log_value,
    common_dtype,
    convert_params,
    default_quadrature_options,
    integrate_log,
    quadrature_keywords,
    runtime_interval_assertions,
    set_keywords,
    validate_interval,
)
from bayesquad.quadrature import GaussLegendre

__all__ = [
    "IntervalFunctionMixin",
    "PaddedEventsMixin",
    "QuadratureStatusMixin",
    "UserFunctionMixin",
    "ScalarEventMixin",
    "check_max_events",
    "default_max_events",
    "resolve_max_events",
]


class ScalarEventMixin:
    """Scalar ``event_shape`` (``[]``)."""

    def _event_shape(self):
        return tf.TensorShape([])

    def _event_shape_tensor(self):
        return tf.constant([], tf.int32)


class QuadratureStatusMixin:
    """The status protocol every integral-defined distribution follows.

    ``dist.quadrature_status(value=None)`` returns the int32 :class:`bayesquad.Status`
    codes of the integrals behind ``dist.log_prob(value)``. A subclass implements
    ``_quadrature_status(value)`` and says whether its integrals depend on the value
    (``status_depends_on_value``): a normaliser or an expected count does not (one code
    per batch element, ``value`` ignored); a convolution, a cumulative hazard or a
    latent marginal does (codes shaped like ``log_prob(value)``'s elements, ``value``
    required).

    Notes
    -----
    Callers hold the value they evaluate ``log_prob`` at and always pass it, so none has
    to know which kind a distribution is (or inspect signatures); a user asking a
    normaliser's status may leave it out.
    """

    #: whether the integrals behind ``log_prob(value)`` depend on ``value``
    status_depends_on_value = False

    def quadrature_status(self, value=None):
        """int32 :class:`bayesquad.Status` codes of the integrals behind ``log_prob(value)``.

        Parameters
        ----------
        value : Tensor, optional
            The value ``log_prob`` is evaluated at. Required when the integrals depend on
            it (``status_depends_on_value``), ignored otherwise.

        Returns
        -------
        Tensor
            int32 codes, 0 = converged (always 0 under a quadrature plan, whose accuracy
            is measured, not estimated); per batch element, or per element of
            ``log_prob(value)``'s integrals when they depend on the value.

        Notes
        -----
        ``bayesquad.status_message(code)`` explains a code; the diagnostics' quadrature
        check calls this with the observed value of every distribution it meets.
        """
        if value is None and self.status_depends_on_value:
            raise ValueError(f"{type(self).__name__}'s integrals depend on the value: call "
                             "quadrature_status(value) with the value given to log_prob")
        return self._quadrature_status(value)

    def _quadrature_status(self, value):
        raise NotImplementedError(f"{type(self).__name__} must implement "
                                  "_quadrature_status(value)")


class UserFunctionMixin:
    """What a user function ``fn(x, **params)`` on ``[low, high]`` exposes, whether the
    range is an interval or a box: the ``low``/``high``/``params`` properties and ``fn``
    with its parameters as positional arguments (how ``integrate``/``cubature`` and the
    frozen rules pass ``args``). Expects ``_fn``, ``_low``, ``_high`` and ``_params``."""

    @property
    def low(self):
        return self._low

    @property
    def high(self):
        return self._high

    @property
    def params(self):
        """Dict of the parameter tensors passed to the user function."""
        return dict(self._params)

    def _keyed(self):
        """``(f, args)`` with ``f(x, *args) == fn(x, **params)``."""
        keys = tuple(self._params)
        fn = self._fn
        return (lambda x, *v: fn(x, **dict(zip(keys, v)))), tuple(self._params[k]
                                                                   for k in keys)


class IntervalFunctionMixin(UserFunctionMixin, QuadratureStatusMixin):
    """A user log-function ``fn(x, **params)`` on ``[low, high]`` with batch parameters.

    Shared by :class:`Normalized` and :class:`PoissonProcess` (list it before
    ``tfd.Distribution``): construction (:meth:`_init_interval`), the ``low``/``high``/
    ``params`` properties, the batch shape (``low``, ``high`` and every parameter),
    slicing (everything broadcast to the batch shape, then sliced) and the log-integral
    of ``fn`` with the distribution's quadrature options.
    """

    def _init_interval(self, fn, fn_name, low, high, params, points, dtype, *,
                       require_finite=False, choice=None, **quadrature):
        """Check and store the inputs; returns the dtype. Call inside the name scope.

        ``choice`` is the distribution's ``quadrature=`` argument, translated into the
        ``integrate`` keywords of ``quadrature`` (which must then be at their defaults).
        """
        check_callable(fn, fn_name)
        if choice is not None:
            quadrature = quadrature_keywords(
                type(self).__name__, choice,
                set_keywords({"method": DEFAULT_METHOD}, **quadrature))
        raw = dict(params) if hasattr(params, "items") else {}
        dtype = common_dtype(low, high, *raw.values(), dtype=dtype)
        self._fn = fn
        self._low = tf.convert_to_tensor(low, dtype, name="low")
        self._high = tf.convert_to_tensor(high, dtype, name="high")
        self._params = convert_params(params, dtype)
        self._points = None if points is None else tf.convert_to_tensor(points, dtype)
        validate_interval(self._low, self._high, require_finite=require_finite)
        self._options = default_quadrature_options(**quadrature)
        # only an integral left at the defaults is planned: a rule chosen by hand stays
        self._plannable = (quadrature.get("method", DEFAULT_METHOD) == DEFAULT_METHOD
                           and all(v is None for k, v in quadrature.items() if k != "method")
                           and points is None)
        return dtype

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        # `params` is a dict and carries batch shape too; _batch_shape below adds it.
        return dict(low=tfp.util.ParameterProperties(),
                    high=tfp.util.ParameterProperties())

    def _slice_extra(self, cut):
        """Further constructor arguments to slice with ``cut`` (subclasses extend)."""
        return {}

    def __getitem__(self, slices):
        # TFP slices only the parameters it knows the batch shape of; ``params`` is a
        # dict, so broadcast everything to the batch shape and slice it here.
        if self._points is not None and self._points.shape.rank != 1:
            raise NotImplementedError("slicing with batch-shaped `points` is not supported")
        batch = self.batch_shape_tensor()
        cut = lambda t: tf.broadcast_to(t, batch)[slices]  # noqa: E731
        kw = dict(low=cut(self._low), high=cut(self._high),
                  params={k: cut(v) for k, v in self._params.items()})
        kw.update(self._slice_extra(cut))
        return self.copy(**kw)

    def _batch_shape(self):
        return batch_shape_static(self._low, self._high, *self._params.values())

    def _batch_shape_tensor(self, **kwargs):
        return batch_shape_tensor(self._low, self._high, *self._params.values())

    def _parameter_control_dependencies(self, is_init):
        if not self.validate_args or not is_init:
            return []
        return runtime_interval_assertions(self._low, self._high)

    def _log_integral(self, lower, upper):
        """:class:`IntegrationResult` of ``log ∫_lower^upper exp(fn)`` (``points`` included)."""
        return integrate_log(self._fn, lower, upper, self._params, self._options,
                             points=self._points)

    # -- the whole-window integral, planned --------------------------------------------
    def _window_plan(self):
        """The quadrature plan in force for the whole-window integral, or None.

        Planned only with default settings and a window whose ends are known when the
        model is built: composite Gauss–Legendre rules on a finite window, rules after the
        map ``x = a + scale·u/(1-u)`` (a ladder of scales) where an end is infinite;
        cheapest first.
        """
        if not getattr(self, "_plannable", False):
            return None
        lo, hi = tf.get_static_value(self._low), tf.get_static_value(self._high)
        if lo is None or hi is None:
            return None
        finite = np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))
        # a finite and an infinite range of one function need different rules: two keys
        kind = type(self).__name__ + ("" if finite else "[infinite]")
        return _plans.lookup(_plans.plan_key(kind, self._fn),
                             gauss_legendre_candidates if finite else mapped_candidates)

    def _window_integral(self, what, log=True):
        """``(log ∫_low^high exp(fn), status)``, the plan's frozen rule where one is in
        force (status 0: the plan is certified by measurement, not by an estimate), else
        the configured method under the package's failure policy. With ``log=False`` the
        integral itself, which a frozen rule sums without the log-sum-exp."""
        plan = self._window_plan()
        if plan is not None:
            rule = GaussLegendre(plan.get("nodes"), plan.get("panels"), plan.get("scale"))
            fn, args = self._keyed()
            value = (rule.integrate(fn, self._low, self._high, args=args, log=True) if log
                     else rule.integrate_exp(fn, self._low, self._high, args=args))
            return value, tf.zeros(tf.shape(value), tf.int32)
        res = self._log_integral(self._low, self._high)
        value = checked_log_value(res, strict=self.validate_args, what=what)
        return (value if log else tf.exp(value)), res.status


#: (nodes, panels) of the composite Gauss–Legendre candidates of a finite window
_GL_NODES = (6, 8, 10, 12, 16, 20, 24, 32)
_GL_PANELS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)


def gauss_legendre_candidates():
    """Composite Gauss–Legendre plans, cheapest first (fewer panels first at equal cost)."""
    pairs = sorted(((n * p, p, n) for n in _GL_NODES for p in _GL_PANELS))
    return [_plans.Plan.make(GaussLegendre(n, p).describe(), cost, ladder="panels",
                             monotone=("nodes", "panels"), nodes=n, panels=p)
            for cost, p, n in pairs]


#: nodes and scales of the candidates of a range with an infinite end: the scale is the
#: length from the finite end (from 0 on the whole line) within which half the nodes lie
_MAPPED_NODES = (8, 12, 16, 24, 32, 48, 64, 96, 128)
_MAPPED_SCALES = (1 / 64, 1 / 16, 1 / 4, 1.0, 4.0, 16.0, 64.0, 256.0, 1024.0)


def mapped_candidates():
    """Gauss–Legendre plans after ``x = a + scale·u/(1-u)``, cheapest first.

    No order is declared between scales (too small a scale under-resolves a long tail,
    too large one a narrow peak near the end), so each scale is a family climbed along
    its node count.
    """
    rules = sorted(((n, s) for n in _MAPPED_NODES for s in _MAPPED_SCALES))
    return [_plans.Plan.make(GaussLegendre(n, 1, s).describe(), n, ladder="nodes",
                             nodes=n, panels=1, scale=s) for n, s in rules]


def default_max_events(expected_count):
    """Padding width covering a Poisson count with mean ``expected_count`` except with
    probability well below 1e-9: ``ceil(mu + 8 sqrt(mu) + 8)`` at the largest mean."""
    mu = float(np.nanmax(np.asarray(expected_count, dtype=np.float64)))
    if not np.isfinite(mu):
        raise ValueError(f"cannot size the event buffer: expected count is {mu}; pass "
                         "`max_events`")
    return int(math.ceil(mu + 8.0 * math.sqrt(max(mu, 0.0)) + 8.0))


def resolve_max_events(expected_count):
    """:func:`default_max_events` as a Python int when ``expected_count`` is known
    (eager), else as an int32 tensor (graph mode; shapes then become dynamic, which
    ``tf.function`` accepts and XLA does not)."""
    mu = tf.get_static_value(expected_count)
    if mu is not None:
        return default_max_events(mu)
    mu = tf.reduce_max(expected_count)
    return tf.cast(tf.math.ceil(mu + 8.0 * tf.sqrt(tf.maximum(mu, 0.0)) + 8.0), tf.int32)


def check_max_events(max_events):
    """Raise ``ValueError`` unless ``max_events`` is ``None`` or a non-negative int."""
    if max_events is not None and (not isinstance(max_events, (int, np.integer))
                                   or max_events < 0):
        raise ValueError(f"`max_events` must be a non-negative int, got {max_events!r}")


class PaddedEventsMixin:
    """Events on a trailing axis of length ``max_events``, NaN-padded (list it before
    ``tfd.Distribution``). Without ``max_events`` the length is sized from
    ``_padding_mean()``, the expected number of events, by :func:`resolve_max_events`."""

    @property
    def max_events(self):
        return self._max_events

    def _event_shape(self):
        return tf.TensorShape([self._max_events])

    def _event_shape_tensor(self):
        return tf.reshape(tf.cast(self._resolve_max_events(), tf.int32), [1])

    def _resolve_max_events(self):
        if self._max_events is not None:
            return self._max_events
        return resolve_max_events(self._padding_mean())
