"""Integral-defined probability distributions that compose with TensorFlow Probability.

Each class is a ``tfp.distributions.Distribution`` whose log-density contains an integral
computed by :func:`bayesquad.integrate`; they drop into TFP joint distributions, mixtures
and samplers unchanged.
"""
from bayesquad.distributions._binned import ExtendedUnbinned, expected_bin_counts
from bayesquad.distributions._convolved import Convolved
from bayesquad.distributions._latent import GaussianLatentMarginal
from bayesquad.distributions._mixture import Mixture
from bayesquad.distributions._normalized import Normalized
from bayesquad.distributions._normalized_box import NormalizedBox
from bayesquad.distributions._plans import Plan
from bayesquad.distributions._poisson_process import PoissonProcess, pad_events
from bayesquad.distributions._spatial import SpatialPoissonProcess
from bayesquad.distributions._survival import SurvivalFromHazard

__all__ = [
    "Plan",
    "Convolved",
    "ExtendedUnbinned",
    "GaussianLatentMarginal",
    "Mixture",
    "Normalized",
    "NormalizedBox",
    "PoissonProcess",
    "SpatialPoissonProcess",
    "SurvivalFromHazard",
    "expected_bin_counts",
    "pad_events",
]
