"""A warning (high Pareto k by default) reads as a warning in the report, not a failure."""
import math

import bayesquad  # noqa: F401  (quiet TF import)
import arviz as az
import numpy as np
from bayesquad.diagnostics import Check, Verdict
from bayesquad.report import load_verdict, store_verdict
from bayesquad.report._sections import verdict_section

WARN = Check("loo_pareto_k", 0.95, 0.62, None, "x: 41 of 20000 Pareto k > 0.62", warning=True)
VERDICT = Verdict((Check("r_hat", 1.002, 1.01, True, "ok"),
                   Check("quadrature", math.nan, 0.01, None, "not run: pass model=..."),
                   WARN))


def test_banner_passes_and_lists_the_warning():
    html = verdict_section(VERDICT, "test")
    assert 'class="banner pass"' in html
    assert "PASSED: all 1 checks that ran passed, 1 warning" in html
    assert "warnings (they do not fail the verdict): loo_pareto_k" in html
    assert '<span class="status warn">warn</span>' in html
    assert '<ul class="warned">' in html and '<ul class="failed">' not in html
    assert "1 not run: quadrature" in html  # a warning is not counted as not run


def test_warning_survives_store_and_load():
    dt = az.from_dict({"posterior": {"m": np.zeros((1, 4))}})
    back = load_verdict(store_verdict(dt, VERDICT))
    assert back["loo_pareto_k"].status == "warn" and back.passed
    assert back.warnings == (WARN,)


def test_a_warning_cannot_also_pass_or_fail():
    import pytest
    for passed in (True, False):
        with pytest.raises(ValueError, match="a warning does not gate the verdict"):
            Check("loo_pareto_k", 0.9, 0.7, passed, "k", warning=True)
