"""Inference: NUTS sampling, variational inference and MAP, with ArviZ DataTree output.

Every routine takes a TFP ``JointDistribution`` and a dict of observed values by name, works
in the unconstrained space of the model's default event-space bijectors, and returns results
in the model's own (constrained) variables.
"""
from bayesquad.inference._fit import Fit, load_fit
from bayesquad.inference._map import MapResult, find_map
from bayesquad.inference._map_batch import find_map_batch
from bayesquad.inference._planning import (DEFAULT_PLAN_TOLERANCE, laplace_box,
                                           plan_quadrature, plans_from_attrs)
from bayesquad.inference._sample import LOG_LIKELIHOOD_BUDGET, sample
from bayesquad.inference._target import Target
from bayesquad.inference._vi import fit_vi

__all__ = ["DEFAULT_PLAN_TOLERANCE", "Fit", "LOG_LIKELIHOOD_BUDGET", "MapResult", "Target",
           "find_map", "find_map_batch", "fit_vi", "laplace_box", "load_fit", "plan_quadrature",
           "plans_from_attrs", "sample"]
