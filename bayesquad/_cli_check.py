"""``bayesquad check``: evaluate a model at prior draws before sampling it.

Warm-up visits the prior's tails: a log density that is NaN or -inf there, a gradient that
overflows, or an integral that stops converging (a peak narrower than the quadrature
nodes, a rate that overflows) stalls or misleads NUTS.  This command finds those points
first and measures what one log density + gradient costs.
"""
import time

import numpy as np

from bayesquad._cli_inputs import InputError, one_line, validate_observed

__all__ = ["run_check"]

_MAX_LISTED = 10  # problem draws printed in full


def _fmt_value(v):
    v = np.asarray(v)
    if v.size == 1:
        return f"{float(v.ravel()[0]):.4g}"
    if v.size <= 3:
        return "[" + ", ".join(f"{float(x):.3g}" for x in v.ravel()) + "]"
    return f"[{'x'.join(map(str, v.shape))}] in [{np.nanmin(v):.3g}, {np.nanmax(v):.3g}]"


def _prior_points(working, layout, obs_t, n, seed):
    """``n`` prior draws of the parameters (observed variables pinned, not sampled).

    Returns the constrained values (list of dicts) and the unconstrained points [n, D].
    """
    from bayesquad._tf import tf, tfp
    from bayesquad.inference import _model
    pinned = working.experimental_pin(**obs_t)
    seeds = tfp.random.split_seed((int(seed), 29), n=n)
    values, zs = [], []
    for i in range(n):
        try:
            draw = pinned.sample_unpinned(seed=seeds[i])
        except Exception as err:  # noqa: BLE001 -- a prior without sample() is the user's
            raise InputError(f"cannot draw from the model's prior: {type(err).__name__}: "
                             f"{one_line(err)}") from err
        vals = dict(zip(layout.names, tf.nest.flatten(draw)))
        values.append({k: v.numpy() for k, v in vals.items()})
        zs.append(_model.unconstrain(working, layout, obs_t, vals).numpy())
    return values, np.stack(zs).astype(layout.dtype.as_numpy_dtype)


def _log_prob_and_gradient(working, layout, obs_t, zs):
    """Per draw: log density, gradient [D] and the error message if evaluation raised."""
    from bayesquad._tf import tf
    from bayesquad.inference import _model
    vg = _model.value_and_grad_fn(working, layout, obs_t)
    dim = zs.shape[1]

    @tf.function(autograph=False, input_signature=[tf.TensorSpec([dim], layout.dtype)])
    def value_and_gradient(z):
        lp, grad = vg(z)
        return lp, (tf.zeros_like(z) if grad is None else grad)

    lps = np.full(len(zs), np.nan)
    grads = np.full(zs.shape, np.nan)
    errors = [None] * len(zs)
    for i, z in enumerate(zs):
        try:
            lp, grad = value_and_gradient(tf.constant(z))
            lps[i], grads[i] = lp.numpy(), grad.numpy()
        except (tf.errors.OpError, ValueError, TypeError) as err:
            errors[i] = f"evaluation raised {type(err).__name__}: {one_line(err)[:200]}"
    return lps, grads, errors


def _statuses(working, layout, obs, obs_t, zs):
    """Integral status codes per draw ``[n, k]`` (``k`` may be 0), or a message."""
    from bayesquad.diagnostics import _quadrature_check as qc
    try:
        # the diagnostics' own walk through the model's distributions
        chunk = qc._chunk_size(len(zs), obs)  # pylint: disable=protected-access
        _, st = qc._evaluate(working, layout, obs_t, zs, chunk)  # pylint: disable=protected-access
    except Exception as err:  # noqa: BLE001 -- report, do not crash: the rest still informs
        return None, f"statuses unavailable ({type(err).__name__}: {one_line(err)[:200]})"
    return np.asarray(st).reshape(len(zs), -1), None


def _cost(working, layout, obs_t, z_ok, jit, chain_counts=(1, 4), budget_s=1.0):
    """``[(chains, compile_s, median_s)]`` for one log density + gradient of a batch."""
    from bayesquad._tf import tf
    from bayesquad.inference import _model
    value_and_gradient = _model.value_and_grad_fn(working, layout, obs_t)
    out = []
    for k in chain_counts:
        # a fresh function per batch size, so that each first call shows its compile time
        f = tf.function(value_and_gradient, jit_compile=bool(jit), autograph=False)
        z = tf.constant(np.resize(z_ok, (k, z_ok.shape[1])))
        tic = time.perf_counter()
        [t.numpy() for t in f(z)]  # noqa: expression-not-assigned (trace + compile)
        compile_s = time.perf_counter() - tic
        times, start = [], time.perf_counter()
        while len(times) < 5 or (time.perf_counter() - start < budget_s and len(times) < 200):
            tic = time.perf_counter()
            [t.numpy() for t in f(z)]  # noqa: expression-not-assigned
            times.append(time.perf_counter() - tic)
        out.append((k, compile_s, float(np.median(times))))
    return out


def _grad_names(layout, bad):
    names, start = [], 0
    for name, size in zip(layout.names, layout.sizes):
        if np.any(bad[start:start + size]):
            names.append(name)
        start += size
    return names


def _problems(values, lps, grads, errors, status, layout):
    """``[(draw, text)]`` for every draw with something a sampler would trip on."""
    from bayesquad.quadrature import Status
    out = []
    for i, vals in enumerate(values):
        what = []
        if errors[i]:
            what.append(errors[i])
        elif not np.isfinite(lps[i]):
            what.append(f"log density {lps[i]}")
        elif not np.all(np.isfinite(grads[i])):
            what.append("gradient not finite in " + ", ".join(
                _grad_names(layout, ~np.isfinite(grads[i]))))
        if status is not None and np.any(status[i] != 0):
            codes = status[i][status[i] != 0]
            kinds = ", ".join(sorted({Status(int(c)).name for c in codes}))
            what.append(f"{codes.size} integral(s) did not converge ({kinds})")
        if what:
            point = " ".join(f"{k}={_fmt_value(v)}" for k, v in vals.items())
            out.append((i, f"{point}: " + "; ".join(what)))
    return out


def run_check(inputs, *, draws=20, seed=0, jit=True, cost=True, echo=print):
    """Run the check on loaded :class:`~bayesquad._cli_inputs.Inputs`; return 0 or 1.

    Parameters
    ----------
    inputs : Inputs
    draws : int
        Prior draws of the parameters (observed variables pinned to the data).
    seed : int
    jit : bool
        Time the XLA-compiled evaluation (as ``sample``'s default) or the graph one.
    cost : bool
        Measure the cost (compiles the log density + gradient once per chain count).
    echo : callable
        Prints one line.

    Returns
    -------
    int
        1 if any draw has a non-finite log density, a non-finite gradient where the log
        density is finite, an evaluation that raised, or an integral whose status is not
        CONVERGED; else 0.

    Notes
    -----
    Integral statuses are found as the diagnostics' quadrature check finds them (through
    ``Independent``/``Sample`` wrappers down to a distribution with
    ``quadrature_status()``); integrals hidden deeper (e.g. inside a ``tfd.Mixture``) are
    not seen, and the report then says none are exposed.  Twenty prior draws probe the
    prior's bulk: a failure region of small prior mass may need ``draws`` in the hundreds.
    The cost is measured at prior draws; integrals with adaptive rules cost more or less
    elsewhere.
    """
    from bayesquad._tf import tf
    working, layout, obs = validate_observed(inputs, seed)
    obs_t = {k: tf.constant(v) for k, v in obs.items()}
    shapes = ", ".join(f"{k} {list(np.shape(v))}" for k, v in obs.items())
    echo(f"bayesquad check: {inputs.name} ({inputs.model_path})")
    echo(f"  data: {inputs.data_path}; observed: {shapes}")
    echo(f"  parameters: {', '.join(layout.names)} ({sum(layout.sizes)} unconstrained "
         f"dimensions)")
    echo(f"  {draws} prior draws (seed {seed}); log density and gradient in the unconstrained "
         f"space the samplers see (log-Jacobian included)")
    echo("")
    values, zs = _prior_points(working, layout, obs_t, draws, seed)
    lps, grads, errors = _log_prob_and_gradient(working, layout, obs_t, zs)
    status, status_note = _statuses(working, layout, obs, obs_t, zs)
    finite = np.isfinite(lps) & np.array([e is None for e in errors])
    grad_ok = finite & np.all(np.isfinite(grads), axis=1)
    echo(f"  log density   finite at {int(finite.sum())} of {draws} draws")
    echo(f"  gradient      finite at {int(grad_ok.sum())} of {int(finite.sum())} draws with a "
         f"finite log density")
    if status_note:
        echo(f"  integrals     {status_note}")
    elif status.shape[1] == 0:
        echo("  integrals     none exposed (no distribution with quadrature_status() found "
             "under the model's variables)")
    else:
        bad = int(np.count_nonzero(status))
        echo(f"  integrals     {bad} of {status.size} did not converge ({status.shape[1]} per "
             f"draw)")
    if cost and finite.any():
        kind = "XLA-compiled" if jit else "tf.function graph, no XLA"
        rows = _cost(working, layout, obs_t, zs[finite], jit)
        per = ", ".join(f"{k} chain{'s' if k > 1 else ''} {t * 1e3:.3g} ms" for k, _, t in rows)
        first = ", ".join(f"{c:.1f} s" for _, c, _ in rows)
        echo(f"  cost          one log density + gradient ({kind}, median at prior draws): "
             f"{per} (first call, with compilation: {first})")
    elif cost:
        echo("  cost          not measured: no prior draw has a finite log density")
    problems = _problems(values, lps, grads, errors, status, layout)
    echo("")
    if not problems:
        echo(f"check: PASSED (no problem at {draws} prior draws)")
        return 0
    echo(f"problems at {len(problems)} of {draws} prior draws:")
    width = len(str(draws - 1))
    for i, text in problems[:_MAX_LISTED]:
        echo(f"  draw {i:>{width}}  {text}")
    if len(problems) > _MAX_LISTED:
        echo(f"  ... and {len(problems) - _MAX_LISTED} more")
    echo("")
    echo(f"check: FAILED (problems at {len(problems)} of {draws} prior draws; samplers "
         f"visit such points during warm-up: tighten the priors, reparameterise, or make the "
         f"integrals robust there)")
    return 1

