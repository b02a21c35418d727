"""``bayesquad check``: evaluate a model at prior draws before sampling it.

Warm-up visits the prior's tails: a log density that is NaN or -inf there, a gradient that
overflows, or an integral that stops converging (a peak narrower than the quadrature
nodes, a rate that overflows) stalls or misleads NUTS.  This command finds those points
first and measures what one log density + gradient costs.  An integral that is not
certified only matters where the posterior can go: :mod:`_cli_prior_check` finds the MAP,
probes the integrals there, and tells prior draws the data rule out (a note: the prior
reaches further than it needs to) from draws the posterior can reach (a failure).
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
    """``(log densities [n], statuses [n, k])`` per draw (``k`` may be 0), and a message.

    The message (and None, None) when the statuses could not be read.
    """
    from bayesquad._cli_prior_check import evaluate
    try:
        lp, st = evaluate(working, layout, obs, obs_t, zs)
    except Exception as err:  # noqa: BLE001 -- report, do not crash: the rest still informs
        return None, None, f"statuses unavailable ({type(err).__name__}: {one_line(err)[:200]})"
    return lp, st, None


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


def _kinds(codes):
    from bayesquad.quadrature import Status
    codes = np.asarray(codes)
    return ", ".join(sorted({Status(int(c)).name for c in codes[codes != 0]}))


def _point(values):
    return " ".join(f"{k}={_fmt_value(v)}" for k, v in values.items())


def _failures(values, lps, grads, errors, layout):
    """``{draw: text}`` for non-finite log densities or gradients, and errors."""
    out = {}
    for i in range(len(values)):
        if errors[i]:
            out[i] = errors[i]
        elif not np.isfinite(lps[i]):
            out[i] = f"log density {lps[i]}"
        elif not np.all(np.isfinite(grads[i])):
            out[i] = "gradient not finite in " + ", ".join(
                _grad_names(layout, ~np.isfinite(grads[i])))
    return out


def _below(lp, lp_mode):
    drop = lp_mode - lp
    return "infinitely far" if np.isinf(drop) else f"{drop:.3g}"


def _integral_text(found, j, status_row):
    n_bad = int(np.count_nonzero(status_row))
    text = (f"{n_bad} integral(s) did not converge ({_kinds(status_row)}); log density "
            f"{_below(found.lp[j], found.lp_mode)} below the MAP's")
    if np.isnan(found.lp_ref[j]):
        return text + " (no reference value)"
    change = abs(found.lp_ref[j] - found.lp[j])
    text += (f" (reference at rtol=1e-12: {_below(found.lp_ref[j], found.lp_mode)}"
             + (f"; change {change:.2g})" if np.isfinite(change) else ")"))
    if found.ref_bad[j]:
        text += f", {int(found.ref_bad[j])} reference integral(s) not converged either"
    return text


def _posterior_lines(probe, echo):
    from bayesquad._cli_prior_check import TOLERANCE
    if probe.z_map is None:
        echo(f"  posterior     not probed: {probe.message}")
        return
    n_lap = 0 if probe.laplace_status is None else len(probe.laplace_status)
    k = len(probe.status_map)
    bad = int(np.count_nonzero(probe.status_map)) + (
        0 if probe.laplace_status is None else int(np.count_nonzero(probe.laplace_status)))
    where = f"the MAP and {n_lap} Laplace draws" if n_lap else \
        "the MAP (no Laplace covariance: Hessian not positive definite)"
    echo(f"  posterior     MAP log density {probe.lp_map:.6g} ({probe.message})")
    if k:
        echo(f"                integrals at {where}: {bad} of {k * (1 + n_lap)} did not "
             f"converge")
    if probe.ref_error:
        echo(f"                reference evaluation at the MAP failed: {probe.ref_error}")
    elif np.isfinite(probe.map_change):
        echo(f"                at the MAP, every integral at rtol=1e-12 changes the log density "
             f"by {probe.map_change:.3g} (tolerance {TOLERANCE:g})")
    elif k:
        echo("                (no reference evaluation: nothing failed; fit's quadrature check "
             "compares the integrals with one at posterior draws)")


def _posterior_failures(probe):
    """Failures in the posterior's own region, as ``[(where, text)]``."""
    from bayesquad._cli_prior_check import TOLERANCE
    out = []
    if probe is None or probe.z_map is None:
        return out
    if np.any(probe.status_map):
        out.append(("MAP", f"{int(np.count_nonzero(probe.status_map))} integral(s) did not "
                           f"converge ({_kinds(probe.status_map)})"))
    if np.isfinite(probe.map_change) and probe.map_change > TOLERANCE:
        out.append(("MAP", f"the log density changes by {probe.map_change:.3g} with every "
                           f"integral at rtol=1e-12: the integrals are inaccurate there"))
    elif not np.isfinite(probe.lp_map):
        out.append(("MAP", f"log density {probe.lp_map}"))
    if probe.laplace_status is not None:
        rows = np.flatnonzero(np.any(probe.laplace_status != 0, axis=1))
        if len(rows):
            out.append(("Laplace", f"{len(rows)} of {len(probe.laplace_status)} draws of the "
                                   f"Laplace approximation have integrals that did not "
                                   f"converge ({_kinds(probe.laplace_status[rows])})"))
    return out


def _advice(found, reachable, probe, generic):
    """What to do about the failures: rule or tolerance, or the model."""
    from bayesquad._cli_prior_check import TOLERANCE
    parts = []
    changes = [abs(found.lp_ref[j] - found.lp[j]) for j in reachable]
    if probe is not None and np.isfinite(probe.map_change):
        changes.append(probe.map_change)
    integral_failure = bool(reachable) or bool(_posterior_failures(probe))
    if integral_failure:
        worst = max((c for c in changes if np.isfinite(c)), default=np.nan)
        if np.isfinite(worst) and worst <= TOLERANCE:
            parts.append(f"integrals not certified where the posterior can reach; their "
                         f"values agree with a reference at rtol=1e-12 within {worst:.2g}, so "
                         f"the rule's error estimate is what fails: give it more nodes or "
                         f"panels (or a looser rtol) so that its status reads CONVERGED, "
                         f"which the fit's quadrature check requires")
        else:
            parts.append("integrals inaccurate or not certified where the posterior can "
                         "reach" + (f" (log density off a reference by up to {worst:.2g})"
                                    if np.isfinite(worst) else "")
                         + ": use more nodes or panels, or an adaptive method "
                         "(method='adaptive-gk'), for them")
    if generic:
        parts.append("non-finite values at prior draws, which samplers visit during "
                     "warm-up: tighten the priors, reparameterise, or make the model robust "
                     "there")
    return "; ".join(parts)


def run_check(inputs, *, draws=20, seed=0, jit=True, cost=True, echo=print):
    """Run the check on loaded :class:`~bayesquad._cli_inputs.Inputs`; return 0 or 1.

    Parameters
    ----------
    inputs : Inputs
    draws : int
        Prior draws of the parameters (observed variables pinned to the data), and draws of
        the Laplace approximation at the MAP.
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
        1 if a prior draw has a non-finite log density, a non-finite gradient where the log
        density is finite, or an evaluation that raised; or if an integral is not
        CONVERGED where the posterior can reach (at the MAP, a Laplace draw, or a prior
        draw that is not ruled out by the data), or the integrals change the log density
        at the MAP by more than 0.01 at reference accuracy; else 0.  Integrals that fail
        only at prior draws the data rule out are listed as notes.

    Notes
    -----
    Integral statuses are found as the diagnostics' quadrature check finds them (through
    ``Independent``/``Sample`` wrappers and mixtures down to a distribution with
    ``quadrature_status()``); integrals hidden elsewhere are not seen, and the report then
    says none are exposed.  Twenty prior draws probe the prior's bulk: a failure region of
    small prior mass may need ``draws`` in the hundreds.  A draw is ruled out when its log
    density, by the model's integrals and by a reference at rtol=1e-12 alike, lies more
    than ``chi2.isf(1e-9, D)`` below the highest accurate log density found (see
    :func:`bayesquad._cli_prior_check.reach`).  The cost is measured at prior draws;
    integrals with adaptive rules cost more or less elsewhere.
    """
    from bayesquad._cli_prior_check import classify, probe_posterior
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
    lps_qc, status, status_note = _statuses(working, layout, obs, obs_t, zs)
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
    problem_draws = (np.flatnonzero(np.any(status != 0, axis=1)) if status is not None
                     else np.zeros(0, int))
    probe = probe_posterior(working, layout, obs, obs_t, seed, draws, also=zs[problem_draws])
    _posterior_lines(probe, echo)
    generic = _failures(values, lps, grads, errors, layout)
    clean = grad_ok & (np.all(status == 0, axis=1) if status is not None else True)
    found = classify(sum(layout.sizes), lps_qc if lps_qc is not None else lps, probe,
                     problem_draws, clean)
    if len(found.draws):
        echo(f"  reach         log densities more than {found.threshold:.3g} below the MAP's "
             f"hold no posterior mass (under 1e-9 for a Gaussian posterior in "
             f"{sum(layout.sizes)} dimensions, with a factor-2 margin)")
    if cost and finite.any():
        kind = "XLA-compiled" if jit else "tf.function graph, no XLA"
        rows = _cost(working, layout, obs_t, zs[finite], jit)
        per = ", ".join(f"{k} chain{'s' if k > 1 else ''} {t * 1e3:.3g} ms" for k, _, t in rows)
        first = ", ".join(f"{c:.1f} s" for _, c, _ in rows)
        echo(f"  cost          one log density + gradient ({kind}, median at prior draws): "
             f"{per} (first call, with compilation: {first})")
    elif cost:
        echo("  cost          not measured: no prior draw has a finite log density")
    return _verdict(values, status, found, probe, generic, draws, echo)


def _verdict(values, status, found, probe, generic, draws, echo):
    """Print failures, then notes, then the one-line result; return the exit code."""
    width = len(str(draws - 1))
    failures = [(f"draw {i:>{width}}", f"{_point(values[i])}: {text}")
                for i, text in generic.items()]
    reachable, notes = [], []
    for j, i in enumerate(found.draws):
        if i in generic:
            continue  # listed already; non-finite values fail whatever the reach
        text = f"{_point(values[i])}: {_integral_text(found, j, status[i])}"
        (notes if found.ruled_out[j] else reachable).append((f"draw {i:>{width}}", text, j))
    failures += [(label, text + (": the posterior can reach it" if np.isfinite(found.lp_mode)
                                 else ": not classified (no accurate log density of the mode)")
                  ) for label, text, _ in reachable]
    failures += _posterior_failures(probe)
    if found.ref_error and len(found.draws):
        echo(f"  (the reference evaluation failed: {found.ref_error}; these draws count as "
             f"reachable)")
    echo("")
    if failures:
        echo(f"problems where the posterior can reach ({len(failures)}):")
        column = max(len(label) for label, _ in failures)
        for label, text in failures[:_MAX_LISTED]:
            echo(f"  {label:<{column}}  {text}")
        if len(failures) > _MAX_LISTED:
            echo(f"  ... and {len(failures) - _MAX_LISTED} more")
        echo("")
    if notes:
        echo(f"notes: {len(notes)} of {draws} prior draws have integrals that did not converge "
             f"where the data rule them out:")
        for label, text, _ in notes[:_MAX_LISTED]:
            echo(f"  {label}  {text}")
        if len(notes) > _MAX_LISTED:
            echo(f"  ... and {len(notes) - _MAX_LISTED} more")
        echo("  These say the prior reaches parameter values the data rule out, not that the "
             "fit is affected: the posterior holds no mass there, so these integrals do not "
             "enter the fit (with fit --init prior, a chain may start at such a point and "
             "leave it during warm-up). Tighten the priors of the parameters above towards "
             "the values the data allow to make the notes go away.")
        echo("")
    if failures:
        advice = _advice(found, [j for _, _, j in reachable], probe, bool(generic))
        echo(f"check: FAILED ({len(failures)} problem(s) where the posterior can reach: "
             f"{advice})")
        return 1
    if notes:
        echo(f"check: PASSED (no problem where the posterior can reach; {len(notes)} of "
             f"{draws} prior draws the data rule out have integrals that did not converge: "
             f"see the notes)")
    else:
        echo(f"check: PASSED (no problem at {draws} prior draws or in the posterior's region)")
    return 0
