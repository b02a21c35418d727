"""Diagnostics: a structured verdict on a fit, including the quadrature check, the prior
check of a model before sampling, and the rank tests of simulation-based calibration."""
from bayesquad.diagnostics._diagnose import diagnose
from bayesquad.diagnostics._loo import loo_check
from bayesquad.diagnostics._prior_check import PriorCheck, prior_check
from bayesquad.diagnostics._quadrature_check import quadrature_check
from bayesquad.diagnostics._sbc import (ecdf_band, ecdf_inside, histogram_band, rank_bins,
                                        rank_chi2, sbc_ranks)
from bayesquad.diagnostics._verdict import Check, Verdict

__all__ = ["Check", "PriorCheck", "Verdict", "diagnose", "ecdf_band", "ecdf_inside",
           "histogram_band", "loo_check", "prior_check", "quadrature_check", "rank_bins",
           "rank_chi2", "sbc_ranks"]
