"""A user log-function on a box in d >= 2 dimensions, its integral by cubature or a
planned product rule: what ``NormalizedBox`` and ``SpatialPoissonProcess`` share."""
import functools
import math

import numpy as np

from bayesquad._tf import tf, tfp
from bayesquad.distributions import _common as C
from bayesquad.distributions import _plans
from bayesquad.distributions._maps import interval_bijector
from bayesquad.distributions._mixins import QuadratureStatusMixin, UserFunctionMixin
from bayesquad.quadrature import (MAX_BOX_NODES, Adaptive, GaussLegendre, cubature, methods,
                                  scaled_map)

tfb = tfp.bijectors

__all__ = ["BoxFunctionMixin", "box_candidates", "mapped_box_candidates"]

#: nodes and panels per axis of the product Gauss-Legendre candidates of a plan
_BOX_NODES = (6, 8, 10, 12, 16, 20, 24, 32)
_BOX_PANELS = (1, 2, 3, 4, 6, 8, 12, 16)


@functools.lru_cache(maxsize=None)
def box_candidates(dim):
    """Product Gauss–Legendre plans (the same rule on every axis), cheapest first."""
    rules = sorted(((n * p) ** dim, p, n) for n in _BOX_NODES for p in _BOX_PANELS
                   if (n * p) ** dim <= MAX_BOX_NODES)
    return tuple(_plans.Plan.make(f"{GaussLegendre(n, p).describe()} per axis", cost,
                                  ladder="panels", monotone=("nodes", "panels"), nodes=n,
                                  panels=p)
                 for cost, p, n in rules)


#: nodes per axis and scales of the candidates of a box with an infinite side (the same
#: ladder of scales as an interval's, see ``_mixins.mapped_candidates``)
_MAPPED_BOX_NODES = (8, 12, 16, 24, 32, 48, 64)
_MAPPED_BOX_SCALES = (1 / 64, 1 / 16, 1 / 4, 1.0, 4.0, 16.0, 64.0, 256.0, 1024.0)


@functools.lru_cache(maxsize=None)
def mapped_box_candidates(dim):
    """Product Gauss–Legendre plans after ``x = a + scale·u/(1-u)`` on the infinite sides,
    cheapest first; each scale is a family climbed along its node count."""
    rules = sorted((n ** dim, s, n) for n in _MAPPED_BOX_NODES for s in _MAPPED_BOX_SCALES
                   if n ** dim <= MAX_BOX_NODES)
    return tuple(_plans.Plan.make(f"{GaussLegendre(n, 1, s).describe()}, per axis", cost,
                                  ladder="nodes", nodes=n, panels=1, scale=s)
                 for cost, s, n in rules)


def _options(owner, quadrature, method, nodes, panels, rtol, atol, max_evals):
    """``cubature`` keywords from ``quadrature=`` or the distribution's own keywords."""
    given = C.set_keywords({"method": "gauss-legendre"}, method=method, nodes=nodes,
                           panels=panels, rtol=rtol, atol=atol, max_evals=max_evals)
    if quadrature is not None:
        if given:
            raise ValueError(f"{owner}: pass quadrature= or the keywords {sorted(given)}, "
                             "not both")
        if isinstance(quadrature, GaussLegendre) and quadrature.scale is None:
            return {"method": "gauss-legendre", "nodes": quadrature.nodes,
                    "panels": quadrature.panels}
        if isinstance(quadrature, Adaptive) and quadrature.method == "auto":
            opts = quadrature.options()
            if "max_levels" in opts:
                raise ValueError(f"{owner}: Adaptive(max_levels=...) has no meaning for a "
                                 "cubature; give max_evals")
            return opts
        raise TypeError(f"{owner}(quadrature=...) takes bayesquad.quadrature."
                        "GaussLegendre(nodes, panels) (the same rule on every axis) or "
                        f"Adaptive(rtol=..., max_evals=...) (or None: planned by a fit), got "
                        f"{quadrature!r}")
    known = methods("cubature")
    if not isinstance(method, str) or method not in known:
        raise ValueError(f"`method` must be one of {tuple(known)}, got {method!r}")
    if method == "gauss-legendre":
        nodes = 32 if nodes is None else nodes
        panels = 2 if panels is None else panels
    opts = dict(method=method, nodes=nodes, panels=panels, rtol=rtol, atol=atol,
                max_evals=max_evals)
    return {k: v for k, v in opts.items() if v is not None}


class BoxFunctionMixin(UserFunctionMixin, QuadratureStatusMixin):
    """``fn(x, **params)`` on the box ``[low, high]`` (``x[..., k]`` the coordinates).

    Construction (:meth:`_init_box`), properties, batch shape, the plannable
    log-integral, the default event-space bijector and a grid bound of ``fn`` (list the
    mixin before ``tfd.Distribution``).
    """

    def _init_box(self, fn, fn_name, low, high, params, dtype, *, quadrature, method,
                  nodes, panels, rtol, atol, max_evals, bound_grid, bound_safety,
                  allow_infinite=False):
        """Check and store the inputs; returns the dtype. Call inside the name scope."""
        C.check_callable(fn, fn_name)
        if not isinstance(bound_grid, (int, np.integer)) or bound_grid < 2:
            raise ValueError(f"`bound_grid` must be an int >= 2, got {bound_grid!r}")
        if not bound_safety >= 1.0:
            raise ValueError(f"`bound_safety` must be >= 1, got {bound_safety!r}")
        owner = type(self).__name__
        self._options = _options(owner, quadrature, method, nodes, panels, rtol, atol,
                                 max_evals)
        self._plannable = quadrature is None and self._options == _options(
            owner, None, "gauss-legendre", None, None, None, None, None)
        raw = dict(params) if hasattr(params, "items") else {}
        dtype = C.common_dtype(low, high, *raw.values(), dtype=dtype)
        self._fn = fn
        self._low = tf.convert_to_tensor(low, dtype, name="low")
        self._high = tf.convert_to_tensor(high, dtype, name="high")
        self._params = C.convert_params(params, dtype)
        self._bound_grid, self._bound_safety = int(bound_grid), float(bound_safety)
        self._check_box(owner, allow_infinite)
        return dtype

    def _check_box(self, owner, allow_infinite):
        for label, corner in (("low", self._low), ("high", self._high)):
            if corner.shape.rank is None or corner.shape.rank < 1 or corner.shape[-1] is None:
                raise ValueError(f"`{label}` must have a static trailing axis (the "
                                 f"dimension d >= 2), got shape {corner.shape}")
        if self._low.shape[-1] != self._high.shape[-1] or self._low.shape[-1] < 2:
            one_d = "PoissonProcess" if "Poisson" in owner else "Normalized"
            raise ValueError(f"`low` and `high` must end in the same dimension d >= 2, got "
                             f"shapes {self._low.shape} and {self._high.shape}; for an "
                             f"interval use {one_d}")
        lo, hi = tf.get_static_value(self._low), tf.get_static_value(self._high)
        if lo is None or hi is None:
            return
        finite = np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))
        if not (np.all(lo < hi) and (finite or allow_infinite)):
            kind = "low < high" if allow_infinite else "finite with low < high"
            raise ValueError(f"the box must be {kind} on every axis, got low={lo}, "
                             f"high={hi}")

    @property
    def dim(self):
        """The dimension d of the box."""
        return int(self._low.shape[-1])

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        return dict(low=tfp.util.ParameterProperties(event_ndims=1),
                    high=tfp.util.ParameterProperties(event_ndims=1))

    def _batch_shape(self):
        return C.batch_shape_static(self._low[..., 0], self._high[..., 0],
                                    *self._params.values())

    def _batch_shape_tensor(self, **kwargs):
        return C.batch_shape_tensor(self._low[..., 0], self._high[..., 0],
                                    *self._params.values())

    def __getitem__(self, slices):
        raise NotImplementedError(f"slicing a {type(self).__name__} is not supported; build "
                                  "one per batch element")

    def _corners(self, extra=0):
        """``(low, high)`` with ``extra`` unit axes before the coordinates, to line up with
        points that carry further event axes (a point process's event axis)."""
        low, high = self._low, self._high
        for _ in range(extra):
            low, high = low[..., tf.newaxis, :], high[..., tf.newaxis, :]
        return low, high

    def _inside(self, x, extra=0):
        """``(inside, x_safe)`` for points ``x [..., d]``: ``x_safe`` is ``x`` inside the
        box and a finite point of the box elsewhere (no NaN in values or gradients of
        ``fn``)."""
        low, high = self._corners(extra)
        inside = tf.reduce_all((x >= low) & (x <= high), axis=-1)
        safe = C.safe_point(low, high) + tf.zeros_like(x)
        return inside, tf.where(inside[..., tf.newaxis], x, safe)

    def _box_bijector(self, event_ndims_extra=0):
        low, high = self._corners(event_ndims_extra)
        # elementwise per side: a sigmoid where both are finite, softplus on half-lines,
        # the identity on the line
        return interval_bijector(low, high, validate_args=self.validate_args)

    # ---- the integral over the box ------------------------------------------------
    def _plan(self):
        if not self._plannable:
            return None
        lo, hi = tf.get_static_value(self._low), tf.get_static_value(self._high)
        if lo is None or hi is None:
            return None
        finite = np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))
        candidates = box_candidates if finite else mapped_box_candidates
        # a finite and an infinite box of one function need different rules: two keys
        kind = type(self).__name__ + ("" if finite else "[infinite]")
        return _plans.lookup(_plans.plan_key(kind, self._fn),
                             functools.partial(candidates, self.dim))

    def _box_integral(self, what, log=True):
        """``(log ∫ exp(fn), status)`` per batch element: the plan's product rule where one
        is in force (status 0: measured, not estimated), else the configured cubature.
        With ``log=False`` the integral itself, which a product rule sums without the
        log-sum-exp."""
        fn, values = self._keyed()
        plan = self._plan()
        if plan is not None:
            rule = GaussLegendre(plan.get("nodes"), plan.get("panels"), plan.get("scale"))
            value = (rule.integrate_box(fn, self._low, self._high, args=values, log=True)
                     if log else
                     rule.integrate_box_exp(fn, self._low, self._high, args=values))
            return value, tf.zeros(tf.shape(value), tf.int32)
        res = self.integral_result()
        value = C.checked_log_value(res, strict=self.validate_args, what=what)
        return (value if log else tf.exp(value)), res.status

    def integral_result(self):
        """:class:`bayesquad.IntegrationResult` of ``log ∫ exp(fn)`` over the box by the
        configured cubature (value, error, evaluations, status)."""
        fn, values = self._keyed()
        return cubature(fn, self._low, self._high, args=values, log=True, **self._options)

    def _log_bound(self, given=None):
        """``log`` of an upper bound of ``exp(fn)`` on the box per batch element: ``given``,
        or ``bound_safety`` times the maximum on a grid of ``bound_grid`` points per
        axis."""
        if given is not None:
            return tf.math.log(given) + tf.zeros(self.batch_shape_tensor(), self.dtype)
        u = np.linspace(0.0, 1.0, self._bound_grid)
        grid = np.stack([g.ravel() for g in np.meshgrid(*[u] * self.dim, indexing="ij")], -1)
        grid = tf.reshape(tf.constant(grid, self.dtype),
                          [grid.shape[0]] + [1] * len(self.batch_shape) + [self.dim])
        x = self._low + (self._high - self._low) * grid
        log_f = self._fn(x, **self._params) + tf.zeros_like(x[..., 0])
        return tf.reduce_max(log_f, axis=0) + math.log(self._bound_safety)

    def _to_box(self, u, low, high):
        """``(x, log |dx/du|)`` of unit points ``u`` ``[..., d]`` (in ``(0, 1)``): linear on
        finite sides, ``x = a + s·u/(1-u)`` on infinite ones with the plan's scale (1
        outside a plan), as the integral maps them."""
        plan = self._plan()
        scale = tf.constant(1.0 if plan is None or plan.get("scale") is None
                            else plan.get("scale"), u.dtype)
        xs, logs = zip(*(scaled_map(u[..., k], 1.0 - u[..., k], low[..., k],
                                    high[..., k], scale) for k in range(self.dim)))
        return tf.stack(xs, -1), tf.add_n(list(logs))

    def _log_mapped_bound(self, given=None):
        """``log`` of a bound of ``exp(fn(x(u))) |dx/du|`` over the unit cube (rejection
        sampling in ``u``): ``given`` (a bound of ``exp(fn)``, for finite boxes: times the
        volume), or ``bound_safety`` times the maximum on a grid of ``bound_grid`` points
        per axis."""
        if given is not None:
            volume = tf.reduce_sum(tf.math.log(self._high - self._low), -1)
            return tf.math.log(given) + volume + tf.zeros(self.batch_shape_tensor(), self.dtype)
        # the corners of the cube too (where a finite box's density often peaks), kept
        # off the singular ends of the infinite maps
        u = np.clip(np.linspace(0.0, 1.0, self._bound_grid), 1e-6, 1.0 - 1e-6)
        grid = np.stack([g.ravel() for g in np.meshgrid(*[u] * self.dim, indexing="ij")], -1)
        grid = tf.reshape(tf.constant(grid, self.dtype),
                          [grid.shape[0]] + [1] * len(self.batch_shape) + [self.dim])
        x, log_jac = self._to_box(grid, self._low, self._high)
        log_f = self._fn(x, **self._params) + log_jac
        return tf.reduce_max(log_f, axis=0) + math.log(self._bound_safety)
