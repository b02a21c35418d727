"""Quadrature plans: the protocol between integral-defined distributions and fits.

A plan is a frozen rule for one integral, found once per fit and applied while sampling.
Distributions built with default quadrature settings take part; the fitting layers drive
them through the three context functions here:

* :func:`recording` -- inside it, each distribution registers the candidate plans it could
  use (``bayesquad.inference.plan_quadrature`` searches them against references);
* :func:`applying` -- inside it, a distribution with a plan for its key evaluates that
  plan's frozen rule (``sample`` does this while it samples, the quadrature check when it
  re-evaluates a run as it ran);
* :func:`active_key` -- what is being applied, for caches of compiled functions.

Users rarely need this module: ``sample(quadrature="plan")`` plans and applies for them.
"""
from bayesquad.distributions._plans import Plan, active_key, applying, recording

# Plan is documented where users meet it, bayesquad.distributions.Plan
__all__ = ["active_key", "applying", "recording"]
