"""Per-element outcome codes of an integral, with messages a person can act on."""
import collections
import enum

import numpy as np

__all__ = ["IntegrationResult", "Status", "status_message", "summarize_status"]


class Status(enum.IntEnum):
    """Outcome of one integral (one batch element); ``status == 0`` means converged."""

    CONVERGED = 0
    BUDGET_EXHAUSTED = 1
    NON_FINITE = 2
    ROUNDOFF = 3
    INVALID_LIMITS = 4


_MESSAGES = {
    Status.CONVERGED: "converged: the error estimate is within max(atol, rtol*|value|)",
    Status.BUDGET_EXHAUSTED: (
        "not converged: the evaluation budget ran out before the error estimate met the "
        "tolerance; raise max_evals/nodes/panels, split the range with points=, or loosen rtol"
    ),
    Status.NON_FINITE: (
        "failed: the integrand returned NaN or +inf (or -inf when log=False) at a node; "
        "check the integrand for overflow, or integrate its log with log=True"
    ),
    Status.ROUNDOFF: (
        "not converged: the tolerance is below what this dtype can resolve (intervals reached "
        "roundoff width or the estimate is dominated by rounding); loosen rtol or use float64"
    ),
    Status.INVALID_LIMITS: (
        "failed: a limit or breakpoint is NaN, or log=True was asked for with lower > upper "
        "(the integral would be negative)"
    ),
}


def status_message(code):
    """Human message for a status code (an int, a ``Status`` or a scalar tensor)."""
    code = int(np.asarray(code))
    try:
        return _MESSAGES[Status(code)]
    except ValueError:
        raise ValueError(
            f"status code {code} is not a bayesquad Status; valid codes are "
            f"{[int(s) for s in Status]}"
        ) from None


def summarize_status(status):
    """Count each status in a batch: ``{Status.NAME: count}`` for the codes present."""
    codes, counts = np.unique(np.asarray(status).ravel(), return_counts=True)
    return {Status(int(c)): int(n) for c, n in zip(codes, counts)}


IntegrationResult = collections.namedtuple(
    "IntegrationResult", ["value", "error", "n_evals", "status"]
)
IntegrationResult.__doc__ = """Result of :func:`bayesquad.integrate`, one entry per batch element.

value : Tensor, float, ``batch_shape``
    The integral (or ``log`` of it when ``log=True``).
error : Tensor, float, ``batch_shape``
    Estimated absolute error of ``value`` (with ``log=True``: of the log, i.e. the
    relative error of the integral). For ``monte-carlo``/``qmc`` a standard error.
n_evals : Tensor, int32, ``batch_shape``
    Integrand evaluations spent on this element.
status : Tensor, int32, ``batch_shape``
    A :class:`Status` code; see :func:`status_message`.
"""
