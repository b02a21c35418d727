"""The MCMC checks: mixing (r_hat, bulk and tail ESS) and the sampler's own statistics.

Each check is a function ``(inputs) -> Check or None`` (None: it does not apply to this
fit, and the verdict has no row for it) with its explanation next to it; the registry
(``_checks.CHECKS``) lists them in the verdict's order.
"""
import numpy as np

from bayesquad.diagnostics._verdict import Check

__all__ = ["R_HAT", "ESS_BULK", "ESS_TAIL", "SAMPLER", "DIVERGENCES", "E_BFMI", "TREE_DEPTH",
           "r_hat", "ess_bulk", "ess_tail", "sampler", "divergences", "e_bfmi", "tree_depth"]

_NAN = float("nan")


def _reduce(ds, how):
    vals = [np.asarray(ds[v].values, float).ravel() for v in ds.data_vars]
    vals = np.concatenate(vals) if vals else np.array([])
    return float(how(vals)) if vals.size and not np.all(np.isnan(vals)) else _NAN


def _mcmc_draws(inputs):
    """The posterior when the MCMC checks apply and there are draws to check, else None."""
    if not inputs.mcmc or inputs.empty:
        return None
    return inputs.datatree.posterior


def stuck_chains(post):
    """``[{"chain": c, "variables": [...], "all": bool}]``: parameters that never moved.

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
    n_vars = len(post.data_vars)
    return [{"chain": c, "variables": v, "all": len(v) == n_vars}
            for c, v in sorted(frozen.items())]


def _stuck_message(stuck, n_draw):
    parts = [f"chain {s['chain']} never moved (all {n_draw} draws identical)" if s["all"]
             else f"{', '.join(s['variables'])} never moved within chain {s['chain']}"
             for s in stuck]
    return ("; ".join(parts) + ": the sampler is stuck (every transition rejected: a "
            "collapsed step size or a start where the log density or its gradient is not "
            "finite); check the model at the start (bayesquad check) and rerun")


R_HAT = ("R-hat compares the spread within each chain with the spread between chains. Above "
         "the threshold the chains have not settled on the same distribution, so the "
         "posterior summaries cannot be trusted yet: run longer chains or reparameterise the "
         "model.")


def r_hat(inputs):
    """Largest rank-normalised split r_hat; a single chain is compared in halves.

    Notes
    -----
    r_hat of one chain is undefined; its halves, each split again by the rank-normalised
    split r_hat, still expose drift and a stuck stretch (not a mode it never visited).
    A stuck chain fails it, with the chains and variables in ``details["stuck"]``.
    """
    import arviz as az  # pylint: disable=import-outside-toplevel
    threshold = float(inputs.options["rhat_max"])
    if not inputs.mcmc:
        return None
    if inputs.empty:
        return Check("r_hat", _NAN, threshold, None, "not run: the posterior group has no draws",
                     details={"not_run": "no_draws"})
    post = inputs.datatree.posterior
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    stuck = stuck_chains(post)
    if stuck:
        return Check("r_hat", _NAN, threshold, False, _stuck_message(stuck, n_draw),
                     details={"stuck": stuck, "n_draws": n_draw})
    if n_chain == 1 and n_draw < 8:
        return Check("r_hat", _NAN, threshold, None,
                     f"not run: one chain of {n_draw} draws (it needs >= 8 to compare the "
                     "chain's halves)", details={"not_run": "too_few_draws", "n_draws": n_draw})
    ds = post.to_dataset()
    if n_chain == 1:
        half = n_draw // 2
        ds = ds.isel(draw=slice(0, 2 * half))
        ds = ds.coarsen(draw=half).construct(draw=("chain_half", "draw_in_half"))
        ds = ds.squeeze("chain", drop=True).rename(chain_half="chain", draw_in_half="draw")
    value = _reduce(az.rhat(ds), np.nanmax)
    ok = bool(value <= threshold)
    message = f"largest rank-normalised split r_hat {value:.4f}"
    if n_chain == 1:
        message += (" (one chain, compared in halves: detects drift within it, not a mode it "
                    "never visited; run >= 2 chains)")
    if not ok:
        message += ": chains disagree; run longer or reparameterise"
    return Check("r_hat", value, threshold, ok, message,
                 details={"n_chains": n_chain, "n_draws": n_draw, "halves": n_chain == 1})


def _ess(inputs, method):
    import arviz as az  # pylint: disable=import-outside-toplevel
    post = _mcmc_draws(inputs)
    if post is None:
        return None
    name, threshold = f"ess_{method}", float(inputs.options["ess_min"])
    if stuck_chains(post):
        return Check(name, _NAN, threshold, False, "not meaningful: a stuck chain (see r_hat)",
                     details={"stuck": True})
    value = _reduce(az.ess(post.to_dataset(), method=method), np.nanmin)
    ok = bool(value >= threshold)
    return Check(name, value, threshold, ok, f"smallest {method} ESS {value:.0f}"
                 + ("" if ok else ": too few effective draws; draw more"),
                 details={"method": method})


ESS_BULK = ("The bulk effective sample size is how many independent draws the chains are "
            "worth for means and medians. Too few make those estimates noisy: draw more.")


def ess_bulk(inputs):
    """Smallest bulk ESS over every parameter element."""
    return _ess(inputs, "bulk")


ESS_TAIL = ("The tail effective sample size is the same for the 5 % and 95 % quantiles: with "
            "too few, credible intervals are unreliable. Draw more.")


def ess_tail(inputs):
    """Smallest tail ESS (5 % and 95 % quantiles) over every parameter element."""
    return _ess(inputs, "tail")


def _stats(inputs, variable):
    """``sample_stats[variable]`` when the MCMC checks apply and it exists, else None."""
    dt = inputs.datatree
    if _mcmc_draws(inputs) is None or "sample_stats" not in dt.children:
        return None
    stats = dt.sample_stats
    return stats[variable] if variable in stats else None


SAMPLER = ("Draws without the sampler's statistics (another tool's DataTree, or one whose "
           "sample_stats group was dropped) cannot be checked for divergences, E-BFMI or "
           "tree depth.")


def sampler(inputs):
    """A single n/a row standing for the sampler checks when there is no ``sample_stats``."""
    if _mcmc_draws(inputs) is None or "sample_stats" in inputs.datatree.children:
        return None
    return Check("sampler", _NAN, _NAN, None,
                 "not run: no sample_stats group, so divergences, E-BFMI and tree depth cannot "
                 "be checked (a DataTree from another tool, or one whose sample_stats were "
                 "dropped)", details={"not_run": "no_sample_stats"})


DIVERGENCES = ("A divergent transition means the sampler met curvature it could not follow. "
               "The regions it avoided are missing from the draws, which biases the "
               "posterior: reparameterise (e.g. non-centred) or raise target_accept.")


def divergences(inputs):
    """Number of divergent transitions after warm-up (threshold 0)."""
    diverging = _stats(inputs, "diverging")
    if diverging is None:
        return None
    n_div, total = int(diverging.values.sum()), int(diverging.size)
    return Check("divergences", float(n_div), 0.0, n_div == 0,
                 f"{n_div} of {total} transitions diverged"
                 + ("" if n_div == 0 else ": the posterior has regions NUTS cannot explore; "
                    "reparameterise (non-centred) or raise target_accept"),
                 details={"n_divergent": n_div, "n_transitions": total})


E_BFMI = ("A low E-BFMI (energy Bayesian fraction of missing information) means the sampler's "
          "momentum resampling explores the energy distribution poorly, so chains can miss "
          "parts of a heavy-tailed posterior: reparameterise.")


def e_bfmi(inputs):
    """Smallest E-BFMI over chains; ``details["per_chain"]`` has each chain's."""
    import arviz as az  # pylint: disable=import-outside-toplevel
    if _stats(inputs, "energy") is None:
        return None
    per_chain = np.asarray(az.bfmi(inputs.datatree)["energy"].values, float).ravel()
    value, threshold = float(np.min(per_chain)), float(inputs.options["ebfmi_min"])
    ok = bool(value >= threshold)
    return Check("e_bfmi", value, threshold, ok, f"smallest E-BFMI over chains {value:.3f}"
                 + ("" if ok else ": momentum resampling explores the energy poorly; "
                    "reparameterise"), details={"per_chain": per_chain})


TREE_DEPTH = ("Transitions that hit the maximum tree depth were cut short: sampling is "
              "inefficient and may explore poorly. Raise max_tree_depth or reparameterise.")


def tree_depth(inputs):
    """Fraction of transitions that hit the maximum tree depth."""
    reached = _stats(inputs, "reach_max_depth")
    if reached is None:
        return None
    hits = int(reached.values.sum())
    n = int(reached.size)
    frac, threshold = hits / max(1, n), float(inputs.options["tree_depth_fraction"])
    depth = inputs.datatree.attrs.get("max_tree_depth")
    ok = bool(frac <= threshold)
    return Check("tree_depth", frac, threshold, ok,
                 f"{hits} transitions ({100 * frac:.2f} %) hit tree depth "
                 f"{'max_tree_depth' if depth is None else depth}"
                 + ("" if ok else ": sampling is inefficient; raise max_tree_depth or "
                    "reparameterise"),
                 details={"hits": hits, "n_transitions": n,
                          "max_tree_depth": depth})
