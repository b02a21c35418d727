"""The table of checks ``diagnose`` runs, in the verdict's order.

A check is a function ``(inputs: CheckInputs) -> Check or None`` (None: it does not apply
to this fit, e.g. divergences of a VI fit, and the verdict has no row for it) and an
explanation of what its failure means.  Adding one is writing that function (next to the
checks of its kind, or in a module of its own) and one line in :data:`CHECKS`; the
verdict, its JSON, the report's verdict table and its explanations follow from the
record the function returns.
"""
import dataclasses

from bayesquad.diagnostics import _loo, _optimiser_checks as _opt, _sampler_checks as _mcmc
from bayesquad.diagnostics import _quadrature_check as _quad

__all__ = ["CHECKS", "CheckInputs", "CheckSpec", "explanation", "run"]


@dataclasses.dataclass(frozen=True)
class CheckInputs:
    """What every check may read.

    Attributes
    ----------
    datatree : xarray.DataTree
        The fit.
    kind : str
        ``"nuts"``, ``"vi"``, ``"map"``, or another sampler's name (``attrs["inference"]``).
    options : dict
        ``diagnose``'s keyword options by name (``rhat_max``, ``ess_min``, ``ebfmi_min``,
        ``tree_depth_fraction``, ``quadrature_draws``, ``quadrature_tolerance``,
        ``pareto_k_max``, ``gate_on_loo``, ``seed``).
    model : JointDistribution or None
        The model, where ``diagnose`` has one.
    observed : dict or None
        The observed data, where the model is known.
    """

    datatree: object
    kind: str
    options: dict
    model: object = None
    observed: dict = None

    @property
    def mcmc(self):
        """True unless the fit is VI or MAP (draws of a sampler, bayesquad's or another)."""
        return self.kind not in ("vi", "map")

    @property
    def empty(self):
        """True when the posterior group has no draws."""
        sizes = self.datatree.posterior.sizes
        return sizes.get("draw", 0) * sizes.get("chain", 0) == 0


@dataclasses.dataclass(frozen=True)
class CheckSpec:
    """One registered check: its name, the function that runs it, and what a failure means.

    The function's :class:`~bayesquad.diagnostics.Check` carries the same ``name``; its
    ``explanation`` defaults to the one registered here.
    """

    name: str
    run: object
    explanation: str


#: Every check ``diagnose`` runs, in the order of the verdict's rows.
CHECKS = (
    CheckSpec("vi_converged", _opt.vi_converged, _opt.VI_CONVERGED),
    CheckSpec("map_converged", _opt.map_converged, _opt.MAP_CONVERGED),
    CheckSpec("r_hat", _mcmc.r_hat, _mcmc.R_HAT),
    CheckSpec("ess_bulk", _mcmc.ess_bulk, _mcmc.ESS_BULK),
    CheckSpec("ess_tail", _mcmc.ess_tail, _mcmc.ESS_TAIL),
    CheckSpec("sampler", _mcmc.sampler, _mcmc.SAMPLER),
    CheckSpec("divergences", _mcmc.divergences, _mcmc.DIVERGENCES),
    CheckSpec("e_bfmi", _mcmc.e_bfmi, _mcmc.E_BFMI),
    CheckSpec("tree_depth", _mcmc.tree_depth, _mcmc.TREE_DEPTH),
    CheckSpec("quadrature", _quad.quadrature, _quad.QUADRATURE),
    CheckSpec("loo_pareto_k", _loo.loo_pareto_k, _loo.LOO_PARETO_K),
)


def explanation(name):
    """The registered explanation of the check ``name`` ("" when none is registered)."""
    for spec in CHECKS:
        if spec.name == name:
            return spec.explanation
    return ""


def run(inputs):
    """Every registered check that applies, in order; a tuple of ``Check``."""
    out = []
    for spec in CHECKS:
        check = spec.run(inputs)
        if check is None:
            continue
        if check.name != spec.name:
            raise ValueError(f"the check registered as {spec.name!r} returned a check named "
                             f"{check.name!r}")
        out.append(check)
    return tuple(out)
