"""MAP + Laplace for many data sets of one model in one compiled program (toy studies)."""
import time

import numpy as np

from bayesquad._tf import tf
from bayesquad.inference import _datatree, _model
from bayesquad.inference._cache import cached
from bayesquad.inference._graph_calls import graph_function
from bayesquad.inference._heap import with_heap_frozen
from bayesquad.inference._lbfgs_batch import minimize_batch
from bayesquad.inference._map import (MapResult, _check_options, fd_hessians,
                                      laplace_covariance, name_bounds)

__all__ = ["find_map_batch"]



def _stack_observed(model, observed):
    """``(obs0, batch, k)``: the first data set (for the layout), the whole batch, its size."""
    if not isinstance(observed, dict) or not observed:
        raise TypeError("observed must be a non-empty dict {name: array [K, ...]} whose "
                        "leading axis indexes the data sets")
    arrays = {k: np.asarray(v) for k, v in observed.items()}
    sizes = {k: (v.shape[0] if v.ndim else None) for k, v in arrays.items()}
    if any(s is None for s in sizes.values()) or len(set(sizes.values())) != 1:
        raise ValueError(f"every observed array needs the same leading data-set axis K; got "
                         f"leading sizes {sizes} (stack the data sets with np.stack, padding "
                         f"event lists with NaN: bayesquad.pad_events)")
    k = next(iter(sizes.values()))
    if k < 1:
        raise ValueError("observed holds no data set (leading axis of length 0)")
    # pylint: disable-next=protected-access
    obs0 = _model._check_observed(model, {n: v[0] for n, v in arrays.items()})
    batch = {n: arrays[n].astype(obs0[n].dtype) for n in obs0}
    return obs0, batch, int(k)


def _batched_log_prob(model, layout, obs, data_batches):
    """``f(z [K, D]) -> [K]``: data set ``k``'s log density at ``z[k]``."""
    if data_batches:
        return _model.log_prob_fn(model, layout, obs)

    def f(z):
        def one(args):
            zk, obs_k = args
            return _model.log_prob_fn(model, layout, obs_k)(zk)
        return tf.map_fn(one, (z, obs), fn_output_signature=layout.dtype)
    return f


def _data_batches(model, layout, batch, start):
    """Whether the model evaluates data set ``k`` at point ``k`` when handed ``[K, ...]``
    data and ``[K, D]`` points (a batch of two, against one at a time)."""
    if not layout.batched:
        return False
    two = {n: tf.constant(v[:2]) for n, v in batch.items()}
    if any(v.shape[0] < 2 for v in two.values()):
        return True  # one data set: nothing to get wrong
    z = tf.constant(np.stack([start, start + 0.1]))
    try:
        together = _model.log_prob_fn(model, layout, two)(z).numpy()
        apart = [_model.log_prob_fn(model, layout, {n: v[i] for n, v in two.items()})(z[i])
                 .numpy() for i in range(2)]
    except (ValueError, TypeError, tf.errors.OpError, NotImplementedError):
        return False
    apart = np.asarray(apart, float).reshape(-1)
    return (together.shape == (2,) and np.all(np.isfinite(apart))
            and np.allclose(together, apart, rtol=1e-9, atol=1e-9))


def _compiled_value_and_grad(model, layout, data_batches, jit):
    """``vg(z [K, D], obs) -> (log p [K], d log p / dz [K, D])``, compiled once per model,
    layout and K (the batch's shapes)."""
    def build():
        def value_and_grad(z, obs):
            log_prob = _batched_log_prob(model, layout, obs, data_batches)
            with tf.GradientTape() as tape:
                tape.watch(z)
                lp = log_prob(z)
            return lp, tape.gradient(lp, z)
        if jit:
            return tf.function(value_and_grad, jit_compile=True, autograph=False)
        return graph_function(value_and_grad, autograph=False)
    return cached(model, ("map_batch_value_and_grad", layout, bool(data_batches), bool(jit)),
                  build)


def _scales(batch):
    """Observed scalars per data set (NaN padding not counted): the objective's 1/N."""
    counts = None
    for v in batch.values():
        v = np.asarray(v)
        per = v.reshape(v.shape[0], -1)
        n = (~np.isnan(per)).sum(1) if per.dtype.kind == "f" else np.full(len(per), per.shape[1])
        counts = n if counts is None else counts + n
    return np.maximum(counts, 1).astype(float)


@with_heap_frozen
def find_map_batch(model, observed, *, seed=0, max_iterations=500, tolerance=1e-8,
                   laplace_draws=1000, jit=True, bijectors=None, start=None):
    """MAP estimates and Laplace approximations for K data sets of one model, fitted together.

    A toy study fits the same model to many simulated data sets. Fitted one at a time, each
    fit pays Python and dispatch overhead on every evaluation; here one compiled function
    evaluates the log density and gradient of all K data sets at once, and a batched
    L-BFGS (each data set with its own history and line search, each stopping on its own)
    drives it, so a CPU's vector units see K evaluations per call.

    Parameters
    ----------
    model : tfp.distributions.JointDistribution
        Built for one data set; its log density must accept a leading batch of points with
        a matching leading batch of data (checked; a model that does not is mapped over the
        data sets inside the program, still compiled once but without the vector speed-up).
    observed : dict
        Data by variable name, each array with a leading data-set axis ``K``. Event lists
        of different lengths are NaN-padded to one length (``bayesquad.pad_events``) for
        distributions that read NaN as padding (``PoissonProcess``).
    seed : int or sequence of K ints
        Seeds the Laplace draws: one stream for the batch, or one per data set (then data
        set ``k``'s draws do not depend on which batch it was fitted in).
    max_iterations : int
        L-BFGS iterations per data set (the slowest data set sets the run time).
    tolerance : float
        Gradient sup-norm tolerance on ``-log p / N_k`` (``N_k``: observed scalars of data
        set ``k``, NaN padding excluded), as :func:`find_map`'s.
    laplace_draws : int
        Draws of each Laplace approximation in ``result.datatree`` (0: none).
    jit : bool
        XLA-compile the batched log density and gradient (default: compiled once per model,
        layout and K, in about the time of one log density's compile).
    bijectors : dict, optional
        As in :func:`find_map`.
    start : array [D] or [K, D], optional
        Unconstrained starting points (default the origin of the unconstrained space).

    Returns
    -------
    MapResult
        Every field gains a leading data-set axis ``K``: ``params`` ``{name: [K, ...]}``,
        ``unconstrained`` ``[K, D]``, ``covariance`` ``[K, D, D]``, ``log_prob``,
        ``converged`` ``[K]``, ``message`` a tuple of K strings; ``num_iterations`` and
        ``num_evaluations`` are the batch's. ``datatree.posterior`` holds the Laplace
        draws with dims ``("fit", "draw", ...)``; ``datatree.observed_data`` the data with
        a ``fit`` dim; attrs ``compile_time_s`` (the first call of the compiled function:
        tracing, XLA compile and one evaluation; 0 when it was compiled before) and
        ``fit_time_s``.

    Raises
    ------
    TypeError, ValueError
        Bad options or data whose leading axes differ (named), before any work.

    Notes
    -----
    One start per data set, no restarts: where :func:`find_map`'s several starts matter
    (multimodal posteriors, starts far from the mode) a batched fit may stop at a worse
    optimum, which its ``converged`` flag does not reveal. The Laplace caveats of
    :func:`find_map` apply to each data set. ``converged`` requires the optimiser's
    convergence (no line-search failure) and a final gradient within ``10 * tolerance``; a
    data set whose Hessian is not positive definite gets a NaN covariance and NaN draws.
    """
    _check_options(1, max_iterations, tolerance, laplace_draws, jit)
    model = _model.working_model(model)
    obs0, batch, k = _stack_observed(model, observed)
    seeds = np.asarray(seed).reshape(-1)
    if np.ndim(seed) > 1 or (np.ndim(seed) == 1 and seeds.size != k) \
            or seeds.dtype.kind not in "iu":
        raise ValueError(f"seed must be an int or a sequence of {k} ints (one per data set), "
                         f"got {seed!r}")
    # One layout per model, data shapes and bijectors: a study's batches differ in values
    # only, and describing the layout evaluates the model (~0.1 s a batch otherwise).
    shapes = tuple((n, v.shape, v.dtype.str) for n, v in sorted(obs0.items()))
    chosen = tuple((n, id(b)) for n, b in sorted((bijectors or {}).items()))
    layout = cached(model, ("map_batch_layout", shapes, chosen),
                    lambda: _model.make_layout(model, obs0, int(seeds[0]), bijectors)[0])
    dtype = layout.dtype.as_numpy_dtype
    if start is None:
        starts = np.zeros((k, sum(layout.sizes)), dtype)
    else:
        starts = np.broadcast_to(np.asarray(start, dtype), (k, sum(layout.sizes))).copy()
    batches = cached(model, ("map_batch_data_batches", layout, k),
                     lambda: _data_batches(model, layout, batch, starts[0]))
    compiled = _compiled_value_and_grad(model, layout, batches, jit)
    obs_t = {n: tf.constant(v) for n, v in batch.items()}

    def value_and_grad(z):
        lp, grad = compiled(tf.constant(z.astype(dtype)), obs_t)
        return lp.numpy().astype(np.float64), grad.numpy().astype(np.float64)

    scale = _scales(batch)

    def objective(z):
        lp, grad = value_and_grad(z)
        return -lp / scale, -grad / scale[:, None]

    traces = compiled.experimental_get_tracing_count()
    t0 = time.perf_counter()
    first = objective(starts)  # the first call traces and compiles; the optimiser reuses it
    compile_time = (time.perf_counter() - t0
                    if compiled.experimental_get_tracing_count() > traces else 0.0)
    t0 = time.perf_counter()
    opt = minimize_batch(objective, starts, tolerance=float(tolerance),
                         max_iterations=int(max_iterations), initial=first)
    z = opt.position
    hess = fd_hessians(value_and_grad, z)
    lp, _ = value_and_grad(z)
    elapsed = time.perf_counter() - t0
    gnorm = np.max(np.abs(opt.gradient), -1)
    failed = opt.failed
    converged = opt.converged & (gnorm <= max(10 * float(tolerance), 1e-6))
    nit, nfev = int(opt.iterations.max(initial=0)), opt.evaluations + 2 * z.shape[-1] + 1
    covs, messages = [], []
    for i in range(k):
        cov, hess_msg = laplace_covariance(-hess[i]) if np.all(np.isfinite(hess[i])) else (
            np.full_like(hess[i], np.nan), "Hessian not finite: no Laplace covariance")
        covs.append(cov)
        msg = ("converged (gradient norm below tolerance)" if converged[i] else
               f"not converged (gradient norm {gnorm[i]:.3g}"
               f"{', line search failed' if failed[i] else ''})")
        messages.append(msg + ("; " + hess_msg if hess_msg else ""))
    cov = np.stack(covs)
    point = _datatree.constrain_draws(model, layout, obs0, z[:, None, :].astype(dtype))
    params = {n: v[:, 0] for n, v in point.items()}
    draws = None
    if laplace_draws:
        shape = (int(laplace_draws), sum(layout.sizes))
        if np.ndim(seed):
            eps = np.stack([np.random.default_rng(int(s)).standard_normal(shape) for s in seeds])
        else:
            eps = np.random.default_rng(int(seed)).standard_normal((k,) + shape)
        zs = np.full_like(eps, np.nan)
        for i in range(k):
            if np.all(np.isfinite(cov[i])):
                zs[i] = z[i] + eps[i] @ np.linalg.cholesky(cov[i]).T
        draws = _datatree.constrain_draws(model, layout, obs0, zs.astype(dtype))
    dt = _batch_datatree(layout, batch, draws, converged, lp, seeds)
    dt.attrs.update(compile_time_s=compile_time, fit_time_s=elapsed)
    return MapResult(params=params, unconstrained=z, covariance=cov, log_prob=lp,
                     converged=converged, message=tuple(messages), num_iterations=int(nit),
                     num_evaluations=int(nfev), names=name_bounds(layout), datatree=dt)


def _batch_datatree(layout, batch, draws, converged, lp, seed):
    import xarray as xr  # pylint: disable=import-outside-toplevel

    def dataset(values, lead):
        return xr.Dataset({n: (lead + [f"{n}_dim_{j}" for j in range(np.ndim(v) - len(lead))],
                               np.asarray(v)) for n, v in values.items()})
    tree = {"observed_data": dataset(batch, ["fit"])}
    if draws is not None:
        tree["posterior"] = dataset(draws, ["fit", "draw"])
    dt = xr.DataTree.from_dict(tree)
    dt.attrs.update({**_datatree.versions(), "inference": "map_batch", "seed": seed.tolist(),
                     "map_converged": np.asarray(converged, int).tolist(),
                     "map_log_prob": np.asarray(lp, float).tolist(),
                     "parameters": list(layout.names)})
    return dt
