"""``diagnose``: every check a fit should pass before its numbers are used."""

import numpy as np

from bayesquad.diagnostics import _loo
from bayesquad.diagnostics._quadrature_check import quadrature_check
from bayesquad.diagnostics._verdict import Check, Verdict
from bayesquad.inference import Target

__all__ = ["diagnose"]

_NAN = float("nan")


def _max(ds):
    vals = [np.asarray(ds[v].values, float).ravel() for v in ds.data_vars]
    vals = np.concatenate(vals) if vals else np.array([])
    return float(np.nanmax(vals)) if vals.size and not np.all(np.isnan(vals)) else _NAN


def _min(ds):
    vals = [np.asarray(ds[v].values, float).ravel() for v in ds.data_vars]
    vals = np.concatenate(vals) if vals else np.array([])
    return float(np.nanmin(vals)) if vals.size and not np.all(np.isnan(vals)) else _NAN


def _inference(dt):
    kind = dt.attrs.get("inference")
    if kind:
        return kind
    return "nuts" if "sample_stats" in dt.children else "unknown"


def _frozen(post):
    """``{chain: [variables]}`` of parameters that never moved within a chain.

    Under HMC/NUTS every parameter moves at an accepted transition, so a parameter whose
    draws within a chain are all identical means a chain that rejected everything (a
    collapsed step size, a start where the density is not finite): ESS computed from such
    draws is meaningless (ArviZ reports n, as for independent draws).
    """
    frozen = {}
    for var in post.data_vars:
        a = np.asarray(post[var].transpose("chain", "draw", ...).values)
        if not np.issubdtype(a.dtype, np.number) or a.ndim < 2 or a.shape[1] < 2:
            continue
        a = a.reshape(a.shape[0], a.shape[1], -1)
        same = np.all(a == a[:, :1], axis=1).any(axis=-1)  # NaN != NaN: not "frozen" here
        for chain in np.flatnonzero(same):
            frozen.setdefault(int(chain), []).append(str(var))
    return frozen


def _frozen_message(frozen, post):
    n_draw = post.sizes["draw"]
    names = [str(v) for v in post.data_vars]
    parts = []
    for chain, vars_ in sorted(frozen.items()):
        if len(vars_) == len(names):
            parts.append(f"chain {chain} never moved (all {n_draw} draws identical)")
        else:
            parts.append(f"{', '.join(vars_)} never moved within chain {chain}")
    return ("; ".join(parts) + ": the sampler is stuck (every transition rejected: a "
            "collapsed step size or a start where the log density or its gradient is not "
            "finite); check the model at the start (bayesquad check) and rerun")


def _mixing_checks(post, rhat_max, ess_min):
    """r_hat (split halves for a single chain), bulk and tail ESS; stuck chains fail all."""
    import arviz as az  # pylint: disable=import-outside-toplevel
    frozen = _frozen(post)
    if frozen:
        why = _frozen_message(frozen, post)
        short = "not meaningful: a stuck chain (see r_hat)"
        return [Check("r_hat", _NAN, rhat_max, False, why),
                Check("ess_bulk", _NAN, float(ess_min), False, short),
                Check("ess_tail", _NAN, float(ess_min), False, short)]
    checks = []
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    if n_chain == 1 and n_draw < 8:
        checks.append(Check("r_hat", _NAN, rhat_max, None,
                            f"not run: one chain of {n_draw} draws (it needs >= 8 to compare "
                            "the chain's halves)"))
    else:
        ds = post.to_dataset()
        note = ""
        if n_chain == 1:
            # r_hat of one chain is undefined; its halves, each split again by the
            # rank-normalised split r_hat, still expose drift and a stuck stretch
            half = n_draw // 2
            ds = ds.isel(draw=slice(0, 2 * half))
            ds = ds.coarsen(draw=half).construct(draw=("chain_half", "draw_in_half"))
            ds = (ds.squeeze("chain", drop=True).rename(chain_half="chain",
                                                        draw_in_half="draw"))
            note = (" (one chain, compared in halves: detects drift within it, not a mode "
                    "it never visited; run >= 2 chains)")
        r = _max(az.rhat(ds))
        ok = bool(r <= rhat_max)
        checks.append(Check("r_hat", r, rhat_max, ok,
                            f"largest rank-normalised split r_hat {r:.4f}" + note
                            + ("" if ok else ": chains disagree; run longer or "
                               "reparameterise")))
    for method in ("bulk", "tail"):
        e = _min(az.ess(post.to_dataset(), method=method))
        ok = bool(e >= ess_min)
        checks.append(Check(f"ess_{method}", e, float(ess_min), ok,
                            f"smallest {method} ESS {e:.0f}"
                            + ("" if ok else ": too few effective draws; draw more")))
    return checks


def _mcmc_checks(dt, rhat_max, ess_min, ebfmi_min, depth_fraction):
    import arviz as az  # pylint: disable=import-outside-toplevel
    checks = _mixing_checks(dt.posterior, rhat_max, ess_min)
    if "sample_stats" not in dt.children:
        checks.append(Check("sampler", _NAN, _NAN, None,
                            "not run: no sample_stats group, so divergences, E-BFMI and tree "
                            "depth cannot be checked (a DataTree from another tool, or one "
                            "whose sample_stats were dropped)"))
        return checks
    stats = dt.sample_stats
    if "diverging" in stats:
        n_div = int(stats["diverging"].values.sum())
        total = int(stats["diverging"].size)
        checks.append(Check("divergences", float(n_div), 0.0, n_div == 0,
                            f"{n_div} of {total} transitions diverged"
                            + ("" if n_div == 0 else ": the posterior has regions NUTS cannot "
                               "explore; reparameterise (non-centred) or raise "
                               "target_accept")))
    if "energy" in stats:
        b = float(np.min(az.bfmi(dt)["energy"].values))
        checks.append(Check("e_bfmi", b, ebfmi_min, bool(b >= ebfmi_min),
                            f"smallest E-BFMI over chains {b:.3f}"
                            + ("" if b >= ebfmi_min else ": momentum resampling explores the "
                               "energy poorly; reparameterise")))
    if "reach_max_depth" in stats:
        hits = int(stats["reach_max_depth"].values.sum())
        frac = hits / max(1, int(stats["reach_max_depth"].size))
        depth = dt.attrs.get("max_tree_depth", "max_tree_depth")
        checks.append(Check("tree_depth", frac, depth_fraction, bool(frac <= depth_fraction),
                            f"{hits} transitions ({100 * frac:.2f} %) hit tree depth {depth}"
                            + ("" if frac <= depth_fraction else ": sampling is inefficient; "
                               "raise max_tree_depth or reparameterise")))
    return checks


def _loo_var(dt, var, k_threshold):
    """``(worst k or NaN, threshold, n_unreliable, n_terms, message part, ran)`` for one
    variable; ``ran`` is False when LOO does not apply or could not be computed."""
    ll = dt.log_likelihood
    n_terms = int(np.prod([n for d, n in ll[var].sizes.items() if d not in ("chain", "draw")],
                          dtype=int))
    if n_terms < 2:
        # leaving out the only term leaves no data: LOO does not apply (k is then large by
        # construction, not because the model is wrong)
        return (_NAN, _NAN, 0, n_terms,
                f"{var}: LOO n/a ({n_terms} pointwise term; it needs >= 2)", False)
    try:
        res = _loo.loo(dt, var)
    except (ValueError, FloatingPointError, IndexError, ZeroDivisionError) as err:
        # e.g. a variable whose likelihood does not depend on the parameters, or too few
        # draws for PSIS's tail fit
        return _NAN, _NAN, 0, n_terms, f"{var}: LOO failed ({err})", False
    k = np.asarray(res.pareto_k, float).ravel()
    good = getattr(res, "good_k", None)
    thr = float(k_threshold) if k_threshold is not None else min(0.7, float(good or 0.7))
    n_nan = int(np.count_nonzero(np.isnan(k)))
    n_high = int(np.count_nonzero(k > thr))  # NaN compares False
    worst = float(np.nanmax(k)) if n_nan < k.size else _NAN
    if n_nan == k.size:
        msg = (f"{var}: Pareto k could not be estimated (NaN) for any of the {k.size} "
               f"observations, so PSIS-LOO is unusable here (log-likelihood values that vary "
               f"by hundreds of nats across draws overflow the importance ratios)")
    else:
        msg = (f"{var}: elpd_loo {float(res.elpd):.2f} ± {float(res.se):.2f}, {n_high} of "
               f"{k.size} Pareto k > {thr:.2f}")
        if n_nan:
            msg += f", {n_nan} not estimable (NaN)"
    return worst, thr, n_high + n_nan, k.size, msg, True


def _loo_check(dt, k_threshold, gate=False):
    """The ``loo_pareto_k`` check: a warning, or with ``gate`` a pass/fail, on high k."""
    if "log_likelihood" not in dt.children:
        return Check("loo_pareto_k", _NAN, _NAN, None,
                     "not run: no log_likelihood group (sample with log_likelihood=True)")
    worst, thr, n_bad, parts, ran = _NAN, 0.7, 0, [], False
    for var in dt.log_likelihood.data_vars:
        w, t, bad, _, msg, ok = _loo_var(dt, var, k_threshold)
        parts.append(msg)
        if ok:
            ran, n_bad, thr = True, n_bad + bad, t
            worst = float(np.nanmax([worst, w])) if not np.isnan(w) else worst
    msg = "; ".join(parts)
    if not ran:
        return Check("loo_pareto_k", _NAN, _NAN, None, msg + ": no LOO estimate")
    if n_bad == 0:
        return Check("loo_pareto_k", worst, float(thr), True, msg)
    msg += (": PSIS-LOO is unreliable for those observations (influential points or a "
            "misspecified model), not evidence that sampling failed")
    if gate:
        return Check("loo_pareto_k", worst, float(thr), False, msg)
    return Check("loo_pareto_k", worst, float(thr), None,
                 msg + " (a warning: diagnose(gate_on_loo=True) makes it fail the verdict)",
                 warning=True)


def diagnose(datatree, model=None, observed=None, *, rhat_max=1.01, ess_min=400,
             ebfmi_min=0.3, tree_depth_fraction=0.01, quadrature_draws=20,
             quadrature_tolerance=0.01, pareto_k_max=None, gate_on_loo=False, seed=0):
    """Check a fit; return a :class:`Verdict` (``.passed``, ``str()`` prints a table).

    Parameters
    ----------
    datatree : Fit or xarray.DataTree
        From ``bayesquad.sample``, ``fit_vi`` or ``find_map(...).datatree`` (a
        :class:`~bayesquad.inference.Fit`), from :func:`~bayesquad.inference.load_fit`, or
        any DataTree with ArviZ groups.
    model : JointDistribution or Target, optional
        Needed by the quadrature check.  Defaults to the Fit's own Target; a plain
        DataTree (read from disk with ArviZ) has none, and the check then reports
        "not run".
    observed : dict, optional
        Defaults to the DataTree's ``observed_data`` group.
    rhat_max, ess_min, ebfmi_min : float
        Thresholds (r_hat <= 1.01, bulk and tail ESS >= 400, E-BFMI >= 0.3).
    tree_depth_fraction : float
        Largest acceptable fraction of transitions that hit the maximum tree depth.
    quadrature_draws, quadrature_tolerance : int, float
        Draws re-evaluated by the quadrature check and the largest allowed change of the log
        density.
    pareto_k_max : float, optional
        Pareto-k threshold; default ArviZ's sample-size dependent ``good_k`` (<= 0.7).
    gate_on_loo : bool
        False (default): Pareto k above the threshold is a *warning* (status ``warn``),
        which never fails the verdict: it says that PSIS-LOO is unreliable for some
        observations, not that the fit failed.  True: it fails the verdict.
    seed : int
        Seeds the choice of draws for the quadrature check.

    Returns
    -------
    Verdict
        Checks ``r_hat``, ``ess_bulk``, ``ess_tail``, ``divergences``, ``e_bfmi``,
        ``tree_depth``, ``quadrature`` and ``loo_pareto_k`` for NUTS; ``vi_converged`` or
        ``map_converged`` and ``quadrature`` for VI and MAP.  Without a ``sample_stats``
        group (another tool's draws) the sampler checks are one ``sampler`` row, n/a.

    Raises
    ------
    TypeError
        If ``datatree`` is not an ``xarray.DataTree``.
    ValueError
        If it has no ``posterior`` group, or no ``observed_data`` when ``observed`` is
        needed and not given.

    Notes
    -----
    Passing checks are necessary, not sufficient: a sampler can miss a mode that no chain
    found, and r_hat/ESS from few draws (< 100 per chain) are themselves noisy.
    LOO uses the stored (possibly thinned) pointwise log-likelihood; thinning leaves it
    unbiased but noisier.  A variable with a single pointwise term (one Poisson-process
    realisation) has nothing to leave out: its LOO is reported as n/a.  A chain in which a
    parameter never moves fails r_hat and both ESS checks (ArviZ would report ESS = n for
    it).  With a single chain, r_hat compares its halves: drift within the chain shows,
    a mode it never visited does not.
    """
    import xarray as xr  # pylint: disable=import-outside-toplevel
    if not isinstance(datatree, xr.DataTree):
        raise TypeError(f"datatree must be an xarray.DataTree (the result of "
                        f"bayesquad.sample or fit_vi, find_map(...).datatree, or "
                        f"arviz.from_netcdf / arviz.from_dict for other draws), got "
                        f"{type(datatree).__name__}")
    if not isinstance(gate_on_loo, (bool, np.bool_)):
        raise TypeError(f"gate_on_loo must be True or False, got {gate_on_loo!r}")
    if pareto_k_max is not None and not float(pareto_k_max) > 0:
        raise ValueError(f"pareto_k_max must be > 0 (or None for ArviZ's good_k), got "
                         f"{pareto_k_max!r}")
    kind = _inference(datatree)
    if "posterior" not in datatree.children:
        raise ValueError("datatree has no posterior group; pass the result of sample, fit_vi "
                         "or find_map(...).datatree")
    empty = datatree.posterior.sizes.get("draw", 0) * datatree.posterior.sizes.get("chain", 0) == 0
    checks = []
    if kind == "vi":
        ok = bool(datatree.attrs.get("vi_converged", 0))
        rel = float(datatree.attrs.get("vi_relative_change", _NAN))
        tol = float(datatree.attrs.get("vi_tolerance", _NAN))
        checks.append(Check("vi_converged", rel, tol, ok,
                            f"relative ELBO change {rel:.3g} over the last windows"
                            + ("" if ok else ": not converged; raise steps")))
    elif kind == "map":
        ok = bool(datatree.attrs.get("map_converged", 0))
        checks.append(Check("map_converged", float(ok), 1.0, ok,
                            str(datatree.attrs.get("map_message", ""))))
    elif empty:
        checks.append(Check("r_hat", _NAN, rhat_max, None,
                            "not run: the posterior group has no draws"))
    else:
        checks.extend(_mcmc_checks(datatree, rhat_max, ess_min, ebfmi_min,
                                   tree_depth_fraction))
    if model is None:
        model = getattr(datatree, "target", None)  # a Fit carries its Target
    if model is None:
        checks.append(Check("quadrature", _NAN, quadrature_tolerance, None,
                            "not run: pass model=... (a DataTree read from disk does not "
                            "carry its model; bayesquad.load_fit(path, model) does)"))
    elif empty:
        checks.append(Check("quadrature", _NAN, quadrature_tolerance, None,
                            "not run: the posterior group is empty"))
    elif isinstance(model, Target) and observed is None:
        checks.append(quadrature_check(datatree, model, None, draws=quadrature_draws,
                                       tolerance=quadrature_tolerance, seed=seed))
    else:
        if observed is None:
            if "observed_data" not in datatree.children:
                raise ValueError("datatree has no observed_data group: pass observed=...")
            od = datatree.observed_data
            observed = {v: od[v].values for v in od.data_vars}
        checks.append(quadrature_check(datatree, model, observed, draws=quadrature_draws,
                                       tolerance=quadrature_tolerance, seed=seed))
    if kind not in ("vi", "map"):
        checks.append(_loo_check(datatree, pareto_k_max, gate=bool(gate_on_loo)))
    return Verdict(tuple(checks))
