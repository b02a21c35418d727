"""MAP estimate and Laplace approximation in the unconstrained space."""
import collections
import math
import numbers

import numpy as np

from bayesquad._tf import tf
from bayesquad.inference import _datatree, _derived, _model
from bayesquad.inference._fit import RUN_ID_ATTR, Fit, new_run_id
from bayesquad.inference._heap import with_heap_frozen
from bayesquad.inference._target import as_target
from bayesquad.inference._cache import cached, lookup
from bayesquad.inference._graph_calls import graph_function
from bayesquad.inference._lbfgs_batch import minimize_batch

__all__ = ["MapResult", "fd_hessians", "find_map", "graph_value_and_grad", "map_unconstrained",
           "name_bounds"]

_RESTARTS = 5

MapResult = collections.namedtuple(
    "MapResult",
    ["params", "unconstrained", "covariance", "log_prob", "converged", "message",
     "num_iterations", "num_evaluations", "names", "datatree"])
MapResult.__doc__ = """Result of :func:`find_map`.

Attributes
----------
params : dict of numpy arrays
    The MAP point in the model's (constrained) space, by variable name.
unconstrained : numpy array [D]
    The same point in the flat unconstrained space the samplers use.
covariance : numpy array [D, D]
    Laplace covariance: the inverse Hessian of the negative log posterior at
    ``unconstrained``; all-NaN when the Hessian is not positive definite.
log_prob : float
    Log posterior density (up to a constant, with the bijector's log-Jacobian) at the point.
converged : bool
message : str
    Why the optimiser stopped, and a warning when the Hessian is not positive definite.
num_iterations, num_evaluations : int
names : tuple of (name, start, stop)
    Which slice of ``unconstrained`` belongs to which variable.
datatree : Fit
    An ``xarray.DataTree`` that also carries its :class:`Target`.
    ``posterior`` holds draws of the Laplace approximation mapped to the constrained space
    (one chain); ``observed_data`` the data; attrs ``inference="map"`` and the optimiser
    status.  Empty posterior when the covariance is not available.
"""


def _compiled_value_and_grad(model, layout, jit):
    """``f(z [S, D], obs) -> (log p [S], d log p / dz [S, D])``, compiled once per model."""
    def build():
        def value_and_grad(z, obs):
            return _model.value_and_grad_fn(model, layout, obs)(z)
        if jit:
            return tf.function(value_and_grad, jit_compile=True, autograph=False)
        return graph_function(value_and_grad, autograph=False)
    return cached(model, _value_and_grad_key(layout, jit), build)


def _value_and_grad_key(layout, jit):
    return ("value_and_grad", layout, bool(jit))


def _row_by_row(compiled, z, obs_t):
    """``(log p [K], d log p / dz [K, D])`` at the rows of ``z``, one call of ``compiled``
    per row.

    Every call has the shape ``[1, D]``, so the function is traced (and compiled) once; a
    ``[2D, D]`` batch for the Hessian would trace it again, which costs more than the 2D
    graph calls (~1 s on W1).
    """
    out = [compiled(tf.constant(row[None]), obs_t) for row in np.asarray(z)]
    return (np.concatenate([lp.numpy() for lp, _ in out]),
            np.concatenate([grad.numpy() for _, grad in out]))


def graph_value_and_grad(model, layout, obs_t):
    """``f(z [K, D]) -> (log p [K], d log p / dz [K, D])`` (numpy) through the graph-mode
    function the MAP's L-BFGS traced, or None when no MAP traced it for this model and
    layout (``obs_t``: the observed data as tensors).

    A few milliseconds where an eager evaluation takes 30-150 ms (W1-W6): what the
    finiteness check and the start gradients at the chains' starting points should cost,
    in every fit of a model after the MAP. Nothing is traced or stored here.

    Notes
    -----
    The rules are the configured ones, not a fit's frozen plans: values may differ from
    the sampler's by as much as the plan tolerance allows (``1e-4`` in the log density by
    default). Only a chain's first warm-up transition starts from them, and every later
    point carries the sampler's own values.
    """
    compiled = lookup(model, _value_and_grad_key(layout, jit=False))
    if compiled is None:
        return None
    return lambda z: _row_by_row(compiled, z, obs_t)


def _lbfgs(value_and_grad, start, scale, max_iterations, tolerance):
    """L-BFGS on ``-log p / scale`` from one start; ``(z, success, message, nit, nfev)``.

    The optimiser is :func:`~bayesquad.inference._lbfgs_batch.minimize_batch` with one
    problem (as :func:`find_map_batch`): numpy only, so a first fit does not import
    ``scipy.optimize`` (0.2 s) before its sampler can be traced. Scaling by 1/N keeps the
    gradient O(1) (a raw 20,000-event log-likelihood defeats the first line search).
    Non-finite values make the line search step back.
    """
    dtype = start.dtype

    def fun(x):
        lp, grad = value_and_grad(x.astype(dtype))
        return -np.asarray(lp, np.float64) / scale, -np.asarray(grad, np.float64) / scale

    x = np.asarray(start, np.float64)[None]
    nit = nfev = 0
    initial = None
    for _ in range(_RESTARTS):
        res = minimize_batch(fun, x, tolerance=float(tolerance),
                             max_iterations=int(max_iterations), history=20,
                             f_relative_tolerance=1e-15, initial=initial)
        x, nit, nfev = res.position, nit + int(res.iterations[0]), nfev + int(res.evaluations)
        initial = (res.value, res.gradient)
        # the line search sometimes gives up far from the mode; a restart from that point,
        # with fresh curvature history, then converges. One that made no progress would
        # fail again.
        if not (res.failed[0] and res.iterations[0] > 0):
            break
    grad_norm = float(np.max(np.abs(res.gradient[0])))
    if res.converged[0]:
        message = "converged"
    elif res.failed[0]:
        message = ("the line search found no step that decreases -log p enough (a "
                   "non-finite or non-smooth log density near this point, or a gradient "
                   "inconsistent with its values)")
    else:
        message = f"stopped after max_iterations={int(max_iterations)} iterations"
    success = bool(res.converged[0]) and grad_norm <= max(10 * float(tolerance), 1e-6)
    return x[0].astype(dtype), success, message, nit, nfev


def fd_hessians(value_and_grad, z, rel_step=1e-5):
    """Hessians ``[K, D, D]`` of ``log p`` at the rows of ``z`` (``[K, D]``), by central
    differences of the exact gradient: 2 D calls of ``value_and_grad`` on ``[K, D]``.

    Relative accuracy ~1e-6 (truncation h^2 against rounding eps/h), ample for a Laplace
    covariance or an initial metric, and no second compilation.
    """
    h = rel_step * np.maximum(1.0, np.abs(z))
    rows = []
    for j in range(z.shape[-1]):
        step = np.zeros_like(z)
        step[:, j] = h[:, j]
        _, up = value_and_grad(z + step)
        _, down = value_and_grad(z - step)
        rows.append((np.asarray(up, np.float64) - np.asarray(down, np.float64))
                    / (2.0 * h[:, j:j + 1]))
    hess = np.stack(rows, axis=1)
    return 0.5 * (hess + np.swapaxes(hess, 1, 2))


def name_bounds(layout):
    """``((name, start, stop), ...)``: which slice of the flat vector is which variable."""
    bounds, start = [], 0
    for n, s in zip(layout.names, layout.sizes):
        bounds.append((n, start, start + s))
        start += s
    return tuple(bounds)


def map_unconstrained(model, layout, obs, *, starts, max_iterations=500, tolerance=1e-8,
                      jit=True):
    """Run L-BFGS from each row of ``starts`` ([S, D]); return the best proper mode.

    Returns ``(z, log_prob, converged, n_iter, n_eval, cov, message)`` as numpy values, where
    ``cov`` is the Laplace covariance (NaN if the Hessian is not positive definite).
    """
    obs_t = {k: tf.constant(v) for k, v in obs.items()}
    scale = float(_model.num_observations(obs))
    compiled = _compiled_value_and_grad(model, layout, jit)

    def value_and_grad(z):
        return _row_by_row(compiled, z, obs_t)

    runs = [_lbfgs(value_and_grad, np.asarray(start), scale, max_iterations, tolerance)
            for start in np.asarray(starts)]
    positions = np.stack([r[0] for r in runs])
    values, _ = value_and_grad(positions)
    values = np.where(np.isfinite(values), values, -np.inf)
    conv = np.array([r[1] for r in runs])
    n_iter, n_eval = sum(r[3] for r in runs), sum(r[4] for r in runs)
    # Prefer the highest point that is a proper mode (converged, positive-definite Hessian)
    # over a higher one that is not: a fixed quadrature rule can create a spurious,
    # unbounded "mode" (e.g. a peak shape narrowed to nothing outside its window, where its
    # normaliser underflows) that the raw maximum would pick.
    candidates = []
    for idx in np.argsort(-values, kind="stable"):
        if not np.isfinite(values[idx]) and candidates:
            break
        cov, hess_msg = laplace_covariance(-fd_hessians(value_and_grad, positions[idx][None])[0])
        candidates.append((int(idx), cov, hess_msg))
        if conv[idx] and not hess_msg:
            break
    proper = [c for c in candidates if conv[c[0]] and not c[2]]
    best, cov, hess_msg = proper[0] if proper else candidates[0]
    z = positions[best]
    converged = bool(conv[best])
    if proper and best != candidates[0][0]:
        hess_msg = (f"a higher but improper optimum (log density {values[candidates[0][0]]:.4g},"
                    f" not converged or Hessian not positive definite) was set aside")
    if converged:
        message = "converged (gradient norm below tolerance)"
    else:
        message = f"not converged ({runs[best][2]}); the point may still be close to the mode"
    if hess_msg:
        message += "; " + hess_msg
    return z, float(values[best]), converged, n_iter, n_eval, cov, message


def laplace_covariance(hess):
    """Inverse of a Hessian of ``-log p``; NaNs and a message if not positive definite."""
    hess = 0.5 * (hess + hess.T)
    try:
        chol = np.linalg.cholesky(hess)
    except np.linalg.LinAlgError:
        return np.full_like(hess, np.nan), "Hessian not positive definite: no Laplace covariance"
    inv = np.linalg.inv(chol)
    return inv.T @ inv, ""


def _starts(model, layout, obs, n_starts, seed):
    dim = sum(layout.sizes)
    rows = [np.zeros(dim, layout.dtype.as_numpy_dtype)]
    if n_starts > 1:
        try:
            prior = _model.prior_draws(model, layout, obs, n_starts - 1, seed).numpy()
            rows.extend(np.clip(prior, -20, 20))  # far tails of wide priors help nobody
        except (NotImplementedError, ValueError, TypeError, tf.errors.OpError):
            rng = np.random.default_rng(seed)
            rows.extend(rng.uniform(-2, 2, size=(n_starts - 1, dim)))
    return np.stack(rows).astype(layout.dtype.as_numpy_dtype)


def _check_options(num_starts, max_iterations, tolerance, laplace_draws, jit):
    """ValueError/TypeError naming the argument, before any tracing."""
    for name, value, low in (("num_starts", num_starts, 1),
                             ("max_iterations", max_iterations, 1),
                             ("laplace_draws", laplace_draws, 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an int >= {low}, got {value!r}")
        if value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}"
                             + ("; pass 0 for no Laplace draws" if name == "laplace_draws"
                                else ""))
    if isinstance(tolerance, bool) or not isinstance(tolerance, numbers.Real):
        raise TypeError(f"tolerance must be a number > 0, got {tolerance!r}")
    if not (math.isfinite(tolerance) and tolerance > 0):
        raise ValueError(f"tolerance must be a finite number > 0 (the gradient-norm "
                         f"tolerance of -log p / N, e.g. 1e-8), got {tolerance!r}")
    if not isinstance(jit, (bool, np.bool_)):
        raise TypeError(f"jit must be True or False, got {jit!r}")


@with_heap_frozen
def find_map(model, observed=None, *, seed=0, num_starts=4, max_iterations=500, tolerance=1e-8,
             laplace_draws=1000, jit=False, derived=None, bijectors=None):
    """Maximum a posteriori estimate with a Laplace approximation.

    Parameters
    ----------
    model : tfp.distributions.JointDistribution or Target
        A :class:`Target` (the model with its data, built once) is used as it is.
    observed : dict, optional
        Data by variable name; omitted when ``model`` is a Target.
    seed : int
        Seeds the prior draws used as extra starting points and the Laplace draws.
    num_starts : int
        L-BFGS runs (weak-Wolfe line search, as :func:`find_map_batch`, on a compiled log
        density and gradient): from the unconstrained origin and from ``num_starts - 1``
        prior draws; the best proper mode wins.
    max_iterations : int
    tolerance : float
        Gradient-norm tolerance on the objective ``-log p / N`` (N = number of observed
        scalars).
    laplace_draws : int
        Draws of the Laplace approximation stored in ``result.datatree`` (0: none).
    jit : bool
        XLA-compile the log density and gradient that L-BFGS calls (one compile of a few
        seconds; worth it for large data).
    derived : callable, optional
        Functions of the parameters recorded with the Laplace draws, as in
        :func:`bayesquad.inference.sample`.
    bijectors : dict, optional
        ``{name: tfb.Bijector}`` replacing default constraining bijectors, as in
        :func:`bayesquad.inference.sample`. The mode found is that of the density in the
        unconstrained space, so it depends on this choice (see Notes).

    Returns
    -------
    MapResult

    Raises
    ------
    TypeError, ValueError
        For an option of the wrong type or out of range (named in the message), before any
        work is done.

    Notes
    -----
    The optimisation is in the unconstrained space, so the mode found is that of the density
    including the bijector's log-Jacobian (as Stan's optimiser with Jacobian): for a
    positive scale with a Softplus bijector it differs from the constrained-space mode by an
    amount that vanishes with data.  The Laplace covariance is unreliable when the posterior
    is skewed, multimodal or on a boundary (e.g. a variance near zero); a NaN covariance says
    the Hessian was not positive definite.
    """
    _check_options(num_starts, max_iterations, tolerance, laplace_draws, jit)
    target = as_target(model, observed, bijectors=bijectors, seed=seed)
    model, layout, obs = target.working_model, target.layout, target.observed
    starts = _starts(model, layout, obs, int(num_starts), seed)
    z, lp, converged, n_iter, n_eval, cov, message = map_unconstrained(
        model, layout, obs, starts=starts, max_iterations=max_iterations, tolerance=tolerance,
        jit=jit)
    obs_t = {k: tf.constant(v) for k, v in obs.items()}
    point = _model.constrain(model, layout, obs_t, z)
    params = {n: np.asarray(v) for n, v in zip(layout.names, tf.nest.flatten(point))}
    draws = None
    if laplace_draws and np.all(np.isfinite(cov)):
        rng = np.random.default_rng(seed)
        zs = rng.multivariate_normal(z, cov, size=int(laplace_draws)).astype(z.dtype)
        draws = _derived.add_derived(
            _datatree.constrain_draws(model, layout, obs, zs[None]), derived)
    dt = _datatree.build(
        posterior=draws, observed=obs,
        attrs={"inference": "map", "map_converged": int(converged), "map_message": message,
               "map_log_prob": lp, "seed": int(seed),
               RUN_ID_ATTR: new_run_id(),
               _derived.DERIVED_ATTR: _derived.derived_names(draws or {}, layout.names),
               **{f"map_{n}": np.asarray(v).ravel().tolist() for n, v in params.items()}})
    dt = Fit.wrap(dt, target, {"inference": "map", "num_starts": int(num_starts),
                               "seed": int(seed), "tolerance": float(tolerance)})
    return MapResult(params=params, unconstrained=z, covariance=cov, log_prob=lp,
                     converged=converged, message=message, num_iterations=n_iter,
                     num_evaluations=n_eval, names=name_bounds(layout), datatree=dt)
