"""``sample``: chunked, checkpointable NUTS with windowed adaptation -> ArviZ DataTree."""
import concurrent.futures
import importlib
import importlib.util
import math
import numbers
import sys
import threading
import time

import numpy as np

from bayesquad._tf import tf
from bayesquad.distributions import plans as _plans
from bayesquad.inference import (
    _chains,
    _checkpoint,
    _datatree,
    _derived,
    _map,
    _model,
    _nuts,
    _planning,
)
from bayesquad.inference._cache import cached, reference_settings_now
from bayesquad.inference._fit import RUN_ID_ATTR, Fit, new_run_id
from bayesquad.inference._heap import with_heap_frozen
from bayesquad.inference._target import as_target
from bayesquad.inference._progress import sampling_divergences

__all__ = ["LOG_LIKELIHOOD_BUDGET", "sample"]

#: Largest pointwise log-likelihood (draws x observations) stored by default: 64 MB in
#: float64 (W1's 4 x 1000 draws x 20,000 events keep every 10th draw, 400 draws: enough for
#: PSIS, whose Pareto-k fit needs ~100).  Larger runs are thinned; see ``sample``'s
#: ``log_likelihood`` argument.  The budget bounds the saved netCDF file and LOO's time.
LOG_LIKELIHOOD_BUDGET = 8_000_000

def _base_seed(seed):
    seed = int(seed)
    return np.array([seed & 0x7FFFFFFF, (seed >> 31) & 0x7FFFFFFF], np.int32)


#: ``dense_mass="auto"`` adapts a dense metric up to this many unconstrained dimensions
DENSE_AUTO_MAX_DIM = 32


def resolve_dense_mass(dense_mass, dim):
    """``dense_mass`` as a bool: ``"auto"`` is dense for ``dim <= DENSE_AUTO_MAX_DIM``."""
    if isinstance(dense_mass, str):
        if dense_mass != "auto":
            raise ValueError(f'dense_mass must be True, False or "auto", got {dense_mass!r}')
        return dim <= DENSE_AUTO_MAX_DIM
    if not isinstance(dense_mass, (bool, np.bool_)):
        raise TypeError(f'dense_mass must be True, False or "auto", got {dense_mass!r}')
    return bool(dense_mass)


def _check_settings(chains, warmup, draws, target_accept, max_tree_depth, init, log_likelihood,
                    chunk_size):
    for name, value, low in (("chains", chains, 1), ("warmup", warmup, 0), ("draws", draws, 1),
                             ("max_tree_depth", max_tree_depth, 1), ("chunk_size", chunk_size, 1)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if max_tree_depth > 15:
        raise ValueError(f"max_tree_depth must be <= 15 (2**15 leapfrog steps), got "
                         f"{max_tree_depth}")
    if not 0.0 < float(target_accept) < 1.0:
        raise ValueError(f"target_accept must be in (0, 1), got {target_accept}")
    if not (isinstance(init, dict) or init in ("map", "prior")):
        raise ValueError(f"init must be 'map', 'prior' or a dict of starting values, got "
                         f"{init!r}")
    if not (isinstance(log_likelihood, bool) or
            (isinstance(log_likelihood, numbers.Integral) and log_likelihood >= 1)):
        raise ValueError(f"log_likelihood must be True, False or a thinning interval >= 1, got "
                         f"{log_likelihood!r}")


def _initial_points(model, layout, obs, init, chains, seed, dense):
    """``(z0 [chains, D], metric or None, message, planning points [K, D])``.

    The planning points are the Laplace box around the MAP where the MAP is usable, else
    the chains' starting points."""
    rng = np.random.default_rng([int(seed), 1])
    dim = sum(layout.sizes)
    np_dtype = layout.dtype.as_numpy_dtype
    obs_t = {k: tf.constant(v) for k, v in obs.items()}
    if init == "map":
        # One start at the origin of the unconstrained space first (the prior's centre for
        # most bijectors); three more from prior draws only when it does not reach a proper
        # mode. Graph mode, not XLA: the optimiser runs once and XLA compile would dominate.
        starts = np.zeros((1, dim), np_dtype)
        # Deterministic (one start at the origin, no seed): a later fit of the same model
        # and data reuses the optimum instead of repeating it (0.1-0.5 s on W1-W6).
        found = cached(model, ("map-from-origin", layout, _model.data_digest(obs)),
                       lambda: _map.map_unconstrained(model, layout, obs, starts=starts,
                                                      jit=False, tolerance=1e-6))
        z, _, conv, _, _, cov, msg = (np.copy(v) if isinstance(v, np.ndarray) else v
                                      for v in found)
        if not (conv and np.all(np.isfinite(cov))):
            starts = _map._starts(model, layout, obs, 4, seed)  # pylint: disable=protected-access
            z, _, conv, _, _, cov, msg = _map.map_unconstrained(
                model, layout, obs, starts=starts, jit=False, tolerance=1e-6)
        if conv and np.all(np.isfinite(cov)):
            sd = np.sqrt(np.clip(np.diag(cov), 1e-12, 1e12))
            metric = np.linalg.cholesky(cov) if dense else sd
            z0 = z + sd * rng.standard_normal((chains, dim))
            message = f"map ({msg})"
            planning = _planning.laplace_box(z, cov)
        else:
            # An optimum that did not converge or has no positive-definite Hessian is no
            # place to start chains (it may be a spurious mode): start from the prior.
            z0 = _model.prior_draws(model, layout, obs, chains, seed).numpy()
            metric, message = None, f"prior (MAP unusable: {msg})"
    elif init == "prior":
        z0 = _model.prior_draws(model, layout, obs, chains, seed).numpy()
        metric, message = None, "prior"
    else:
        z = _model.unconstrain(model, layout, obs_t, init).numpy()
        z0 = np.broadcast_to(z, (chains, dim)).copy()
        metric, message = None, "user"
    z0 = z0.astype(np_dtype)
    if init != "map" or message.startswith("prior"):
        planning = z0
    return z0, metric, message, planning


def _compiled(model, layout, chains, chunk_size, max_tree_depth, dense, jit,
              adaptation="stan"):
    def build():
        def run(state, obs, n, warmup, slow_start, window_ends, target_accept):
            log_prob = _model.log_prob_fn(model, layout, obs)
            chunk = _nuts.make_run_chunk(log_prob, chunk_size=chunk_size,
                                         max_tree_depth=max_tree_depth, dense=dense,
                                         adaptation=adaptation,
                                         kernel=_nuts.kernel_for(chains))
            return chunk(state, n, warmup, slow_start, window_ends, target_accept)
        return tf.function(run, jit_compile=bool(jit), autograph=False)
    return cached(model, ("nuts", layout, chains, chunk_size, max_tree_depth, dense, jit,
                          adaptation), build)


def _stack_infos(infos, warmup, total, chains):
    """Concatenate chunk infos ``[n, C, ...]`` and keep the sampling rows as ``[C, S, ...]``."""
    out = {}
    for name in _nuts.INFO_NAMES:
        arr = np.concatenate([i[name] for i in infos], axis=0)[warmup:total]
        out[name] = np.swapaxes(arr, 0, 1)
    return out


@with_heap_frozen
def sample(model, observed=None, *, chains=4, warmup=1000, draws=1000, seed=0, init="map",
           target_accept=0.8, max_tree_depth=10, dense_mass="auto", jit=True, progress=True,
           checkpoint=None, log_likelihood=True, chunk_size=250, chain_method="parallel",
           quadrature="plan", metric_adaptation="stan", derived=None, bijectors=None):
    """Sample the posterior with NUTS; return an ArviZ DataTree.

    Parameters
    ----------
    model : tfp.distributions.JointDistribution or Target
        Any flavour (Coroutine, CoroutineAutoBatched, Named, Sequential); a
        :class:`Target` (the model with its data, built once) is used as it is.
    observed : dict, optional
        Data by variable name; each value must have the shape the model generates. Omitted
        when ``model`` is a Target.
    chains, warmup, draws : int
    seed : int
        The same seed (and settings) gives bit-identical draws on the same machine and
        library versions.
    init : {"map", "prior"} or dict
        ``"map"``: every chain starts at the MAP point plus one Laplace standard deviation
        of Gaussian jitter, and the Laplace standard deviations are the initial metric
        (if the optimiser does not converge to a mode with a positive-definite Hessian,
        chains start from prior draws instead; ``attrs["init_message"]`` says which);
        ``"prior"``: one prior draw per chain; a dict: constrained starting values by name.
    target_accept : float
        Dual-averaging target for the mean acceptance statistic over chains.
    max_tree_depth : int
    dense_mass : bool or "auto"
        Adapt a dense metric (``True``) or a diagonal one (``False``). ``"auto"``
        (default): dense when the unconstrained dimension is at most
        ``DENSE_AUTO_MAX_DIM``, diagonal above (``attrs["dense_mass"]`` says which). A
        dense metric removes linear correlations the diagonal one leaves to NUTS:
        measured against the diagonal one, ESS/s 2.1x on W4, 2.7x on W2, unchanged on
        W1, W3, W5, and 3.5-110x on four posteriordb posteriors of 3 to 26 dimensions
        (eight schools unchanged); see BENCHMARKS.md. Above the threshold the estimate
        from a window's draws is poorly conditioned and each leapfrog step pays a
        ``D x D`` product: there the diagonal stays the default.
    jit : bool
        XLA-compile the sampler (about 2-3x faster on CPU, slower to compile).
    progress : bool
        Show a live progress bar.
    checkpoint : path, optional
        Directory where every finished chunk is saved; rerunning the same call with the same
        directory resumes after the last chunk and gives the same draws as an uninterrupted
        run.  A directory from a different run (another model -- told apart by its
        structure and its log density at fixed points --, data or setting) or with a
        damaged file raises ``ValueError`` naming the directory or file.  On Ctrl-C the
        ``KeyboardInterrupt`` says where the finished chunks are.
    log_likelihood : bool or int
        ``True``: store the pointwise log-likelihood, thinned so that at most
        ``LOG_LIKELIHOOD_BUDGET`` values are kept; an int ``k``: every ``k``-th draw;
        ``False``: none (LOO is then unavailable).
    chunk_size : int
        Most steps per compiled call, the unit of progress updates and checkpoints; calls
        are sized to last about a second up to this cap.  Neither changes the draws (the
        full sampler state is carried between calls).
    chain_method : {"parallel", "vectorized"}
        ``"parallel"``: every chain is its own sampler with its own adaptation, and chains
        run concurrently in threads (one compiled function, called per chain).
        ``"vectorized"``: all chains move in lockstep in one compiled call and share one
        step size and metric, adapted on their pooled draws.  Parallel is faster on a CPU
        (a lockstep transition costs as many gradients as the longest trajectory among the
        chains); vectorized adapts a better metric from short warm-ups. The transition
        kernel follows: bayesquad's lean NUTS for one chain per sampler, TFP's
        ``NoUTurnSampler`` for chains in lockstep (``attrs["kernel"]``: ``"lean"`` or
        ``"tfp"``); both sample multinomially along the trajectory. The lean kernel's
        U-turn test uses the trapezoidal momentum sum (as NumPyro), TFP's its own.
    metric_adaptation : {"stan", "gradient", "low-rank"}
        How each warm-up window's metric is estimated: from the (co)variance of the
        draws (Stan), or, for a diagonal metric, from draws and gradients,
        ``sqrt(var(draws)/var(gradients))`` (nutpie's estimate; a dense metric then still
        uses the draws); ``"low-rank"``: nutpie's diagonal times a correction along the
        directions where draws and gradients show the posterior more than 2x wider or
        narrower than the diagonal says, applied as a dense metric whatever ``dense_mass``
        "auto" would choose (each leapfrog step pays a ``D x D`` product). It estimates
        correlations from windows shorter than the dimension, where the dense estimate
        of the draws alone is noisy: on a 203-dimensional GLMM with centred random
        effects 2.1x the ESS per gradient of the diagonal metric (BENCHMARKS.md). Opt-in:
        on posteriors with funnels the dense representation can strand a chain where
        the diagonal does not (posteriordb's ``accel_gp``).
    quadrature : {"plan", "configured"} or dict
        ``"plan"`` (default): before sampling, every integral left at its distribution's
        default settings gets the cheapest frozen rule that changes the log density by
        at most ``1e-4`` over the Laplace box around the MAP (the starting points without
        a MAP), measured against adaptive references
        (:func:`bayesquad.inference.plan_quadrature`); sampling then evaluates only those
        rules. ``"configured"``: every integral as its distribution is configured (with
        error estimates and statuses). A dict ``{key: Plan}`` (e.g. a previous fit's
        ``plans_from_attrs(dt.attrs)``) applies those plans as given. The plans, their
        measured errors and words for them are in ``attrs["quadrature_plans"]``.
    derived : callable, optional
        ``derived(values) -> {name: array}``: functions of the parameters recorded in the
        posterior group beside them (summaries, ESS and r_hat included). ``values`` holds
        every variable with leading (chain, draw) axes; outputs must keep them. Evaluated
        once after sampling, not in the sampler's loop (see
        :func:`bayesquad.inference._derived.add_derived`).
    bijectors : dict, optional
        ``{name: tfb.Bijector}``: how to map the unconstrained reals the sampler moves in
        onto these variables' supports, instead of their distributions' default
        event-space bijectors, e.g. ``{"tau": tfb.Exp()}`` for a log-scale parameter
        where the default is ``Softplus``, or ``tfb.Sigmoid(low, high)`` for a bounded
        one. No subclassing needed; the choice (an affine or ``tfb.Chain``
        reparameterisation included) changes the geometry NUTS sees, not the posterior.
        Recorded in ``attrs["bijectors"]``.

    Returns
    -------
    Fit
        An ``xarray.DataTree`` that also carries its :class:`Target` and settings. Groups
        ``posterior``, ``sample_stats`` (lp, diverging, energy, step_size, n_steps,
        tree_depth, reach_max_depth, acceptance_rate), ``observed_data``, ``log_likelihood``;
        attrs with versions, seed, settings and wall times.

    Notes
    -----
    Warm-up follows Stan: a fast interval adapting only the step size, doubling slow windows
    each ending with a regularised variance estimate (pooled over chains), a final fast
    interval.  With few warm-up steps (< 150) the windows shrink and the metric can be poor;
    with ``warmup < 20`` it is not adapted.  ``tree_depth`` is derived from the number of
    leapfrog steps as ``ceil(log2(n_steps + 1))``.  ``lp`` is the log density in the
    unconstrained space (with the bijector's log-Jacobian), as Stan's ``lp__``.
    """
    _check_settings(chains, warmup, draws, target_accept, max_tree_depth, init, log_likelihood,
                    chunk_size)
    if metric_adaptation not in _nuts.METRIC_ADAPTATIONS:
        raise ValueError(f"metric_adaptation must be one of {_nuts.METRIC_ADAPTATIONS}, got "
                         f"{metric_adaptation!r}")
    if chain_method not in _chains.CHAIN_METHODS:
        raise ValueError(f"chain_method must be one of {_chains.CHAIN_METHODS}, got "
                         f"{chain_method!r}")
    resolve_dense_mass(dense_mass, 0)  # a bad value is refused before the model is traced
    if metric_adaptation == "low-rank" and dense_mass is False:
        raise ValueError("metric_adaptation='low-rank' is applied as a dense metric (its "
                         "diagonal and low-rank parts in one factor); pass dense_mass=True "
                         "or 'auto', or choose metric_adaptation='gradient' for a diagonal")
    sizes = _chains.group_sizes(chains, chain_method)
    times = {"start": time.perf_counter()}
    target = as_target(model, observed, bijectors=bijectors, seed=seed)
    model, layout, obs = target.working_model, target.layout, target.observed
    bijectors = target.bijectors or None
    dense_mass = (resolve_dense_mass(dense_mass, sum(layout.sizes))
                  or metric_adaptation == "low-rank")
    obs_t = {k: tf.constant(v) for k, v in obs.items()}
    settings = {"inference": "nuts", "chains": chains, "warmup": warmup, "draws": draws,
                "seed": int(seed), "init": init if isinstance(init, str) else "dict",
                "target_accept": float(target_accept), "max_tree_depth": max_tree_depth,
                "dense_mass": int(bool(dense_mass)), "jit": int(bool(jit)), "chunk_size": chunk_size,
                "chain_method": chain_method, "kernel": _nuts.kernel_for(sizes[0]),
                "metric_adaptation": metric_adaptation,
                "names": list(layout.names), "dtype": layout.dtype.name,
                "bijectors": _model.describe_bijectors(layout)}
    stacked, infos, fingerprint = (None, [], None)
    if checkpoint is not None:
        fingerprint = _checkpoint.fingerprint(
            settings, obs, _checkpoint.model_identity(model, layout, obs))
        stacked, infos = _checkpoint.load(
            str(checkpoint), fingerprint, info_names=_nuts.INFO_NAMES,
            state_keys=tuple(_nuts.initial_state(np.zeros((1, 1)), [0, 0], False)))
    init_message = "resumed from checkpoint"
    plans_json = None
    if stacked is None:
        z0, metric, init_message, planning = _initial_points(model, layout, obs, init, chains,
                                                             seed, dense_mass)
        seeds = _chains.group_seeds(_base_seed(seed), len(sizes))
        states = _chains.initial_states(z0, sizes, seeds, dense_mass, metric)
        # before a checkpoint saves the states, so that a resumed run starts from the same
        # values; they also say whether the chains can start at all
        states = _with_start_values(model, layout, obs_t, states, init, dense_mass)
        _check_finite_start(states, obs, init_message)
        if derived is not None:
            # try derived on the starting points now, not after the whole run
            _derived.add_derived(_datatree.constrain_draws(model, layout, obs, z0[:, None]),
                                 derived)
        times["init"] = time.perf_counter()
        plans, plans_json = _choose_plans(quadrature, model, obs, planning, bijectors)
        if checkpoint is not None:
            _checkpoint.save_plans(str(checkpoint), plans_json)
            _checkpoint.save_initial(str(checkpoint), fingerprint, _chains.stack(states))
    else:
        states = _chains.unstack(stacked)
        times["init"] = time.perf_counter()
        plans_json = _checkpoint.load_plans(str(checkpoint))
        plans = _planning.plans_from_attrs({"quadrature_plans": plans_json})
    times["planned"] = time.perf_counter()
    with _plans.applying(plans):
        return _run(model, target, layout, obs, obs_t, states, infos, settings, sizes,
                    chains, warmup, draws, target_accept, max_tree_depth, dense_mass, jit,
                    chunk_size, checkpoint, progress, log_likelihood, times, init_message,
                    plans_json, derived)


def _choose_plans(quadrature, model, obs, points, bijectors=None):
    """``(plans, attrs JSON)`` for ``sample``'s ``quadrature`` argument."""
    if isinstance(quadrature, dict):
        plans = dict(quadrature)
        bad = [k for k, v in plans.items() if not isinstance(v, _plans.Plan)]
        if bad:
            raise TypeError(f"quadrature plans must be bayesquad Plan objects (from a fit's "
                            f"plans_from_attrs or plan_quadrature); {bad} are not")
        return plans, _planning.plans_to_attrs(plans, {"meta": {"given": True}})
    if quadrature == "configured":
        return {}, _planning.plans_to_attrs({}, {"meta": {"configured": True}})
    if quadrature != "plan":
        raise ValueError(f"quadrature must be 'plan', 'configured' or a dict of plans, got "
                         f"{quadrature!r}")
    plans, report = _planning.plan_quadrature(model, obs, points, bijectors=bijectors)
    return plans, _planning.plans_to_attrs(plans, report)


def _run(model, target, layout, obs, obs_t, states, infos, settings, sizes, chains,
         warmup, draws, target_accept, max_tree_depth, dense_mass, jit, chunk_size,
         checkpoint, progress, log_likelihood, times, init_message, plans_json,
         derived=None):
    """Compile, sample and collect, with the quadrature plans in force (the caller's
    context): everything traced here evaluates the planned rules."""
    slow_start, ends = _nuts.warmup_schedule(warmup)
    fixed = (tf.constant(warmup, tf.int32), tf.constant(slow_start, tf.int32),
             tf.constant(_nuts.padded_window_ends(ends)),
             tf.constant(target_accept, layout.dtype))
    run = _compiled(model, layout, sizes[0], chunk_size, max_tree_depth, dense_mass, jit,
                    settings["metric_adaptation"])
    args = ({k: tf.constant(v) for k, v in states[0].items()}, obs_t,
            tf.constant(0, tf.int32), *fixed)
    # Trace here, in this thread (the quadrature plans in force are thread-local) ...
    run.get_concrete_function(*args)
    times["traced"] = time.perf_counter()
    if jit:
        # ... so that this overlaps only the XLA compile; xarray imports dask.array (0.2-0.3
        # s) the first time it builds a dataset wherever dask is installed. (ArviZ is not
        # needed here: the DataTree is built with xarray alone.)
        if importlib.util.find_spec("dask"):
            _import_in_background("dask.array")
    # XLA compiles in C++ without the interpreter lock. sample fills the start values
    # before a checkpoint saves the states; only a state resumed from a checkpoint of an
    # earlier version, saved before its first chunk, still lacks them and is evaluated
    # here, meanwhile. The compile keeps both cores busy much of the time, so only work
    # the fit needs anyway belongs here
    with concurrent.futures.ThreadPoolExecutor(1, "bayesquad-compile") as pool:
        compiled = pool.submit(run, *args)  # n = 0 steps: compile only
        states = _start_gradients(model, layout, obs_t, states, dense_mass)
        compiled.result()
    times["compiled"] = time.perf_counter()

    total = warmup + draws
    step_time = {"warmup": 0.0, "sampling": 0.0}
    # as the verdict counts them: resumed warm-up rows are not divergences of the draws
    divergences = sampling_divergences(infos, warmup)
    try:
        states, divergences = _chains.run_chunks(
            run, states, infos, obs_t, fixed, total, warmup, chunk_size, checkpoint, progress,
            step_time, divergences, window_ends=ends,
            remetric=lambda st: _nuts.remetric(st, dense_mass,
                                               settings["metric_adaptation"]))
    except KeyboardInterrupt:
        if checkpoint is None:
            raise
        # the message travels with the exception, so a caller (the command line) can say
        # it in its own terms
        raise KeyboardInterrupt(
            f"every finished chunk is saved in {str(checkpoint)!r}; call sample again with "
            f"the same arguments and checkpoint to resume there") from None
    times["sampled"] = time.perf_counter()

    trace = _stack_infos(infos, warmup, total, chains)
    posterior = _derived.add_derived(
        _datatree.constrain_draws(model, layout, obs, trace.pop("z")), derived)
    n_steps = trace["n_steps"]
    trace["tree_depth"] = np.ceil(np.log2(n_steps + 1.0)).astype(np.int32)
    ll, ll_draws, thin = _log_likelihood(model, layout, obs, infos, warmup, total, chains,
                                         log_likelihood)
    times["end"] = time.perf_counter()
    attrs = {**{k: (v if not isinstance(v, list) else ",".join(v)) for k, v in settings.items()},
             "init_message": init_message, RUN_ID_ATTR: new_run_id(),
             # the mean over chain groups (one group per chain when parallel)
             "final_step_size": float(np.mean([np.exp(st["log_eps_bar"]) for st in states])),
             "log_likelihood_thin": int(thin),
             "compile_time_s": times["compiled"] - times["planned"],
             # of which tracing the sampler and the model into a graph (Python)
             "trace_time_s": times["traced"] - times["planned"],
             "init_time_s": times["init"] - times["start"],
             "planning_time_s": times["planned"] - times["init"],
             "quadrature_plans": plans_json or "",
             "warmup_time_s": step_time["warmup"], "sampling_time_s": step_time["sampling"],
             "log_likelihood_time_s": times["end"] - times["sampled"],
             "total_time_s": times["end"] - times["start"],
             "quadrature_settings": _quadrature_settings(),
             _derived.DERIVED_ATTR: _derived.derived_names(posterior, layout.names)}
    tree = _datatree.build(observed=obs, posterior=posterior, sample_stats=trace,
                           log_likelihood=ll, log_likelihood_draws=ll_draws, attrs=attrs)
    return Fit.wrap(tree, target, settings)


def _with_start_values(model, layout, obs_t, states, init, dense):
    """The states with the log density and gradient at their points: through the MAP's
    graph function after a MAP start (milliseconds; an eager evaluation takes 30-150 ms on
    W1-W6, a fifth of a later fit of a small model), else eagerly."""
    if init == "map":
        value_and_grad = _map.graph_value_and_grad(model, layout, obs_t)
        if value_and_grad is not None:
            return _nuts.with_start_gradients(states, value_and_grad, dense)
    return _start_gradients(model, layout, obs_t, states, dense)


def _check_finite_start(states, obs, init_message):
    lp = np.concatenate([np.asarray(st["target_lp"]) for st in states])
    if np.all(np.isfinite(lp)):
        return
    padded = [k for k, v in obs.items() if np.asarray(v).dtype.kind == "f"
              and np.isnan(np.asarray(v)).any()]
    hint = (f"; observed {padded} contain NaN, which only PoissonProcess and "
            f"ExtendedUnbinned read (as padding): remove or impute it elsewhere"
            if padded else "")
    raise ValueError(f"the log density is not finite at the initial point of chains "
                     f"{np.flatnonzero(~np.isfinite(lp)).tolist()} (init={init_message!r}); "
                     f"pass init='prior', a dict of valid values, or check the model" + hint)


def _start_gradients(model, layout, obs_t, states, dense):
    """Each state with the log density and gradient at its point where it does not carry
    them yet (see ``_nuts.with_start_gradients``), evaluated eagerly in one batched call:
    cheaper than tracing a function for it (0.1-0.3 s against 0.3-1.4 s on W1-W5)."""
    return _nuts.with_start_gradients(
        states, lambda z: _eager_value_and_grad(model, layout, obs_t)(z), dense)


def _eager_value_and_grad(model, layout, obs_t):
    return _model.value_and_grad_fn(model, layout, obs_t)


def _import_in_background(*names):
    """Import ``names`` in turn in a daemon thread (needed only at the end).

    XLA compiles in C++ without holding the interpreter lock, so an import meanwhile
    overlaps the compile (it shares the cores with it: keep to imports the fit needs;
    ArviZ's cost a first fit more than it saved). Python's import lock makes the later
    ``import`` wait for this one instead of running twice.
    """
    missing = [name for name in names if name not in sys.modules]
    if not missing:
        return

    def run():
        for name in missing:
            importlib.import_module(name)
    threading.Thread(target=run, daemon=True, name="bayesquad-import").start()


def _log_likelihood(model, layout, obs, infos, warmup, total, chains, log_likelihood):
    if log_likelihood is False:
        return None, None, 0
    per_draw = sum(int(np.size(v)) for v in obs.values())
    n_draws = total - warmup
    if log_likelihood is True:
        thin = max(1, math.ceil(chains * n_draws * per_draw / LOG_LIKELIHOOD_BUDGET))
    else:
        thin = int(log_likelihood)
    keep = np.arange(0, n_draws, thin)
    z = np.concatenate([i["z"] for i in infos], axis=0)[warmup:total][keep]
    ll = _datatree.pointwise_log_likelihood(model, layout, obs, np.swapaxes(z, 0, 1))
    return ll, (keep if thin > 1 else None), thin


def _quadrature_settings():
    """What the run's integrals used: each call's own settings, or the reference context."""
    ref = reference_settings_now()
    if ref is None:
        return "per-call (each integrate call's own method and tolerance)"
    return f"reference (rtol={ref.rtol}, max_evals_factor={ref.max_evals_factor})"
