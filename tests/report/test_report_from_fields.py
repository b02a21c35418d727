"""The report reads a verdict's fields, never its message text; LOO runs once (in the check);
a stored verdict of the previous format still loads; a registered check reaches the page."""
import dataclasses
import json
import math
import re

import numpy as np
import pytest

import arviz as az
import report_fits as R
from bayesquad.diagnostics import Check, Verdict, diagnose
from bayesquad.diagnostics import _checks
from bayesquad.report import load_verdict, store_verdict, write_html


def _section(page, sec_id):
    m = re.search(rf"<section id=\"{sec_id}\">(.*?)</section>", page, re.S)
    assert m, f"section {sec_id!r} missing"
    return m.group(1)


def _without_details_line(quadrature_html):
    return re.sub(r"<p class=\"small\">Details: .*?</p>", "", quadrature_html, flags=re.S)


def test_numbers_come_from_fields_not_messages(tmp_path):
    dt = R.nuts_run()
    verdict = diagnose(dt, model=R.MODEL)
    assert verdict["quadrature"].details["draws"] == 20
    garbled = Verdict(tuple(dataclasses.replace(c, message=f"(reworded {i})")
                            for i, c in enumerate(verdict)))
    pages = [write_html(dt, tmp_path / f"{i}.html", verdict=v).read_text()
             for i, v in enumerate((verdict, garbled))]
    quad = [_without_details_line(_section(p, "quadrature")) for p in pages]
    assert quad[0] == quad[1]
    assert "draws re-evaluated" in quad[1] and "worst draw" in quad[1]
    assert "reference tolerance (rtol)" in quad[1]
    assert _section(pages[0], "loo") == _section(pages[1], "loo")
    loo = verdict["loo_pareto_k"].details["variables"]["y"]
    assert f"{loo['elpd']:.4g}"[:4] in _section(pages[1], "loo")
    assert "(reworded 0)" in _section(pages[1], "verdict")  # the message is shown, as text


def test_the_report_does_not_rerun_loo(tmp_path, monkeypatch):
    dt = R.nuts_run()
    verdict = diagnose(dt)
    calls = []
    real = az.loo
    monkeypatch.setattr(az, "loo", lambda *a, **k: calls.append(1) or real(*a, **k))
    page = write_html(dt, tmp_path / "r.html", verdict=verdict).read_text()
    assert calls == [] and "elpd_loo" in _section(page, "loo")
    # a verdict without LOO details (given by hand): the report computes it
    page = write_html(dt, tmp_path / "s.html",
                      verdict=Verdict((Check("r_hat", 1.0, 1.01, True, "ok"),))).read_text()
    assert len(calls) == 1 and "elpd_loo" in _section(page, "loo")


def _format_1(verdict, run_id):
    """The attribute as the previous store_verdict wrote it (no details, no explanation)."""
    def num(x):
        return x if math.isfinite(x) else ("nan" if math.isnan(x) else
                                           ("inf" if x > 0 else "-inf"))
    checks = []
    for c in verdict:
        entry = {"name": c.name, "value": num(c.value), "threshold": num(c.threshold),
                 "passed": c.passed, "message": c.message}
        if c.warning:
            entry["warning"] = True
        checks.append(entry)
    return json.dumps({"format": 1, "checks": checks, "run_id": run_id})


def test_a_verdict_of_the_previous_format_loads_and_renders(tmp_path, monkeypatch):
    dt = R.nuts_run().copy(deep=True)
    verdict = diagnose(dt)
    dt.attrs["bayesquad_verdict"] = _format_1(verdict, dt.attrs["bayesquad_run_id"])
    dt.to_netcdf(tmp_path / "p.nc")
    back = az.from_netcdf(tmp_path / "p.nc")
    old = load_verdict(back)
    assert [(c.name, c.status, c.message) for c in old] == [
        (c.name, c.status, c.message) for c in verdict]
    assert all(c.details == {} and c.explanation == _checks.explanation(c.name) for c in old)
    page = write_html(back, tmp_path / "r.html").read_text()
    assert "stored with the DataTree" in _section(page, "verdict")
    assert "elpd_loo" in _section(page, "loo")  # recomputed: the old verdict has no details
    # above the report's limit nothing is recomputed: the old verdict's line is shown
    from bayesquad.report import _sections
    monkeypatch.setattr(_sections, "LOO_MAX_TERMS", 10)
    monkeypatch.setattr(az, "loo", lambda *a, **k: pytest.fail("LOO recomputed"))
    loo = _section(write_html(back, tmp_path / "big.html").read_text(), "loo")
    assert "no LOO details for it" in loo and verdict["loo_pareto_k"].message[:20] in loo
    monkeypatch.undo()
    back.attrs["bayesquad_verdict"] = json.dumps({"format": 9, "checks": []})
    page = write_html(back, tmp_path / "r9.html").read_text()
    assert "format 9" in page and "newer version" in page  # said, then diagnosed again


def test_a_registered_check_reaches_the_report(tmp_path, monkeypatch):
    def every_mean_small(inputs):
        post = inputs.datatree.posterior
        worst = max(abs(float(post[v].mean())) for v in post.data_vars)
        return Check("every_mean_small", worst, 0.01, worst <= 0.01,
                     f"largest |posterior mean| {worst:.3g}", details={"worst": worst})
    spec = _checks.CheckSpec("every_mean_small", every_mean_small,
                             "Posterior means this far from 0 were not expected here.")
    monkeypatch.setattr(_checks, "CHECKS", _checks.CHECKS + (spec,))
    dt = R.nuts_run().copy(deep=True)
    verdict = diagnose(dt)
    assert verdict.checks[-1].name == "every_mean_small" and verdict.failed[-1].name == \
        "every_mean_small"
    store_verdict(dt, verdict)
    dt.to_netcdf(tmp_path / "p.nc")
    monkeypatch.undo()  # the stored verdict keeps the check and its explanation
    back = load_verdict(az.from_netcdf(tmp_path / "p.nc"))
    assert back["every_mean_small"].explanation == spec.explanation
    page = write_html(R.nuts_run(), tmp_path / "r.html", verdict=back).read_text()
    banner = _section(page, "verdict")
    assert "<strong>every_mean_small</strong>" in banner
    assert "Posterior means this far from 0 were not expected here." in banner
    assert np.isclose(back["every_mean_small"].details["worst"],
                      verdict["every_mean_small"].value)
