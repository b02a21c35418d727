"""``diagnose``: every check a fit should pass before its numbers are used."""

import numpy as np

from bayesquad.diagnostics import _loo
from bayesquad.diagnostics._quadrature_check import quadrature_check
from bayesquad.diagnostics._verdict import Check, Verdict
from bayesquad.inference import _registry

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


def _mcmc_checks(dt, rhat_max, ess_min, ebfmi_min, depth_fraction):
    import arviz as az
    checks = []
    n_chain = dt.posterior.sizes["chain"]
    if n_chain < 2:
        checks.append(Check("r_hat", _NAN, rhat_max, None, "needs at least 2 chains"))
    else:
        r = _max(az.rhat(dt))
        checks.append(Check("r_hat", r, rhat_max, bool(r <= rhat_max),
                            f"largest rank-normalised split r_hat {r:.4f}"
                            + ("" if r <= rhat_max else ": chains disagree; run longer or "
                               "reparameterise")))
    for method in ("bulk", "tail"):
        e = _min(az.ess(dt, method=method))
        checks.append(Check(f"ess_{method}", e, float(ess_min), bool(e >= ess_min),
                            f"smallest {method} ESS {e:.0f}"
                            + ("" if e >= ess_min else ": too few effective draws; "
                               "draw more")))
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


def _loo_check(dt, k_threshold):
    if "log_likelihood" not in dt.children:
        return Check("loo_pareto_k", _NAN, _NAN, None,
                     "not run: no log_likelihood group (sample with log_likelihood=True)")
    worst, thr, parts, failed, ran = -np.inf, 0.7, [], False, False
    ll = dt.log_likelihood
    for var in ll.data_vars:
        n_terms = int(np.prod([n for d, n in ll[var].sizes.items()
                               if d not in ("chain", "draw")], dtype=int))
        if n_terms < 2:
            # leaving out the only term leaves no data: LOO does not apply (k is then
            # large by construction, not because the model is wrong)
            parts.append(f"{var}: LOO n/a ({n_terms} pointwise term; it needs >= 2)")
            continue
        ran = True
        try:
            res = _loo.loo(dt, var)
        except (ValueError, FloatingPointError) as err:
            # e.g. a variable whose likelihood does not depend on the parameters
            parts.append(f"{var}: LOO failed ({err})")
            failed = True
            continue
        k = np.asarray(res.pareto_k).ravel()
        good = getattr(res, "good_k", None)
        thr = float(k_threshold) if k_threshold is not None else min(0.7, float(good or 0.7))
        n_bad = int(np.sum(k > thr))
        worst = max(worst, float(np.nanmax(k)) if k.size else -np.inf)
        parts.append(f"{var}: elpd_loo {float(res.elpd):.2f} ± {float(res.se):.2f}, "
                     f"{n_bad} of {k.size} Pareto k > {thr:.2f}")
    if not ran:
        return Check("loo_pareto_k", _NAN, _NAN, None,
                     "; ".join(parts) + ": a log-likelihood of one term per variable "
                     "(e.g. one Poisson-process realisation) has nothing to leave out")
    passed = bool(worst <= thr)
    if failed and passed:
        passed = None
    # only a measured large k says something about the observations; a LOO that could
    # not run (passed None) says nothing about them
    msg = "; ".join(parts) + ("" if passed is not False else
                              ": LOO is unreliable for those observations (influential "
                              "points or a misspecified model)")
    return Check("loo_pareto_k", worst, float(thr), passed, msg)


def diagnose(datatree, model=None, observed=None, *, rhat_max=1.01, ess_min=400,
             ebfmi_min=0.3, tree_depth_fraction=0.01, quadrature_draws=20,
             quadrature_tolerance=0.01, pareto_k_max=None, seed=0):
    """Check a fit; return a :class:`Verdict` (``.passed``, ``str()`` prints a table).

    Parameters
    ----------
    datatree : xarray.DataTree
        From ``bayesquad.sample``, ``fit_vi`` or ``find_map(...).datatree``.
    model : JointDistribution, optional
        Needed by the quadrature check.  Defaults to the model that produced ``datatree``
        in this process (remembered weakly by the fit); a DataTree read from disk has none,
        and the check then reports "not run".
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
    seed : int
        Seeds the choice of draws for the quadrature check.

    Returns
    -------
    Verdict
        Checks ``r_hat``, ``ess_bulk``, ``ess_tail``, ``divergences``, ``e_bfmi``,
        ``tree_depth``, ``quadrature`` and ``loo_pareto_k`` for NUTS; ``vi_converged`` or
        ``map_converged`` and ``quadrature`` for VI and MAP.

    Notes
    -----
    Passing checks are necessary, not sufficient: a sampler can miss a mode that no chain
    found, and r_hat/ESS from few draws (< 100 per chain) are themselves noisy.
    LOO uses the stored (possibly thinned) pointwise log-likelihood; thinning leaves it
    unbiased but noisier.  A variable with a single pointwise term (one Poisson-process
    realisation) has nothing to leave out: its LOO is reported as n/a.
    """
    kind = _inference(datatree)
    if "posterior" not in datatree.children:
        raise ValueError("datatree has no posterior group; pass the result of sample, fit_vi "
                         "or find_map(...).datatree")
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
    else:
        checks.extend(_mcmc_checks(datatree, rhat_max, ess_min, ebfmi_min,
                                   tree_depth_fraction))
    if model is None:
        model = _registry.lookup(datatree)
    if model is None:
        checks.append(Check("quadrature", _NAN, quadrature_tolerance, None,
                            "not run: pass model=... (a DataTree does not carry its model)"))
    elif datatree.posterior.sizes.get("draw", 0) == 0:
        checks.append(Check("quadrature", _NAN, quadrature_tolerance, None,
                            "not run: the posterior group is empty"))
    else:
        if observed is None:
            if "observed_data" not in datatree.children:
                raise ValueError("datatree has no observed_data group: pass observed=...")
            od = datatree.observed_data
            observed = {v: od[v].values for v in od.data_vars}
        checks.append(quadrature_check(datatree, model, observed, draws=quadrature_draws,
                                       tolerance=quadrature_tolerance, seed=seed))
    if kind not in ("vi", "map"):
        checks.append(_loo_check(datatree, pareto_k_max))
    return Verdict(tuple(checks))
