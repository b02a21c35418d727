"""Quadrature plans: a frozen rule per integral, found once per fit and applied while sampling.

A distribution built with default quadrature settings asks :func:`lookup` for its plan
each time it computes its integral, under a key naming the distribution and the user's
function (``"Normalized:peak_shape"``):

* inside :func:`recording`, it registers the candidate plans it could use (cheapest
  first) and computes its integral as configured;
* inside :func:`applying` with a plan for its key, it evaluates that plan's frozen rule
  (a bare weighted sum: no error estimate, no status);
* otherwise it computes its integral as configured (with error estimate and status).

The search over candidates against adaptive references lives in the inference layer
(``bayesquad.inference.plan_quadrature``); the certification at posterior draws in the
diagnostics' quadrature check. A plan applied explicitly wins over
``reference_settings``: the check compares the planned run with the reference.
"""
import contextlib
import dataclasses
import threading

__all__ = ["Plan", "active_key", "applying", "lookup", "plan_key", "recording"]

_state = threading.local()


@dataclasses.dataclass(frozen=True)
class Plan:
    """One frozen way of computing an integral.

    ``settings`` are the distribution's own knobs (``nodes``, ``panels``, ``power``,
    ``window``), ``description`` says it in words for reports, ``cost`` counts integrand
    evaluations per integral.
    """

    settings: tuple
    description: str
    cost: int
    #: the setting that grows along a family of candidates (accuracy rises with it)
    ladder: str = ""
    #: settings along each of which accuracy rises (composite Gauss-Legendre: nodes and
    #: panels), so that a failed candidate rules out every one below it in all of them;
    #: a search aid only, not part of the plan's identity
    monotone: tuple = dataclasses.field(default=(), compare=False)

    def get(self, name, default=None):
        return dict(self.settings).get(name, default)

    def to_dict(self):
        return {"settings": dict(self.settings), "description": self.description,
                "cost": self.cost}

    @classmethod
    def from_dict(cls, d):
        return cls(tuple(sorted(dict(d["settings"]).items())), str(d["description"]),
                   int(d["cost"]))

    @classmethod
    def make(cls, description, cost, ladder="", monotone=(), **settings):
        return cls(tuple(sorted(settings.items())), description, int(cost), ladder,
                   tuple(monotone))

    def below(self, other):
        """Whether ``other``, at least as large in every monotone setting and alike in the
        rest, is at least as accurate as this plan (False when that is not declared)."""
        if not self.monotone or other.monotone != self.monotone:
            return False
        mine, theirs = dict(self.settings), dict(other.settings)
        if mine.keys() != theirs.keys():
            return False
        return all(theirs[k] >= mine[k] if k in self.monotone else theirs[k] == mine[k]
                   for k in mine)

    def family(self):
        """The settings other than the ladder: candidates of one family differ only there."""
        return tuple((k, v) for k, v in self.settings if k != self.ladder)


def plan_key(kind, *functions):
    """``"Normalized:peak_shape"``: the distribution kind and its user functions' names.

    Two integrals with the same key share one plan (chosen so it is accurate for both)."""
    names = []
    for fn in functions:
        name = getattr(fn, "__qualname__", None) or getattr(fn, "name", None) or type(fn).__name__
        names.append(str(name).replace("<locals>.", ""))
    return ":".join([kind, *names])


@contextlib.contextmanager
def recording():
    """Collect the candidate plans of every plannable integral computed inside.

    Yields
    ------
    dict
        ``{key: [Plan, ...]}``, cheapest candidate first, filled as integrals are traced.
    """
    previous = getattr(_state, "recorded", None)
    _state.recorded = {}
    try:
        yield _state.recorded
    finally:
        _state.recorded = previous


@contextlib.contextmanager
def applying(plans):
    """Evaluate the integrals whose keys ``plans`` names by their plans' frozen rules.

    Parameters
    ----------
    plans : dict or None
        ``{key: Plan}`` (e.g. from ``bayesquad.inference.plans_from_attrs``); an integral
        whose key is absent is computed as configured.
    """
    previous = getattr(_state, "plans", None)
    _state.plans = dict(plans or {})
    try:
        yield
    finally:
        _state.plans = previous


def active_key():
    """A hashable summary of the plans in force, or None.

    Returns
    -------
    tuple or None
        Part of the key of every cache of compiled functions: a function traced under
        other plans computes other integrals.
    """
    plans = getattr(_state, "plans", None)
    return tuple(sorted(plans.items())) if plans else None


def lookup(key, candidates):
    """The plan in force for ``key``, or None; records ``candidates()`` when recording."""
    recorded = getattr(_state, "recorded", None)
    if recorded is not None and key not in recorded:
        recorded[key] = list(candidates())
    plans = getattr(_state, "plans", None)
    return plans.get(key) if plans else None
