"""Shared plumbing for the integral-defined distributions.

Conventions every distribution in this package follows (and that the helpers below
implement once):

* User callables are elementwise: ``log_density(x, **params)`` gets ``x`` and the
  parameter tensors and must broadcast them against each other. Inside an integral ``x``
  has shape ``[m] + batch_shape`` (quadrature nodes on the leading axis), so a parameter of
  shape ``[chains]`` broadcasts against ``x`` of shape ``[m, chains]`` with ordinary
  trailing-axis broadcasting.
* Quadrature options (``method``, ``rtol``, ``nodes``, ``panels``, ...) are constructor
  arguments gathered by :func:`quadrature_options` and passed to
  :func:`bayesquad.integrate` unchanged.
* Failure policy (:func:`checked_log_value`): an estimate that exists is returned even if
  its status is not ``CONVERGED`` (samplers need a number; the status is exposed by the
  distribution's ``quadrature_status()``); a ``NON_FINITE`` or ``INVALID_LIMITS`` status
  becomes NaN, which TFP's samplers reject as a divergent step, instead of a silent value.
  With ``validate_args=True`` any non-converged status raises.
* Out-of-support points give ``-inf`` through the "double where" (:func:`support_mask`):
  the user callable is evaluated at a safe in-support point there, so neither the value
  nor the gradient becomes NaN.

Event-space bijectors and the unit-interval map live in ``_maps.py``, the root finder
in ``_roots.py``, the mixins shared by the distribution classes in ``_mixins.py``.
"""
import keyword

import numpy as np

from bayesquad._tf import tf
from bayesquad.quadrature import (Adaptive, GaussHermite, GaussLegendre, Status,
                                  current_reference, finite_parts, integrate, methods)

__all__ = [
    "DEFAULT_METHOD",
    "DEFAULT_NODES",
    "DEFAULT_PANELS",
    "batch_shape_static",
    "batch_shape_tensor",
    "check_callable",
    "checked_log_value",
    "common_dtype",
    "convert_params",
    "default_quadrature_options",
    "finite_parts",
    "integrate_log",
    "ONE_D_RULES",
    "quadrature_keywords",
    "set_keywords",
    "split_quadrature_choice",
    "interior_point",
    "quadrature_options",
    "reference_active",
    "runtime_interval_assertions",
    "safe_point",
    "split_quadrature_options",
    "static_value",
    "support_mask",
    "validate_interval",
]

#: Default quadrature of the distributions: composite Gauss-Legendre, ``DEFAULT_PANELS``
#: panels of ``DEFAULT_NODES`` nodes (512 evaluations per integral). A fixed rule has a
#: fixed cost and shape, so it is the fastest inside NUTS, compiles quickly under XLA and
#: vectorises under ``tf.vectorized_map`` (which ``JointDistribution*AutoBatched`` uses by
#: default). Its error estimate (Legendre-coefficient tail) still sets the status. It is
#: ~1e-14 relative on smooth densities whose features are wider than ~1/50 of the window
#: (of the unit scale for infinite ends) and degrades for narrower peaks, kinks and
#: endpoint singularities: then pass ``points``, raise ``panels``, or use
#: ``method="adaptive-gk"``/``"auto"``. Why 16 panels (measured): on W1's shapes on
#: [0, 10] (Gaussian sigma >= 0.3, exp(-lam x)) 4 panels already give 1e-15, CONVERGED,
#: but infinite ranges need more (N(0, 1) on the line: 6e-10 and flagged at 4 panels,
#: 2e-16 at 16; exp(-0.3 x) on [0, inf): 1e-11 flagged vs 2e-16), and a normaliser is
#: per parameter set, not per event, so W1's log_prob + gradient (4 chains x 20,000
#: events, XLA) costs the same with 4 or 16 panels (2.5 vs 2.6 ms). 64 panels since fits
#: plan their own rules (``bayesquad.inference.plan_quadrature``): the configured rule
#: now serves the MAP start, direct ``log_prob`` calls and the planner's cross-check, where
#: accuracy matters more than cost; 16 panels left W2's 42 periods over [0, 1000] 9e-7
#: off in the log-likelihood, 64 resolve them to 1e-13.
DEFAULT_METHOD = "gauss-legendre"
DEFAULT_NODES = 32
DEFAULT_PANELS = 64

# integrate's keywords; which methods exist comes from its method table (methods())
_OPTION_NAMES = ("rtol", "atol", "nodes", "panels", "max_evals", "max_levels", "samples",
                 "seed")


def reference_active():
    """True while a function is traced inside ``bayesquad.quadrature.reference_settings``.

    ``integrate`` switches to its reference method there by itself; a distribution that
    approximates beyond its integrals (a truncated window, a fixed Gauss-Hermite rule)
    reads this to evaluate those parts at reference accuracy too, so that the quadrature
    check measures them.
    """
    return current_reference() is not None


def check_callable(fn, name):
    """Raise ``ValueError`` naming ``name`` unless ``fn`` is callable."""
    if not callable(fn):
        raise ValueError(
            f"`{name}` must be a callable such as `lambda x, **params: -0.5 * x**2`, "
            f"got {type(fn).__name__} {fn!r}")
    return fn


def quadrature_options(method=DEFAULT_METHOD, **options):
    """Validated keyword arguments for :func:`bayesquad.integrate`.

    Parameters
    ----------
    method : str
        One of the methods of :func:`bayesquad.integrate` (its method table, read through
        :func:`bayesquad.quadrature.methods`).
    **options
        ``rtol``, ``atol``, ``nodes``, ``panels``, ``max_evals``, ``max_levels``,
        ``samples``, ``seed``; ``None`` values are dropped so ``integrate``'s own defaults
        apply.

    Returns
    -------
    dict
        ``{"method": method, **options_without_None}``.
    """
    known = methods()
    if not isinstance(method, str) or method not in known:
        raise ValueError(f"`method` must be one of {tuple(known)}, got {method!r}")
    unknown = sorted(set(options) - set(_OPTION_NAMES))
    if unknown:
        raise ValueError(f"unknown quadrature option(s) {unknown}; valid: {_OPTION_NAMES}")
    out = {"method": method}
    out.update({k: v for k, v in options.items() if v is not None})
    return out


def default_quadrature_options(method=DEFAULT_METHOD, **options):
    """:func:`quadrature_options` with the distributions' defaults filled in.

    For ``method="gauss-legendre"`` unset ``nodes``/``panels`` become ``DEFAULT_NODES``/
    ``DEFAULT_PANELS`` (``integrate``'s own default is one 32-node panel); other methods
    keep ``integrate``'s defaults.
    """
    if method == "gauss-legendre":
        if options.get("nodes") is None:
            options["nodes"] = DEFAULT_NODES
        if options.get("panels") is None:
            options["panels"] = DEFAULT_PANELS
    return quadrature_options(method, **options)


def common_dtype(*values, dtype=None):
    """Floating dtype shared by ``values``: float64 unless they are all float32 tensors/arrays.

    Python numbers take the dtype of the tensors next to them (float64 if none), in line
    with the library's float64 default. ``dtype`` (if given) wins.
    """
    if dtype is not None:
        dtype = tf.as_dtype(dtype)
        if not dtype.is_floating:
            raise ValueError(f"`dtype` must be a floating type, got {dtype}")
        return dtype
    found = set()
    for v in values:
        d = getattr(v, "dtype", None)
        if d is None:
            continue
        d = tf.as_dtype(d)
        if d.is_floating:
            found.add(d)
    if found == {tf.float32}:
        return tf.float32
    return tf.float64


def convert_params(params, dtype, name="params"):
    """Check ``params`` is a mapping of identifier -> number/tensor; convert to ``dtype``.

    Returns a plain ``dict`` (insertion order kept) of tensors; ``None`` gives ``{}``.
    Parameters are batch parameters: their shapes are part of ``batch_shape`` (one scalar
    per batch element); a vector-valued parameter belongs in a closure instead.
    """
    if params is None:
        return {}
    if not hasattr(params, "items"):
        raise ValueError(f"`{name}` must be a dict of parameter name -> tensor, "
                         f"got {type(params).__name__}")
    out = {}
    for key, value in params.items():
        if not isinstance(key, str) or not key.isidentifier() or keyword.iskeyword(key):
            raise ValueError(f"`{name}` keys must be valid Python identifiers (they are "
                             f"passed as keyword arguments), got {key!r}")
        out[key] = tf.convert_to_tensor(value, dtype=dtype, name=key)
    return out


def batch_shape_static(*tensors):
    """Static broadcast shape of ``tensors`` (a ``tf.TensorShape``)."""
    shape = tf.TensorShape([])
    for t in tensors:
        shape = tf.broadcast_static_shape(shape, t.shape)
    return shape


def batch_shape_tensor(*tensors):
    """Dynamic broadcast shape of ``tensors`` (an int32 tensor)."""
    shape = tf.constant([], tf.int32)
    for t in tensors:
        shape = tf.broadcast_dynamic_shape(shape, tf.shape(t))
    return shape


def static_value(t):
    """``numpy`` value of ``t`` if known at trace time, else ``None``."""
    return tf.get_static_value(t)


def validate_interval(low, high, *, require_finite=False, names=("low", "high")):
    """Check ``low < high`` (and finiteness if asked) wherever it is known statically.

    Raises ``ValueError`` naming the arguments. Values only known at run time are not
    checked here (the distributions check them with ``validate_args=True``).
    """
    lo, hi = static_value(low), static_value(high)
    if lo is not None and np.any(np.isnan(lo)):
        raise ValueError(f"`{names[0]}` contains NaN")
    if hi is not None and np.any(np.isnan(hi)):
        raise ValueError(f"`{names[1]}` contains NaN")
    if require_finite:
        for v, n in ((lo, names[0]), (hi, names[1])):
            if v is not None and not np.all(np.isfinite(v)):
                raise ValueError(f"`{n}` must be finite here, got {v}")
    if lo is not None and hi is not None:
        bad = np.broadcast_to(np.asarray(lo) >= np.asarray(hi),
                              np.broadcast_shapes(np.shape(lo), np.shape(hi)))
        if np.any(bad):
            raise ValueError(f"`{names[0]}` must be < `{names[1]}` elementwise, got "
                             f"{names[0]}={lo}, {names[1]}={hi}; swap them or widen the "
                             "interval")


def runtime_interval_assertions(low, high, names=("low", "high")):
    """Assertions for ``validate_args=True`` (``low < high``); a list of ops."""
    return [tf.debugging.assert_less(
        low, high, message=f"`{names[0]}` must be < `{names[1]}` elementwise")]


def integrate_log(log_f, lower, upper, params, options, points=None):
    """``log ∫_lower^upper exp(log_f(x, **params)) dx`` by :func:`bayesquad.integrate`.

    Parameters
    ----------
    log_f : callable
        ``log_f(x, **params)``; ``x`` arrives with shape ``[m] + batch_shape``.
    lower, upper : Tensor
        Limits; ``batch_shape`` is the broadcast of their shapes and the params' shapes.
    params : dict of str -> Tensor
        Passed as ``args`` to ``integrate`` (so gradients flow to them).
    options : dict
        From :func:`quadrature_options`.
    points : Tensor, optional
        Breakpoints, as in ``integrate``.

    Returns
    -------
    IntegrationResult
        With ``log=True`` semantics (``value`` is the log of the integral).
    """
    keys = tuple(params)

    def f(x, *vals):
        return log_f(x, **dict(zip(keys, vals)))

    kwargs = dict(options)
    if points is not None:
        kwargs["points"] = points
    return integrate(f, lower, upper, args=tuple(params[k] for k in keys), log=True,
                     **kwargs)


def checked_log_value(result, *, strict=False, what="integral"):
    """The log-integral of ``result`` under the package's failure policy.

    ``NON_FINITE`` and ``INVALID_LIMITS`` give NaN (a failure the sampler must see, never a
    silent number); other statuses keep the estimate. With ``strict=True`` (the
    distribution's ``validate_args``) any status other than ``CONVERGED`` raises
    ``InvalidArgumentError`` at run time (asserts are dropped under XLA).
    """
    value = result.value
    failed = (tf.equal(result.status, int(Status.NON_FINITE))
              | tf.equal(result.status, int(Status.INVALID_LIMITS)))
    value = tf.where(failed, tf.constant(np.nan, value.dtype), value)
    if strict:
        with tf.control_dependencies([tf.debugging.assert_equal(
                result.status, tf.zeros_like(result.status),
                message=f"{what} did not converge (see quadrature_status() and "
                        "bayesquad.status_message); raise nodes/max_evals or change method")]):
            value = tf.identity(value)
    return value


def interior_point(low, high, geometric=False):
    """A finite point inside ``[low, high]`` per element: the midpoint of a finite
    interval, 0 on the whole line, else one step in from the finite end: 1, or
    ``1 + |end|`` with ``geometric=True`` (bisection towards an infinite end then closes
    an unbounded bracket in ~log2(|root|) steps)."""
    lo_fin, hi_fin, lo0, hi0 = finite_parts(low, high)
    one = tf.ones_like(lo0)
    step_lo, step_hi = (one + tf.abs(lo0), one + tf.abs(hi0)) if geometric else (one, one)
    return tf.where(lo_fin & hi_fin, lo0 + 0.5 * (hi0 - lo0),
                    tf.where(lo_fin, lo0 + step_lo, tf.where(hi_fin, hi0 - step_hi, lo0)))


def safe_point(low, high):
    """A finite point inside ``[low, high]`` per element (for the double-where trick)."""
    return interior_point(low, high)


def support_mask(x, low, high):
    """``(inside, x_safe)``: ``inside = low <= x <= high``; ``x_safe`` is ``x`` there and a
    safe interior point elsewhere, so ``tf.where(inside, f(x_safe), -inf)`` has neither NaN
    values nor NaN gradients. NaN ``x`` counts as outside."""
    inside = (x >= low) & (x <= high)
    x_safe = tf.where(inside, x, safe_point(low, high) + tf.zeros_like(x))
    return inside, x_safe


def split_quadrature_options(owner, method, nodes, rtol, integrate_options, default_nodes):
    """Options of a distribution that takes ``method``/``nodes``/``rtol`` as constructor
    arguments and any other :func:`bayesquad.integrate` option in ``integrate_options``.

    ``nodes`` defaults to ``default_nodes`` for ``"gauss-legendre"``. Raises
    ``ValueError`` if ``integrate_options`` repeats one of the three named arguments.
    """
    if nodes is None and method == "gauss-legendre":
        nodes = default_nodes
    extra = dict(integrate_options or {})
    bad = {"method", "nodes", "rtol"} & set(extra)
    if bad:
        raise ValueError(f"integrate_options must not set {sorted(bad)}; use the "
                         f"constructor arguments of {owner} instead")
    return quadrature_options(method, nodes=nodes, rtol=rtol, **extra)


#: The ``quadrature=`` choices of a one-dimensional integral
ONE_D_RULES = (GaussLegendre, Adaptive)


def set_keywords(defaults, **values):
    """The keywords among ``values`` set away from their defaults (``defaults`` by name,
    None for the rest)."""
    return {k: v for k, v in values.items()
            if v is not None and not (k in defaults and v == defaults[k])}


def quadrature_keywords(owner, quadrature, given, accepts=ONE_D_RULES):
    """The keywords a distribution's ``quadrature=`` choice stands for.

    Parameters
    ----------
    owner : str
        The distribution's name, for messages.
    quadrature : GaussLegendre, Adaptive or GaussHermite
        The user's choice (see :mod:`bayesquad.quadrature._choice`).
    given : dict
        The distribution's own quadrature keywords that were set away from their defaults
        (name -> value): giving them too is ambiguous.
    accepts : tuple of type
        The rule classes this distribution can use.

    Returns
    -------
    dict
        ``method``/``nodes``/``panels``/``rtol``/``atol``/``max_evals``/``max_levels`` (the
        ones the choice sets) for a one-dimensional integral, or ``num_nodes`` for
        Gauss–Hermite.
    """
    if not isinstance(quadrature, accepts):
        names = ", ".join(f"bayesquad.quadrature.{c.__name__}" for c in accepts)
        raise TypeError(f"{owner}(quadrature=...) takes one of {names} (or None: planned "
                        f"by a fit), got {quadrature!r}")
    if given:
        raise ValueError(f"{owner}: pass quadrature= or the keywords {sorted(given)}, not "
                         f"both (quadrature={quadrature!r} says how the integral is computed)")
    if isinstance(quadrature, GaussLegendre):
        if quadrature.scale is not None:
            raise ValueError(
                f"{owner}(quadrature={quadrature!r}): `scale` is a setting of a quadrature "
                "plan for an infinite range (found by a fit, or given as "
                "sample(quadrature={key: plan})); as a configured rule use "
                "GaussLegendre(nodes, panels), whose infinite ranges are mapped as "
                "bayesquad.integrate maps them, with an error estimate")
        return {"method": "gauss-legendre", "nodes": quadrature.nodes,
                "panels": quadrature.panels}
    if isinstance(quadrature, Adaptive):
        return quadrature.options()
    if isinstance(quadrature, GaussHermite):
        return {"num_nodes": quadrature.nodes}
    raise TypeError(f"unknown quadrature choice {quadrature!r}")  # pragma: no cover


def split_quadrature_choice(owner, quadrature, default_method, method, nodes, rtol,
                            integrate_options):
    """``(method, nodes, rtol, integrate_options)`` for a distribution whose keywords are
    ``method``/``nodes``/``rtol`` plus an ``integrate_options`` dict, from ``quadrature=``.
    """
    given = set_keywords({"method": default_method}, method=method, nodes=nodes, rtol=rtol)
    if integrate_options:
        given["integrate_options"] = integrate_options
    kw = quadrature_keywords(owner, quadrature, given)
    method, nodes, rtol = kw.pop("method"), kw.pop("nodes", None), kw.pop("rtol", None)
    if kw.get("panels") == 1:
        del kw["panels"]
    return method, nodes, rtol, (kw or None)
