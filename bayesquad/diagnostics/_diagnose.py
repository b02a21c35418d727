"""``diagnose``: every check a fit should pass before its numbers are used."""

import numpy as np

from bayesquad.diagnostics import _checks
from bayesquad.diagnostics._verdict import Verdict
from bayesquad.inference import Target

__all__ = ["diagnose"]


def _inference(dt):
    kind = dt.attrs.get("inference")
    if kind:
        return kind
    return "nuts" if "sample_stats" in dt.children else "unknown"


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
        One :class:`Check` per registered check that applies (``_checks.CHECKS``, in its
        order), each with structured ``details``: ``r_hat``, ``ess_bulk``, ``ess_tail``,
        ``divergences``, ``e_bfmi``, ``tree_depth``, ``quadrature`` and ``loo_pareto_k`` for
        NUTS; ``vi_converged`` or ``map_converged`` and ``quadrature`` for VI and MAP.
        Without a ``sample_stats`` group (another tool's draws) the sampler checks are one
        ``sampler`` row, n/a.

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
    a mode it never visited does not.  Each check is a function of a
    ``_checks.CheckInputs`` (the DataTree, its kind, these options, the model and observed
    data); a new one is that function and one line in ``_checks.CHECKS``.
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
    if model is None:
        model = getattr(datatree, "target", None)  # a Fit carries its Target
    if isinstance(model, Target) and observed is None:
        observed = model.observed
    if model is not None and not empty and observed is None:
        if "observed_data" not in datatree.children:
            raise ValueError("datatree has no observed_data group: pass observed=...")
        od = datatree.observed_data
        observed = {v: od[v].values for v in od.data_vars}
    options = {"rhat_max": rhat_max, "ess_min": ess_min, "ebfmi_min": ebfmi_min,
               "tree_depth_fraction": tree_depth_fraction,
               "quadrature_draws": quadrature_draws,
               "quadrature_tolerance": quadrature_tolerance, "pareto_k_max": pareto_k_max,
               "gate_on_loo": bool(gate_on_loo), "seed": seed}
    inputs = _checks.CheckInputs(datatree, kind, options, model, observed)
    return Verdict(_checks.run(inputs))
