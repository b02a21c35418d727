"""bayesquad: Bayesian fitting of models whose likelihood contains an integral.

Integrals are computed by differentiable quadrature in TensorFlow
(:func:`bayesquad.integrate`); distributions defined by integrals
(:mod:`bayesquad.distributions`) are TensorFlow Probability distributions whose
log-densities are sampled with TFP's NUTS or fitted by variational inference.
"""
from bayesquad import _tf  # noqa: F401  (silences TF before anything imports it)
from bayesquad.diagnostics import Check, Verdict, diagnose
from bayesquad.distributions import (
    Convolved,
    ExtendedUnbinned,
    GaussianLatentMarginal,
    Normalized,
    PoissonProcess,
    SurvivalFromHazard,
    expected_bin_counts,
    pad_events,
)
from bayesquad.inference import MapResult, find_map, fit_vi, sample
from bayesquad.quadrature import (
    IntegrationResult,
    Status,
    integrate,
    reference_settings,
    status_message,
)

__version__ = "0.1.0"

__all__ = [
    "Check",
    "Convolved",
    "ExtendedUnbinned",
    "GaussianLatentMarginal",
    "IntegrationResult",
    "MapResult",
    "Normalized",
    "PoissonProcess",
    "Status",
    "SurvivalFromHazard",
    "Verdict",
    "__version__",
    "diagnose",
    "expected_bin_counts",
    "find_map",
    "fit_vi",
    "integrate",
    "pad_events",
    "reference_settings",
    "sample",
    "status_message",
]
