"""PSIS-LOO per log-likelihood variable, and the ``loo_pareto_k`` check built on it.

ArviZ 1.3 runs PSIS observation by observation in Python (W1's 20,000 events: several
seconds), so it runs once, in the check: the check's ``details`` carry what the report
shows (elpd, se, p_loo, the Pareto k's), and the report reads them there.
"""
import warnings

import numpy as np

from bayesquad.diagnostics._verdict import Check

__all__ = ["LOO_PARETO_K", "PARETO_K_STORED", "loo", "loo_check", "loo_pareto_k",
           "relative_efficiency"]

_NAN = float("nan")
#: Largest number of pointwise terms whose Pareto k's the check keeps in its details (to
#: 3 decimals, ~6 characters each in the stored verdict); beyond, only counts and the
#: largest k.
PARETO_K_STORED = 50_000


def _mean_ess(dataset):
    import arviz as az  # pylint: disable=import-outside-toplevel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant draws: NaN, handled by the caller
        ess = az.ess(dataset, method="mean")
    values = [np.asarray(ess[v].values, float).ravel() for v in ess.data_vars]
    values = np.concatenate(values) if values else np.array([])
    values = values[np.isfinite(values)]
    return float(np.mean(values)) if values.size else float("nan")


def relative_efficiency(datatree, var):
    """LOO's relative efficiency ``r_eff`` of the draws in ``log_likelihood[var]``.

    The mean ESS of the posterior *at the draws the log-likelihood was stored for*,
    divided by their number, capped at 1.

    Parameters
    ----------
    datatree : xarray.DataTree
        With ``posterior`` and ``log_likelihood`` groups.
    var : str
        The log-likelihood variable.

    Returns
    -------
    float
        In ``(0, 1]``; 1.0 when it cannot be estimated (e.g. constant draws).

    Notes
    -----
    ArviZ's default divides the ESS of the whole posterior by the number of stored
    log-likelihood draws; when those are thinned (``sample`` keeps every 10th draw of W1)
    that ratio is the thinning factor times too large (8-24 on W1 instead of ~1), and
    PSIS then fits its Pareto tail to ``3 sqrt(S / r_eff)`` draws instead of ``S / 5``: k
    estimated from ~20 draws, large by chance (a correct W1 fit failed its LOO check at
    2 of 3 seeds).  When the stored draws cannot be matched to the posterior's (draw
    coordinates missing from it, or other chains), the ESS of the summed log-likelihood
    is used instead.  The cap at 1: antithetic draws (ESS > S) would shorten the tail PSIS
    fits, and a shorter tail makes k noisier, not the draws more informative about it.
    """
    ll = datatree.log_likelihood[var]
    n = int(ll.sizes.get("chain", 1)) * int(ll.sizes.get("draw", 1))
    if n < 4:
        return 1.0
    post = datatree.posterior if "posterior" in datatree.children else None
    sub = None
    if (post is not None and post.data_vars and "draw" in ll.coords and "draw" in post.coords
            and post.sizes.get("chain") == ll.sizes.get("chain")):
        wanted = np.asarray(ll["draw"].values)
        if np.isin(wanted, np.asarray(post["draw"].values)).all():
            sub = post.to_dataset().sel(draw=wanted)
    if sub is None:
        obs_dims = [d for d in ll.dims if d not in ("chain", "draw")]
        sub = ll.sum(dim=obs_dims).to_dataset(name="total_log_likelihood")
    ess = _mean_ess(sub)
    if not np.isfinite(ess) or ess <= 0:
        return 1.0
    return float(min(1.0, ess / n))


def loo(datatree, var):
    """``arviz.loo(datatree, pointwise=True, var_name=var, reff=...)``, warnings silenced;
    ``reff`` from :func:`relative_efficiency` (thinned draws counted right)."""
    import arviz as az  # pylint: disable=import-outside-toplevel
    reff = relative_efficiency(datatree, var)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the verdict reports what the warnings say
        return az.loo(datatree, pointwise=True, var_name=var, reff=reff)


def _variable(datatree, var, k_threshold):
    """The details of one log-likelihood variable (``"status"``: ``"ok"``,
    ``"not_applicable"`` or ``"failed"``)."""
    ll = datatree.log_likelihood[var]
    n_terms = int(np.prod([n for d, n in ll.sizes.items() if d not in ("chain", "draw")],
                          dtype=int))
    if n_terms < 2:
        # leaving out the only term leaves no data: LOO does not apply (k is then large by
        # construction, not because the model is wrong)
        return {"status": "not_applicable", "n_terms": n_terms}
    try:
        res = loo(datatree, var)
    except (ValueError, FloatingPointError, IndexError, ZeroDivisionError) as err:
        # e.g. a variable whose likelihood does not depend on the parameters, or too few
        # draws for PSIS's tail fit
        return {"status": "failed", "n_terms": n_terms, "error": str(err)}
    k = np.asarray(res.pareto_k, float).ravel()
    good = float(getattr(res, "good_k", None) or 0.7)
    thr = float(k_threshold) if k_threshold is not None else min(0.7, good)
    n_nan = int(np.count_nonzero(np.isnan(k)))
    return {"status": "ok", "n_terms": int(k.size), "elpd": float(res.elpd),
            "se": float(res.se), "p_loo": float(getattr(res, "p", _NAN)), "good_k": good,
            "threshold": thr, "n_high": int(np.count_nonzero(k > thr)),  # NaN compares False
            "n_nan": n_nan, "max_k": float(np.nanmax(k)) if n_nan < k.size else _NAN,
            "n_good": int(np.count_nonzero(k <= good)),
            "n_bad": int(np.count_nonzero((k > good) & (k <= 1))),
            "n_very_bad": int(np.count_nonzero(k > 1)),
            "pareto_k": np.round(k, 3) if k.size <= PARETO_K_STORED else None}


def _variable_message(var, d):
    if d["status"] == "not_applicable":
        return f"{var}: LOO n/a ({d['n_terms']} pointwise term; it needs >= 2)"
    if d["status"] == "failed":
        return f"{var}: LOO failed ({d['error']})"
    if d["n_nan"] == d["n_terms"]:
        return (f"{var}: Pareto k could not be estimated (NaN) for any of the {d['n_terms']} "
                f"observations, so PSIS-LOO is unusable here (log-likelihood values that vary "
                f"by hundreds of nats across draws overflow the importance ratios)")
    return (f"{var}: elpd_loo {d['elpd']:.2f} ± {d['se']:.2f}, {d['n_high']} of "
            f"{d['n_terms']} Pareto k > {d['threshold']:.2f}"
            + (f", {d['n_nan']} not estimable (NaN)" if d["n_nan"] else ""))


LOO_PARETO_K = ("A high Pareto k marks an observation whose removal would change the "
                "posterior a lot; for it the PSIS-LOO estimate is unreliable. Such points "
                "may be outliers or a sign of a misspecified model. It is a warning about "
                "LOO, not a failed fit, unless diagnose was asked to gate on it "
                "(gate_on_loo=True).")


def loo_check(datatree, pareto_k_max=None, gate=False, var_names=None):
    """PSIS-LOO of every log-likelihood variable; return the ``loo_pareto_k`` check.

    Parameters
    ----------
    datatree : xarray.DataTree
        With ``posterior`` and ``log_likelihood`` groups.
    pareto_k_max : float, optional
        Pareto-k threshold; default ArviZ's sample-size dependent ``good_k`` (<= 0.7).
    gate : bool
        False: k above the threshold is a warning (``passed=None``, status ``"warn"``);
        True: it fails the check.
    var_names : list of str, optional
        The log-likelihood variables to include; default all.

    Returns
    -------
    Check
        Value: the largest k over every variable (NaN when none could be estimated).
        ``details["variables"][var]`` holds each variable's ``status`` (``"ok"``,
        ``"not_applicable"``, ``"failed"`` with ``error``), ``n_terms``, and when it ran
        ``elpd``, ``se``, ``p_loo``, ``good_k``, ``threshold``, ``max_k``, the counts
        ``n_high`` (k > threshold), ``n_nan``, ``n_good`` (k <= good_k), ``n_bad``
        (good_k < k <= 1), ``n_very_bad`` (k > 1) and ``pareto_k`` (each k to 3 decimals,
        or None beyond :data:`PARETO_K_STORED` terms).

    Notes
    -----
    A variable with a single pointwise term (one Poisson-process realisation) has nothing
    to leave out: LOO does not apply to it.  A k that could not be estimated (NaN) counts
    as unreliable, so a check whose k's are all NaN never passes.  High k says that
    PSIS-LOO is unreliable for those observations (influential points or a misspecified
    model), not that sampling failed: hence a warning unless ``gate``.
    """
    if "log_likelihood" not in datatree.children:
        return Check("loo_pareto_k", _NAN, _NAN, None,
                     "not run: no log_likelihood group (sample with log_likelihood=True)",
                     details={"not_run": "no_log_likelihood"})
    names = datatree.log_likelihood.data_vars if var_names is None else var_names
    variables = {str(v): _variable(datatree, v, pareto_k_max) for v in names}
    message = "; ".join(_variable_message(v, d) for v, d in variables.items())
    ran = [d for d in variables.values() if d["status"] == "ok"]
    if not ran:
        return Check("loo_pareto_k", _NAN, _NAN, None, message + ": no LOO estimate",
                     details={"not_run": "no_estimate", "variables": variables})
    worst = [d["max_k"] for d in ran if not np.isnan(d["max_k"])]
    value = float(max(worst)) if worst else _NAN
    threshold = float(ran[-1]["threshold"])
    n_bad = sum(d["n_high"] + d["n_nan"] for d in ran)
    details = {"variables": variables, "n_unreliable": n_bad, "gated": bool(gate)}
    if n_bad == 0:
        return Check("loo_pareto_k", value, threshold, True, message, details=details)
    message += (": PSIS-LOO is unreliable for those observations (influential points or a "
                "misspecified model), not evidence that sampling failed")
    if gate:
        return Check("loo_pareto_k", value, threshold, False, message, details=details)
    return Check("loo_pareto_k", value, threshold, None,
                 message + " (a warning: diagnose(gate_on_loo=True) makes it fail the "
                 "verdict)", warning=True, details=details)


def loo_pareto_k(inputs):
    """The registered LOO check: MCMC fits only (VI and MAP store no pointwise
    log-likelihood); options ``pareto_k_max`` and ``gate_on_loo``."""
    if not inputs.mcmc:
        return None
    return loo_check(inputs.datatree, inputs.options["pareto_k_max"],
                     gate=bool(inputs.options["gate_on_loo"]))
