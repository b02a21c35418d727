"""Diagnostics: a structured verdict on a fit, including the quadrature check."""
from bayesquad.diagnostics._diagnose import diagnose
from bayesquad.diagnostics._quadrature_check import quadrature_check
from bayesquad.diagnostics._verdict import Check, Verdict

__all__ = ["Check", "Verdict", "diagnose", "quadrature_check"]
