"""Negative control for SBC on W2: ``poisson_process_narrow.py`` fitted with a biased rule.

Same priors, data and padding, but ``int_0^T lambda`` by a hand-chosen 10-node
Gauss-Legendre rule on 5 panels (never replanned): over 42 periods of oscillation it
underestimates the integral by 0.9-1.7 % (b = 0.5-1.1; from a 4000-node reference), about
half to one posterior sd of ``a`` on a few thousand events. SBC ranks of ``a`` must come out
non-uniform; the quadrature check flags the rule as well.
"""
import importlib.util
import os

from bayesquad.quadrature import GaussLegendre

_spec = importlib.util.spec_from_file_location(
    "_w2_narrow_for_biased",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "poisson_process_narrow.py"))
_narrow = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_narrow)
_narrow.QUADRATURE = GaussLegendre(nodes=10, panels=5)

NAME = "poisson_process_biased"
PARAMS, OBSERVED, TRUTH, DATA_KEYS = _narrow.PARAMS, _narrow.OBSERVED, _narrow.TRUTH, \
    _narrow.DATA_KEYS
POINTWISE_LOG_LIKELIHOOD, PADDED, PRIOR = False, _narrow.PADDED, _narrow.PRIOR
simulate, observed, build = _narrow.simulate, _narrow.observed, _narrow.build
