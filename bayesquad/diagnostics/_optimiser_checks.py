"""The convergence checks of the optimisation-based fits: VI and MAP.

Each check is a function ``(inputs) -> Check or None`` with its explanation next to it;
the registry (``_checks.CHECKS``) lists them.
"""
from bayesquad.diagnostics._verdict import Check

__all__ = ["VI_CONVERGED", "MAP_CONVERGED", "vi_converged", "map_converged"]

_NAN = float("nan")

VI_CONVERGED = ("The ELBO was still changing at the end of the optimisation: the variational "
                "approximation has not converged. Raise steps.")


def vi_converged(inputs):
    """The relative change of the ELBO over the last windows, against ``fit_vi``'s tolerance.

    Notes
    -----
    The fit decides convergence and records it in the DataTree's attrs (``vi_converged``,
    ``vi_relative_change``, ``vi_tolerance``); the check reads them back.
    """
    if inputs.kind != "vi":
        return None
    attrs = inputs.datatree.attrs
    ok = bool(attrs.get("vi_converged", 0))
    change = float(attrs.get("vi_relative_change", _NAN))
    tolerance = float(attrs.get("vi_tolerance", _NAN))
    return Check("vi_converged", change, tolerance, ok,
                 f"relative ELBO change {change:.3g} over the last windows"
                 + ("" if ok else ": not converged; raise steps"))


MAP_CONVERGED = ("The optimiser stopped before it reached a proper mode: the MAP point and its "
                 "Laplace approximation may be wrong.")


def map_converged(inputs):
    """Whether the optimiser reported convergence (value 1.0 or 0.0, threshold 1.0).

    Notes
    -----
    ``details["optimiser_message"]`` is the optimiser's own message (``attrs["map_message"]``).
    """
    if inputs.kind != "map":
        return None
    attrs = inputs.datatree.attrs
    ok = bool(attrs.get("map_converged", 0))
    said = str(attrs.get("map_message", ""))
    return Check("map_converged", float(ok), 1.0, ok, said,
                 details={"optimiser_message": said})
