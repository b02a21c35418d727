"""store_verdict / load_verdict: a verdict survives netCDF with its DataTree."""
import json
import math

import pytest

import arviz as az
import report_fits as R
from bayesquad.diagnostics import Check, Verdict, diagnose
from bayesquad.report import load_verdict, store_verdict, write_html

VERDICT = Verdict((
    Check("r_hat", 1.004, 1.01, True, "largest r_hat 1.004"),
    Check("quadrature", math.nan, 0.01, None, "not run: pass model=..."),
    Check("divergences", 3.0, 0.0, False, "3 of 200 transitions diverged <b>"),
    Check("loo_pareto_k", math.inf, -math.inf, False, "k = inf"),
))


def _same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert (x.name, x.passed, x.message) == (y.name, y.passed, y.message)
        for u, v in ((x.value, y.value), (x.threshold, y.threshold)):
            assert (math.isnan(u) and math.isnan(v)) or u == v


def test_round_trip_through_netcdf(tmp_path):
    dt = R.nuts_run().copy(deep=True)
    assert load_verdict(dt) is None
    assert store_verdict(dt, VERDICT) is dt
    raw = dt.attrs["bayesquad_verdict"]
    assert isinstance(raw, str)
    json.loads(raw, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    path = tmp_path / "posterior.nc"
    dt.to_netcdf(path)
    back = az.from_netcdf(path)
    loaded = load_verdict(back)
    _same(loaded, VERDICT)
    assert loaded.passed is False and [c.name for c in loaded.failed] == [
        "divergences", "loo_pareto_k"]


def test_real_verdict_round_trip(tmp_path):
    dt = R.nuts_run().copy(deep=True)
    verdict = diagnose(dt)
    store_verdict(dt, verdict)
    dt.to_netcdf(tmp_path / "p.nc")
    back = az.from_netcdf(tmp_path / "p.nc")
    _same(load_verdict(back), verdict)
    # the report of the file read back uses the stored verdict, quadrature check included
    del back.attrs["bayesquad_run_id"]
    page = write_html(back, tmp_path / "r.html").read_text()
    assert "stored with the DataTree" in page
    assert "needs the model" not in page


def test_bad_input():
    dt = R.vi_run().copy(deep=True)
    with pytest.raises(TypeError, match="Verdict"):
        store_verdict(dt, [("r_hat", 1.0)])
    dt.attrs["bayesquad_verdict"] = "{not json"
    with pytest.raises(ValueError, match="not valid JSON"):
        load_verdict(dt)
    dt.attrs["bayesquad_verdict"] = json.dumps({"checks": [{"name": "x"}]})
    with pytest.raises(ValueError, match="malformed"):
        load_verdict(dt)


def test_unreadable_stored_verdict_falls_back_to_diagnose(tmp_path):
    dt = R.vi_run().copy(deep=True)
    dt.attrs["bayesquad_verdict"] = "{not json"
    page = write_html(dt, tmp_path / "r.html").read_text()
    assert "computed by bayesquad.diagnose" in page and "unreadable" in page


def test_verdict_of_another_run_is_refused():
    """A run id is stored with the verdict: copied onto another fit's DataTree, it is refused."""
    dt = R.nuts_run().copy(deep=True)
    store_verdict(dt, VERDICT)
    assert json.loads(dt.attrs["bayesquad_verdict"])["run_id"] == dt.attrs["bayesquad_run_id"]
    other = R.vi_run().copy(deep=True)
    other.attrs["bayesquad_verdict"] = dt.attrs["bayesquad_verdict"]
    with pytest.raises(ValueError, match="was stored for run .* but this DataTree is from run"):
        load_verdict(other)
    _same(load_verdict(dt), VERDICT)  # its own run reads it back


def test_warning_checks_survive_the_round_trip():
    fields = getattr(Check, "__dataclass_fields__", {})
    if "warning" not in fields:
        pytest.skip("Check has no warning field in this tree")
    warned = Verdict((Check("loo_pareto_k", 0.9, 0.7, None, "k high", warning=True),))
    dt = R.vi_run().copy(deep=True)
    store_verdict(dt, warned)
    back = load_verdict(dt)
    assert back.checks[0].warning is True and back.checks[0].passed is None


def test_report_names_integral_statuses(tmp_path):
    """Status codes in a check's details are shown by name, with their meaning."""
    from bayesquad import Status, status_message
    from bayesquad.diagnostics._quadrature_check import quadrature_result
    check = quadrature_result(0.5, 0.01, {
        "draws": 20, "worst": {"chain": 0, "draw": 3}, "rtol": 1e-12, "n_integrals": 40,
        "n_not_converged": 4, "status_codes": [1, 3], "n_reference_not_converged": 0,
        "plans": [], "bit_identical": False})
    assert check.passed is False
    page = write_html(R.nuts_run(), tmp_path / "r.html", verdict=Verdict((check,))).read_text()
    assert "status codes [1, 3]" not in page
    assert f"statuses {Status(1).name}, {Status(3).name}" in page
    import html
    assert html.escape(status_message(1)) in page and html.escape(status_message(3)) in page
