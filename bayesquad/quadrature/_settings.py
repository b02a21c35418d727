"""A context in which every integral is computed as a high-accuracy reference.

The diagnostics' quadrature check re-evaluates a model's log-likelihood inside
:func:`reference_settings`: each :func:`bayesquad.integrate` call *traced* there ignores
its own method and tolerance and integrates adaptively at ``rtol`` with a budget
``max_evals_factor`` times larger. Functions compiled before entering the context keep
their original settings, so build new ones inside it.
"""
import collections
import contextlib
import threading

__all__ = ["ReferenceSettings", "current", "current_reference", "reference_settings"]

ReferenceSettings = collections.namedtuple("ReferenceSettings", ["rtol", "max_evals_factor"])
_state = threading.local()


def current():
    """The active :class:`ReferenceSettings`, or None outside the context."""
    return getattr(_state, "settings", None)


def current_reference():
    """The :func:`reference_settings` in force, or None outside them.

    Returns
    -------
    ReferenceSettings or None
        ``(rtol, max_evals_factor)`` of the innermost active context.

    Notes
    -----
    Read at trace time, as ``integrate`` reads it: code that approximates beyond its
    integrals (a truncated window, a fixed Gauss–Hermite rule) asks it to switch those
    parts to reference accuracy too.
    """
    return current()


@contextlib.contextmanager
def reference_settings(rtol=1e-12, max_evals_factor=8):
    """Trace every integral inside this block as a tight-tolerance reference.

    Parameters
    ----------
    rtol : float
        Relative tolerance of the reference integrals (use >= 1e-6 in float32).
    max_evals_factor : float
        Multiplier on the adaptive evaluation budget.
    """
    if not rtol > 0:
        raise ValueError(f"rtol={rtol!r} must be > 0")
    if not max_evals_factor >= 1:
        raise ValueError(f"max_evals_factor={max_evals_factor!r} must be >= 1")
    previous = current()
    _state.settings = ReferenceSettings(float(rtol), float(max_evals_factor))
    try:
        yield _state.settings
    finally:
        _state.settings = previous
