"""PSIS-LOO per log-likelihood variable, computed once per array and shared.

``diagnose`` and the report both need LOO; ArviZ 1.3 runs PSIS observation by observation in
Python (W1's 20,000 events: several seconds), so the result is kept for the few most recent
arrays, keyed by the array object itself (held, so its id cannot be reused).
"""
import collections
import warnings

import numpy as np

__all__ = ["loo", "relative_efficiency"]

_RECENT = collections.OrderedDict()
_KEEP = 4


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
    """``arviz.loo(datatree, pointwise=True, var_name=var, reff=...)``, warnings silenced,
    cached; ``reff`` from :func:`relative_efficiency` (thinned draws counted right)."""
    import arviz as az  # pylint: disable=import-outside-toplevel
    values = datatree.log_likelihood[var].values
    key = (id(values), values.shape, var)
    hit = _RECENT.get(key)
    if hit is not None and hit[0] is values:
        _RECENT.move_to_end(key)
        return hit[1]
    reff = relative_efficiency(datatree, var)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the verdict reports what the warnings say
        result = az.loo(datatree, pointwise=True, var_name=var, reff=reff)
    _RECENT[key] = (values, result)
    while len(_RECENT) > _KEEP:
        _RECENT.popitem(last=False)
    return result
