"""Diagnostic reports: one self-contained HTML page per fit.

:func:`write_html` renders a fit's DataTree (NUTS, VI or MAP) with its verdict, summary,
trace/rank, pair, energy, quadrature-check, LOO, posterior predictive and metadata
sections; images are embedded, so the file reads offline.  :func:`store_verdict` and
:func:`load_verdict` keep a verdict with the DataTree (through netCDF), and
:func:`add_posterior_predictive` adds replicated data from a model's numpy simulator;
:func:`write_study_html` reports an SBC or toy study (rank histograms, ECDF plots, pulls).
"""
from bayesquad.report._html import write_html
from bayesquad.report._ppc import add_posterior_predictive
from bayesquad.report._study import write_study_html
from bayesquad.report._verdict_io import load_verdict, store_verdict

__all__ = ["add_posterior_predictive", "load_verdict", "store_verdict", "write_html",
           "write_study_html"]
