"""``cubature``: integrals over boxes in d >= 2 dimensions, with the ``integrate`` contract.

The box is mapped axis by axis to the unit cube with the 1-D map of
:mod:`bayesquad.quadrature._coordinates` (affine for a finite axis, ``t/(1-t)``-type maps
for an infinite one, with their Jacobians), so every rule works on ``[0, 1]^d`` and
differentiating a sum on fixed unit nodes gives the derivatives with respect to finite
limits for free. ``METHODS`` is the one table that validation and dispatch read.
"""
import numbers

import numpy as np

from bayesquad._tf import tf
from bayesquad.quadrature import _settings, _tables
from bayesquad.quadrature._cubature_adaptive import DEFAULT_REGIONS, genz_malik
from bayesquad.quadrature._cubature_rules import GenzMalik, ProductGaussLegendre, sobol_points
from bayesquad.quadrature._coordinates import segment_map
from bayesquad.quadrature._fixed import finalize
from bayesquad.quadrature._methods import Method
from bayesquad.quadrature._montecarlo import _seed
from bayesquad.quadrature._status import IntegrationResult, Status
from bayesquad.quadrature._validate import (Problem, _check_positive_int, _check_tolerance,
                                            _float_dtype_of, _resolve_dtype, check_method,
                                            check_unused_options)

__all__ = ["AUTO_MAX_DIM", "METHODS", "cubature"]

AUTO_MAX_DIM = 6  # auto: Genz-Malik up to here (149 nodes a box at d=6), QMC above
_MAX_PRODUCT_NODES = 1 << 22
_QMC_REPLICATES = 8
_QMC_BITS = 32  # binary digits scrambled: beyond 2**-32 a point keeps its box's middle
_DEFAULT_SAMPLES = 1 << 15


class _Box:
    """Validated limits ``batch_shape + [d]`` and the evaluation of ``f`` on unit nodes.

    Also carries what :func:`bayesquad.quadrature._fixed.finalize` reads of a
    ``Segments``: the per-element ``sign`` (a reversed axis flips it) and ``invalid``.
    """

    def __init__(self, problem, dim, log):
        self.problem, self.dim, self.log = problem, dim, log
        self.batch_shape, self.dtype = problem.batch_shape, problem.dtype
        self.eps, self.tiny = problem.eps, problem.tiny
        self.size = int(np.prod(self.batch_shape.as_list(), dtype=np.int64))
        shape = self.batch_shape.concatenate([dim])
        lower = tf.broadcast_to(problem.lower, shape)
        upper = tf.broadcast_to(problem.upper, shape)
        reversed_ = upper < lower
        self.lo, self.hi = tf.minimum(lower, upper), tf.maximum(lower, upper)
        one = tf.ones([], self.dtype)
        self.sign = tf.reduce_prod(tf.where(reversed_, -one, one), -1)
        self.invalid = tf.reduce_any(tf.math.is_nan(lower) | tf.math.is_nan(upper), -1)
        if log:
            self.invalid |= tf.reduce_any(reversed_, -1)
        lo_s, hi_s = tf.get_static_value(problem.lower), tf.get_static_value(problem.upper)
        # limits known finite at trace time keep the infinite maps out of the graph
        self.may_inf = lo_s is None or hi_s is None or bool(
            np.isinf(lo_s).any() or np.isinf(hi_s).any())

    def evaluate(self, t, tc=None):
        """``(g, bad)`` at unit nodes ``t`` (``[m] + batch + [d]``, or 1s for batch axes):
        ``g = f(x) * |dx/dt|`` (log mode: ``f + log|dx/dt|``), shape ``[m] + batch``."""
        tc = 1.0 - t if tc is None else tc
        x, jac = segment_map(t, tc, self.lo, self.hi, self.tiny, self.may_inf, self.may_inf)
        m = tf.shape(t)[0]
        rest = tf.constant(self.batch_shape.as_list() + [self.dim], tf.int32)
        x = tf.broadcast_to(x, tf.concat([[m], rest], 0))
        fx = self._call(x)
        jac = tf.broadcast_to(jac, tf.shape(x))
        if self.log:
            positive = tf.reduce_all(jac > 0, -1)
            log_jac = tf.reduce_sum(tf.math.log(tf.where(jac > 0, jac, tf.ones_like(jac))), -1)
            bad = (tf.math.is_nan(fx) | (fx == np.inf)) & positive
            return tf.where(positive, fx + log_jac, tf.constant(-np.inf, fx.dtype)), bad
        jac = tf.reduce_prod(jac, -1)
        # an empty axis ([inf, inf], or lo == hi) contributes nothing at all
        bad = ~tf.math.is_finite(fx) & (jac != 0)
        return tf.where(jac != 0, fx * jac, tf.zeros_like(fx)), bad

    def _call(self, x):
        p = self.problem
        fx = p.f(x, *p.args)
        try:
            fx = tf.convert_to_tensor(fx)
        except (TypeError, ValueError) as err:
            raise TypeError(f"f returned {type(fx).__name__}, which is not a tensor: {err}; "
                            "f(x, *args) must return one value per node") from None
        if fx.dtype != x.dtype:
            raise TypeError(f"f returned dtype {fx.dtype.name} for nodes of dtype "
                            f"{x.dtype.name}; f must return the dtype of x")
        want = x.shape[:-1]
        if fx.shape.rank is not None and not (
                fx.shape.rank == want.rank and fx.shape.is_compatible_with(want)):
            raise ValueError(
                f"f returned shape {fx.shape.as_list()} for nodes x of shape "
                f"{x.shape.as_list()}; f(x, *args) must return one value per node, shape "
                f"x.shape[:-1] = [m] + batch_shape = {want.as_list()} (reduce over the "
                "coordinate axis -1 only, e.g. tf.reduce_sum(x**2, -1); write a constant c "
                "as c * tf.ones_like(x[..., 0]))")
        return tf.ensure_shape(fx, want)

    def splittable(self, center, half, axis):
        """Whether halving each box (``[B, q, d]``) along ``axis`` (``[B, q]``) still
        gives nodes distinct in t and, on a finite axis, in x."""
        def pick(z):
            return tf.reduce_sum(z * tf.one_hot(axis, self.dim, dtype=z.dtype), -1)

        h, c = pick(half), pick(center)
        flat = lambda z: tf.reshape(z, [self.size, 1, self.dim])  # noqa: E731
        lo, hi = flat(self.lo), flat(self.hi)
        finite = tf.math.is_finite(lo) & tf.math.is_finite(hi)
        zero = tf.zeros_like(lo)
        length = pick(tf.where(finite, hi - lo, zero))
        scale = pick(tf.where(finite, tf.maximum(tf.abs(lo), tf.abs(hi)), zero))
        in_t = 64.0 * self.eps * (c + h)
        in_x = tf.where(length > 0, 1024.0 * self.eps * scale / tf.where(
            length > 0, length, tf.ones_like(length)), tf.zeros_like(length))
        return h > tf.maximum(tf.maximum(in_t, in_x), self.tiny / self.eps)


# ---- the methods ------------------------------------------------------------------------

def _per_axis(name, value, dim, default, minimum, maximum):
    if value is None:
        value = default
    values = [value] * dim if isinstance(value, numbers.Integral) else value
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__") or len(values) != dim:
        raise ValueError(f"{name}={value!r} must be an int or a list of {dim} ints (one per "
                         "axis)")
    for v in values:
        _check_positive_int(name, v, minimum, maximum)
    return tuple(int(v) for v in values)


def _product(box, opts, log, rtol, atol):
    d = box.dim
    nodes = _per_axis("nodes", opts["nodes"], d, min(32, max(4, int(2 ** (15 / d)))), 4,
                      _tables.MAX_TABLE_NODES)
    panels = _per_axis("panels", opts["panels"], d, 1, 1, None)
    rule = ProductGaussLegendre(nodes, panels)
    if rule.size > _MAX_PRODUCT_NODES:
        raise ValueError(
            f"nodes={list(nodes)} x panels={list(panels)} is {rule.size} nodes per integral "
            f"(at most {_MAX_PRODUCT_NODES}); use fewer per axis, or method='genz-malik' "
            "(adaptive) or 'qmc' in higher dimensions")
    t, tc = rule.grid()
    shape = [rule.size] + [1] * box.batch_shape.rank + [d]
    g, bad = box.evaluate(tf.constant(t.reshape(shape), box.dtype),
                          tf.constant(tc.reshape(shape), box.dtype))
    value, error = rule.estimate(g, box.batch_shape, box.eps, log)
    return value, error, tf.reduce_any(bad, 0), rule.size, None


def _adaptive(box, opts, log, rtol, atol):
    n = GenzMalik(box.dim).size
    if opts["max_evals"] is not None and opts["max_evals"] < n:
        raise ValueError(f"max_evals={opts['max_evals']} is below one Genz-Malik box in "
                         f"d={box.dim} ({n} evaluations)")
    value, error, bad, evals, stuck = genz_malik(box, opts["max_evals"], log, rtol, atol)
    shape = box.batch_shape
    failed = tf.where(stuck, int(Status.ROUNDOFF), int(Status.BUDGET_EXHAUSTED))
    return (tf.reshape(value, shape), tf.reshape(error, shape), tf.reshape(bad, shape),
            tf.reshape(evals, shape), tf.reshape(failed, shape))


def _scrambled(points, reps, seed, dtype):
    """``reps`` randomised copies of Sobol ``points`` ``[n, d]``: per copy and axis a
    random lower-triangular binary matrix with unit diagonal applied to the 32 binary
    digits, then a random digital shift (Matoušek's linear scrambling). Each copy stays a
    digital net with every point uniform on the cube, so the copies' means are unbiased
    and independent; unlike a shift modulo 1 the scrambling keeps the net's
    stratification, which on smooth integrands gives a far smaller spread (``exp(0.8 x -
    1.5 y)``-like integrand in 2-D, 16,384 points: true error 1.2e-3 with shifts modulo
    1 against 9e-7 scrambled; tests/quadrature/test_cubature_reference.py)."""
    n, d = points.shape
    width = _QMC_BITS
    digits = np.floor(np.asarray(points) * 2.0 ** width).astype(np.int64)  # exact: dyadic
    # bits, most significant first: [n, d, width]
    bits = (digits[..., None] >> np.arange(width - 1, -1, -1)) & 1
    bits = tf.constant(bits, tf.int32)
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 2)
    lower = tf.random.stateless_uniform([reps, d, width, width], seeds[0], 0, 2, tf.int32)
    lower = tf.linalg.band_part(lower, -1, 0)
    lower = tf.linalg.set_diag(lower, tf.ones([reps, d, width], tf.int32))
    shift = tf.random.stateless_uniform([reps, 1, d, width], seeds[1], 0, 2, tf.int32)
    # output bit i = XOR over k <= i of lower[i, k] & bit k: a sum modulo 2
    mixed = tf.math.floormod(tf.einsum("rdik,ndk->rndi", lower, bits) + shift, 2)
    weights = tf.constant(0.5 ** np.arange(1, width + 1), dtype)
    # the middle of the scrambled digit box: strictly inside (0, 1)
    return tf.reduce_sum(tf.cast(mixed, dtype) * weights, -1) + tf.constant(
        0.5 ** (width + 1), dtype)


def _qmc(box, opts, log, rtol, atol):
    """Sobol points under ``_QMC_REPLICATES`` independent random scramblings; the spread
    of the replicate means is the standard error."""
    samples = opts["samples"] or _DEFAULT_SAMPLES
    if samples < 2 * _QMC_REPLICATES:
        raise ValueError(f"samples={samples} must be >= {2 * _QMC_REPLICATES} "
                         f"({_QMC_REPLICATES} scrambled replicates of >= 2 points)")
    reps, per, d, dtype = _QMC_REPLICATES, samples // _QMC_REPLICATES, box.dim, box.dtype
    u = _scrambled(sobol_points(d, per), reps, _seed(opts["seed"]), dtype)
    # strictly inside (0, 1): the infinite maps are singular at the ends
    u = tf.clip_by_value(u, box.eps, 1.0 - box.eps)
    g, bad = box.evaluate(tf.reshape(u, [reps * per] + [1] * box.batch_shape.rank + [d]))
    g = tf.reshape(g, tf.TensorShape([reps, per]).concatenate(box.batch_shape))
    if log:
        shift = tf.stop_gradient(tf.reduce_max(g, axis=[0, 1]))
        shift = tf.where(tf.math.is_finite(shift), shift, tf.zeros_like(shift))
        g = tf.exp(g - shift)
    means = tf.reduce_mean(g, 1)
    value = tf.reduce_mean(means, 0)
    error = tf.sqrt(tf.math.reduce_variance(means, 0) / (reps - 1))
    if log:
        value, error = tf.math.log(value) + shift, tf.math.log(error) + shift
    return value, error, tf.reduce_any(bad, 0), reps * per, None


# The same Method type as integrate's table; a runner here is
# ``run(box, opts, log, rtol, atol) -> (value, error, bad, n_evals, failed)``.
METHODS = {
    "auto": Method((), None, f"genz-malik for d <= {AUTO_MAX_DIM}, qmc above"),
    "gauss-legendre": Method(("nodes", "panels"), _product,
                             "tensor-product composite Gauss-Legendre"),
    "genz-malik": Method(("max_evals",), _adaptive, "globally adaptive Genz-Malik"),
    "adaptive": Method(("max_evals",), _adaptive, "same as genz-malik"),
    "qmc": Method(("samples", "seed"), _qmc, "scrambled Sobol points"),
}


def _resolve(method, dim):
    check_method(METHODS, method)
    if method == "auto":
        return "genz-malik" if dim <= AUTO_MAX_DIM else "qmc"
    return method


def _check_options(method, resolved, options, dim):
    chose = f" (which runs {resolved!r} for d={dim})" if method != resolved else ""
    check_unused_options(METHODS, method, options, resolved, chose)
    _check_positive_int("max_evals", options["max_evals"])
    _check_positive_int("samples", options["samples"])


def _limits_dim(lower, upper):
    ranks = [z.shape.rank for z in (lower, upper)]
    trailing = [z.shape[-1] for z in (lower, upper) if z.shape.rank]
    if not trailing:
        raise ValueError("lower and upper need a trailing axis listing the d coordinates of "
                         "the box (shape [..., d]); for d = 1 use bayesquad.integrate")
    if any(n is None for n in trailing):
        raise ValueError("the trailing axis of lower/upper (the dimension d) must be static")
    if len(set(trailing)) > 1:
        raise ValueError(f"lower has {trailing[0]} coordinates and upper {trailing[1]}: the "
                         "trailing axes (the dimension d) must agree")
    dim = int(trailing[0])
    if dim == 1:
        raise ValueError("cubature needs d >= 2 dimensions (lower/upper trailing axis of "
                         "length 1): use bayesquad.integrate for one-dimensional integrals")
    if dim == 0:
        raise ValueError("lower/upper have an empty trailing axis: d must be >= 2")
    return dim, [z.shape[:-1] if r else tf.TensorShape([]) for z, r in zip((lower, upper),
                                                                            ranks)]


def _prepare(f, lower, upper, args, rtol, atol, dtype):
    if not callable(f):
        raise TypeError(f"f must be callable as f(x, *args); got {type(f).__name__}")
    if not isinstance(args, (tuple, list)):
        raise TypeError(f"args must be a tuple of tensors passed as f(x, *args); got "
                        f"{type(args).__name__} (wrap a single argument as args=(value,))")
    _check_tolerance("rtol", rtol)
    _check_tolerance("atol", atol)
    candidates = [_float_dtype_of("lower", lower), _float_dtype_of("upper", upper)]
    candidates += [_float_dtype_of("args", a) for a in args]
    dtype = _resolve_dtype(dtype, candidates)
    lower = tf.convert_to_tensor(lower, dtype=dtype, name="lower")
    upper = tf.convert_to_tensor(upper, dtype=dtype, name="upper")
    dim, limit_shapes = _limits_dim(lower, upper)
    converted = []
    for a in args:
        a_dtype = _float_dtype_of("args", a)
        converted.append(tf.convert_to_tensor(a, dtype=a_dtype if a_dtype else None))
    shapes = limit_shapes + [a.shape for a in converted]
    batch_shape = tf.TensorShape([])
    try:
        for s in shapes:
            batch_shape = tf.broadcast_static_shape(batch_shape, s)
    except ValueError:
        raise ValueError("the shapes of lower[..., :-1], upper[..., :-1] and args do not "
                         f"broadcast: {[s.as_list() for s in shapes]}") from None
    if not batch_shape.is_fully_defined():
        raise ValueError(f"the batch shape {batch_shape} must be static; give lower/upper/"
                         "args fully defined shapes")
    return Problem(f, lower, upper, tuple(converted), None, dtype, batch_shape), dim


@tf.autograph.experimental.do_not_convert
def cubature(f, lower, upper, *, args=(), method="auto", rtol=None, atol=0.0, log=False,
             nodes=None, panels=None, max_evals=None, samples=None, seed=None, dtype=None):
    """Integrate ``f`` over the box ``[lower, upper]`` in d >= 2 dimensions.

    Parameters
    ----------
    f : callable
        ``f(x, *args)``; ``x`` has the nodes on the leading axis and the coordinates on
        the trailing one, ``x.shape == [m] + batch_shape + [d]``, and ``f`` returns
        ``[m] + batch_shape``. With ``log=True`` it returns the log of a positive
        integrand.
    lower, upper : array_like or Tensor, shape ``[..., d]``
        The box's corners; the trailing axis is the dimension (static, d >= 2; a scalar
        limit applies to every axis). The leading axes broadcast with each other and with
        ``args`` into ``batch_shape``. Limits may be ``±inf``; a reversed axis flips the
        sign (not allowed with ``log=True``).
    args : tuple of Tensor
        Extra arguments of ``f``, passed as given; their shapes join the batch shape.
    method : str
        ``"auto"`` (Genz–Malik for d <= 6, QMC above), ``"gauss-legendre"``,
        ``"genz-malik"`` (alias ``"adaptive"``) or ``"qmc"``.
    rtol, atol : float
        Convergence when ``error <= max(atol, rtol * |value|)``; ``rtol`` defaults to
        ``sqrt(eps)`` of the dtype. With ``log=True`` the test is ``error <= max(atol,
        rtol)`` on the log scale.
    log : bool
        Integrate ``exp(f)`` and return the log of the integral (log-sum-exp inside).
    nodes, panels : int or list of d ints
        ``"gauss-legendre"``: nodes per panel (>= 4; default ``min(32, 2^(15/d))``: 32^2
        nodes in 2-D, 32^3 in 3-D, 13^4 in 4-D) and equal panels per axis (default 1).
    max_evals : int
        ``"genz-malik"``: integrand evaluations per element (default ``1999 n`` with
        ``n = 2^d + 2d^2 + 2d + 1`` nodes a box: room for 1000 boxes); under XLA the
        final sum is evaluated over this whole capacity, so set it to what the integrand
        needs.
    samples, seed
        ``"qmc"``: points per element (default 32,768; a power of two in each of the 8
        scrambled replicates is best) and an int or shape-[2] int tensor (stateless).
    dtype : tf.DType, optional
        Working dtype; by default that of float inputs, else float64.

    Returns
    -------
    IntegrationResult
        ``(value, error, n_evals, status)``, each with shape ``batch_shape``.

    Notes
    -----
    Error estimates are estimates. ``"gauss-legendre"`` sums per-axis Legendre-tail
    estimates: it is reliable for integrands analytic near the box and pessimistic, not
    exact, elsewhere; a feature narrower than the node spacing that no node touches is
    invisible to it, as to every rule. ``"genz-malik"`` reports ``|I7 - I5|`` per box,
    the error of the degree-5 rule, which overstates that of the degree-7 value it
    returns while the boxes resolve the integrand; on discontinuities and kinks across
    the box (Genz's C0 and discontinuous families) boxes straddling the edge can
    understate it, and it needs many boxes there (status ``BUDGET_EXHAUSTED`` rather
    than convergence, usually). Genz–Malik costs ``2^d`` evaluations a box and suits
    d <= ~6. ``"qmc"`` reports a standard error over 8 random scramblings, which the true
    error exceeds about a third of the time; its convergence to ``rtol`` is statistical.
    An infinite axis is mapped to (0, 1) with a Jacobian that must decay: integrands
    with heavy tails converge slowly. Gradients (to ``args``, captured tensors and
    finite limits) are those of the final quadrature sum, evaluated once more after the
    adaptive mesh is found without autodiff. Inside ``reference_settings`` a call in
    d = 2 or 3 first runs a fine product Gauss–Legendre rule (32 nodes x 8 panels per
    axis in 2-D, 24 x 2 in 3-D) and keeps it where its estimate converged; the other
    elements, and every call with d <= 6, run Genz–Malik at the reference tolerance with
    the budget enlarged; above, QMC with as many more samples.
    """
    problem, dim = _prepare(f, lower, upper, args, rtol, atol, dtype)
    options = dict(nodes=nodes, panels=panels, max_evals=max_evals, samples=samples, seed=seed)
    resolved = _resolve(method, dim)
    _check_options(method, resolved, options, dim)
    reference = _settings.current()
    if reference is not None:
        factor = reference.max_evals_factor
        if dim <= AUTO_MAX_DIM:
            budget = max_evals or (2 * DEFAULT_REGIONS - 1) * GenzMalik(dim).size
            resolved = "genz-malik"
            options = dict(options, max_evals=int(budget * factor), nodes=None, panels=None,
                           samples=None, seed=None)
        else:
            resolved = "qmc"
            options = dict(options, samples=int((samples or _DEFAULT_SAMPLES) * factor),
                           nodes=None, panels=None, max_evals=None)
        rtol, atol = reference.rtol, 0.0
    if rtol is None:
        rtol = float(np.sqrt(problem.eps))
    box = _Box(problem, dim, log)
    if reference is not None and dim in _REFERENCE_PRODUCT:
        return _reference(problem, box, options, log, rtol, atol, resolved)
    value, error, bad, n_evals, failed = METHODS[resolved].run(box, options, log, rtol, atol)
    return finalize(problem, box, value, error, bad, n_evals, log, rtol, atol, failed=failed)


#: Reference integrals in low dimension first try a fine product Gauss-Legendre rule
#: (nodes, panels per axis): geometric convergence reaches rtol 1e-12 on analytic
#: integrands where Genz-Malik's degree-5 error estimate does not within its budget
#: (W6: 65,536 nodes converged at 2e-14; Genz-Malik with 272,000 evaluations reported 5e-12)
_REFERENCE_PRODUCT = {2: (32, 8), 3: (24, 2)}


def _reference(problem, box, options, log, rtol, atol, adaptive_method):
    """The fine product rule where its own estimate says it converged, else the adaptive
    method (both honest; evaluated only where needed when running eagerly)."""
    nodes, panels = _REFERENCE_PRODUCT[box.dim]
    value, error, bad, n_evals, _ = _product(box, {"nodes": nodes, "panels": panels}, log,
                                             rtol, atol)
    product = finalize(problem, box, value, error, bad, n_evals, log, rtol, atol)
    done = tf.equal(product.status, 0)
    if tf.executing_eagerly() and bool(tf.reduce_all(done)):
        return product
    value, error, bad, n_evals, failed = METHODS[adaptive_method].run(box, options, log, rtol,
                                                                     atol)
    adaptive = finalize(problem, box, value, error, bad, n_evals, log, rtol, atol,
                        failed=failed)
    # the elements handed on paid for both rules
    adaptive = adaptive._replace(n_evals=adaptive.n_evals + product.n_evals)
    return IntegrationResult(*(tf.where(done, p, a) for p, a in zip(product, adaptive)))
