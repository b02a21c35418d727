"""bayesquad: Bayesian fitting of models whose likelihood contains an integral.

Integrals are computed by differentiable quadrature in TensorFlow
(:func:`bayesquad.integrate`); distributions defined by integrals
(:mod:`bayesquad.distributions`) are TensorFlow Probability distributions whose
log-densities are sampled with TFP's NUTS or fitted by variational inference.
"""
import importlib
import os

# TF's C++ logger reads these once, at its import: set them before anything imports TF
# (bayesquad._tf sets the same; here they also cover a user's own `import tensorflow`
# after `import bayesquad`).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

# XLA reads XLA_FLAGS at its first compile: match its vector width to the CPU before any
# compile can happen (a user's own setting wins; see bayesquad._xla_env).
from bayesquad import _xla_env  # noqa: E402  pylint: disable=wrong-import-position

_xla_env.apply()

# Public names load on first use (PEP 562), so `import bayesquad` and the command line's
# `--help` cost milliseconds; TensorFlow (~5 s) is imported by the first name that needs it.
_LAZY = {
    "calibrate": "bayesquad.calibration",
    "Check": "bayesquad.diagnostics", "Verdict": "bayesquad.diagnostics",
    "diagnose": "bayesquad.diagnostics",
    "Convolved": "bayesquad.distributions", "ExtendedUnbinned": "bayesquad.distributions",
    "GaussianLatentMarginal": "bayesquad.distributions",
    "Mixture": "bayesquad.distributions",
    "Normalized": "bayesquad.distributions", "NormalizedBox": "bayesquad.distributions",
    "PoissonProcess": "bayesquad.distributions",
    "SpatialPoissonProcess": "bayesquad.distributions",
    "SurvivalFromHazard": "bayesquad.distributions",
    "expected_bin_counts": "bayesquad.distributions", "pad_events": "bayesquad.distributions",
    "MapResult": "bayesquad.inference", "find_map": "bayesquad.inference",
    "find_map_batch": "bayesquad.inference",
    "Fit": "bayesquad.inference", "Target": "bayesquad.inference",
    "load_fit": "bayesquad.inference",
    "fit_vi": "bayesquad.inference", "sample": "bayesquad.inference",
    "IntegrationResult": "bayesquad.quadrature", "Status": "bayesquad.quadrature",
    "cubature": "bayesquad.quadrature",
    "integrate": "bayesquad.quadrature", "reference_settings": "bayesquad.quadrature",
    "status_message": "bayesquad.quadrature",
}
_SUBPACKAGES = ("calibration", "diagnostics", "distributions", "inference", "quadrature", "report")


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f"bayesquad.{name}")
    raise AttributeError(f"module 'bayesquad' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBPACKAGES))


__version__ = "0.1.0"

__all__ = sorted([*_LAZY, "__version__"])
