"""bayesquad: Bayesian fitting of models whose likelihood contains an integral.

Integrals are computed by differentiable quadrature in TensorFlow
(:func:`bayesquad.integrate`) and the resulting log-densities are sampled with
TensorFlow Probability.
"""
from bayesquad import _tf  # noqa: F401  (silences TF before anything imports it)
from bayesquad.quadrature import (
    IntegrationResult,
    Status,
    integrate,
    status_message,
)

__version__ = "0.1.0"

__all__ = ["IntegrationResult", "Status", "integrate", "status_message", "__version__"]
