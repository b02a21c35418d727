"""Checks as data: every check kind is a record that round-trips through dict and JSON, and a
check added to the registry in one line appears in diagnose's verdict."""
import json
import math

import numpy as np
import pytest

import bayesquad  # noqa: F401  (quiet TF import)
import arviz as az
from bayesquad.diagnostics import Check, Verdict, diagnose
from bayesquad.diagnostics import _checks
from bayesquad.diagnostics._quadrature_check import quadrature_result


def _nuts_tree(rng, chains=2, draws=200, stuck=False, stats=True, ll=True):
    post = {"mu": rng.normal(size=(chains, draws)), "tau": rng.normal(size=(chains, draws, 2))}
    if stuck:
        post["mu"][1] = 0.5  # chain 1 of mu never moves
    groups = {"posterior": post}
    if stats:
        div = np.zeros((chains, draws), bool)
        div[0, 3] = True
        groups["sample_stats"] = {"diverging": div, "energy": rng.normal(size=(chains, draws)),
                                  "reach_max_depth": np.zeros((chains, draws), bool)}
    if ll:
        groups["log_likelihood"] = {"y": rng.normal(-1.0, 0.1, size=(chains, draws, 12)),
                                    "t": rng.normal(size=(chains, draws, 1))}
    dt = az.from_dict(groups)
    dt.attrs.update({"inference": "nuts", "max_tree_depth": 10})
    return dt


def _optimiser_tree(kind):
    dt = az.from_dict({"posterior": {"mu": np.zeros((1, 5))}})
    if kind == "vi":
        dt.attrs.update({"inference": "vi", "vi_converged": 0, "vi_relative_change": 0.02,
                         "vi_tolerance": 1e-3})
    else:
        dt.attrs.update({"inference": "map", "map_converged": 1,
                         "map_message": "CONVERGENCE: REL_REDUCTION_OF_F_<=_FACTR*EPSMCH"})
    return dt


QUADRATURE_FIELDS = {
    "draws": 20, "worst": {"chain": 1, "draw": 77}, "rtol": 1e-12, "n_integrals": 600,
    "n_not_converged": 3, "status_codes": [1, 3], "n_reference_not_converged": 2,
    "plans": [{"key": "Normalized:build.peak", "description": "Gauss-Legendre 24 x 8"}],
    "bit_identical": False}


def _every_kind():
    """Verdicts that together hold every registered check, ran and not run."""
    rng = np.random.default_rng(5)
    verdicts = [
        diagnose(_nuts_tree(rng)),                      # MCMC checks, LOO (one term n/a)
        diagnose(_nuts_tree(rng, stuck=True)),          # stuck chain: r_hat/ESS fail
        diagnose(_nuts_tree(rng, chains=1, draws=6, stats=False, ll=False)),  # sampler n/a
        diagnose(_optimiser_tree("vi")), diagnose(_optimiser_tree("map")),
        Verdict((quadrature_result(math.inf, 0.01, QUADRATURE_FIELDS),
                 quadrature_result(math.nan, 0.01, {"not_run": "reference_failed",
                                                    "error": "OpError: out of memory"}),
                 Check("loo_pareto_k", 1.2, 0.7, None, "k high", warning=True,
                       details={"variables": {"y": {"pareto_k": [0.1, math.nan, -math.inf]}}}),
                 Check("custom", 3, -math.inf, False, "hand-made", details={
                     "array": np.arange(3), "nested": {"x": (np.float32(0.5), None, True)},
                     "text": "nan"}))),
    ]
    return verdicts


def _same(a, b):
    """Field by field; NaN equals NaN (a Check's == would say no)."""
    assert json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)
    for x, y in zip(a, b):
        for u, v in ((x.value, y.value), (x.threshold, y.threshold)):
            assert (math.isnan(u) and math.isnan(v)) or u == v


def test_every_check_kind_round_trips_exactly():
    verdicts = _every_kind()
    names = {c.name for v in verdicts for c in v}
    assert {s.name for s in _checks.CHECKS} <= names  # every registered check is covered
    for verdict in verdicts:
        text = verdict.to_json()
        json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
        back = Verdict.from_json(text)
        _same(back, verdict)
        assert back.to_json() == text
        _same(Verdict.from_dict(verdict.to_dict()), verdict)
        for c, d in zip(verdict, back):
            assert (c.status, c.warning, c.explanation) == (d.status, d.warning, d.explanation)
        assert [c.status for c in back.failed] == [c.status for c in verdict.failed]


def test_details_are_plain_json_values():
    c = _every_kind()[-1]["custom"]
    assert c.details == {"array": [0, 1, 2], "nested": {"x": [0.5, None, True]}, "text": "nan"}
    back = Verdict.from_json(Verdict((c,)).to_json())["custom"]
    assert back.details["text"] == "nan"  # a string is not mistaken for a number
    assert back.value == 3.0 and back.threshold == -math.inf
    with pytest.raises(TypeError, match="stored as JSON"):
        Check("x", 1.0, 1.0, True, "m", details={"f": object()})
    with pytest.raises(TypeError, match="details must be a dict"):
        Check("x", 1.0, 1.0, True, "m", details=[1])


def test_checks_carry_their_fields_and_explanation():
    v = diagnose(_nuts_tree(np.random.default_rng(2)))
    assert v["divergences"].details == {"n_divergent": 1, "n_transitions": 400}
    assert v["tree_depth"].details["max_tree_depth"] == 10
    assert len(v["e_bfmi"].details["per_chain"]) == 2
    loo = v["loo_pareto_k"].details["variables"]
    assert loo["t"] == {"status": "not_applicable", "n_terms": 1}
    assert loo["y"]["status"] == "ok" and len(loo["y"]["pareto_k"]) == 12
    for c in v:
        assert c.explanation == _checks.explanation(c.name) != ""
    stuck = diagnose(_nuts_tree(np.random.default_rng(2), stuck=True))["r_hat"]
    assert stuck.details["stuck"] == [{"chain": 1, "variables": ["mu"], "all": False}]
    # a check built by hand gets its registered explanation
    assert "not accurate enough" in Check("quadrature", 0.5, 0.01, False, "x").explanation
    assert Check("unregistered", 0.5, 0.01, False, "x").explanation == ""


def test_quadrature_message_is_built_from_its_fields():
    c = quadrature_result(0.5, 0.01, QUADRATURE_FIELDS)
    assert c.passed is False and c.details == QUADRATURE_FIELDS
    assert c.message.startswith("largest |change| of the log density 0.5 over 20 draws "
                                "(at chain 1, draw 77) with every integral at rtol=1e-12")
    assert "3 of 600 integrals did not converge in the run (statuses BUDGET_EXHAUSTED, " \
           "ROUNDOFF)" in c.message
    assert "Normalized Gauss-Legendre 24 x 8" in c.message
    ok = quadrature_result(1e-4, 0.01, {**QUADRATURE_FIELDS, "n_not_converged": 0,
                                        "status_codes": []})
    assert ok.passed is None and "2 reference integrals did not converge" in ok.message
    assert quadrature_result(math.nan, 0.01, {"not_run": "no_model"}).message.startswith(
        "not run: pass model=")


def test_format_1_loads_and_unknown_formats_are_refused():
    old = {"format": 1, "checks": [
        {"name": "r_hat", "value": 1.004, "threshold": 1.01, "passed": True,
         "message": "largest r_hat 1.004"},
        {"name": "quadrature", "value": "nan", "threshold": 0.01, "passed": None,
         "message": "not run: pass model=..."},
        {"name": "loo_pareto_k", "value": 0.9, "threshold": 0.7, "passed": None,
         "message": "k", "warning": True}]}
    v = Verdict.from_dict(old)
    assert [c.status for c in v] == ["pass", "n/a", "warn"]
    assert math.isnan(v["quadrature"].value) and v["quadrature"].details == {}
    assert v["r_hat"].explanation == _checks.explanation("r_hat")
    with pytest.raises(ValueError, match="format 3.*newer version"):
        Verdict.from_dict({**old, "format": 3})
    with pytest.raises(ValueError, match="check 0 is malformed"):
        Verdict.from_dict({"checks": [{"name": "x"}]})
    with pytest.raises(ValueError, match="not valid JSON"):
        Verdict.from_json("{nope")


def _positive_means(inputs):
    """A check written for this test: every posterior mean is above -10."""
    post = inputs.datatree.posterior
    worst = min(float(post[v].mean()) for v in post.data_vars)
    ok = worst > -10.0
    return Check("positive_means", worst, -10.0, ok, f"smallest posterior mean {worst:.3g}",
                 details={"n_variables": len(post.data_vars)})


NEW = _checks.CheckSpec("positive_means", _positive_means,
                        "A posterior mean below -10 means the prior was misread.")


def test_a_check_registered_in_one_line_reaches_the_verdict(monkeypatch):
    monkeypatch.setattr(_checks, "CHECKS", _checks.CHECKS + (NEW,))
    dt = _nuts_tree(np.random.default_rng(3))
    v = diagnose(dt)
    assert v.checks[-1].name == "positive_means" and v["positive_means"].passed
    before = [c.name for c in v.failed]  # 200 draws, one divergence: not this check
    assert v["positive_means"].details == {"n_variables": 2}
    assert v["positive_means"].explanation == NEW.explanation
    assert "positive_means" in str(v)
    dt.posterior["mu"] = dt.posterior["mu"] - 100.0
    bad = diagnose(dt)
    assert [c.name for c in bad.failed] == before + ["positive_means"]
    _same(Verdict.from_json(bad.to_json()), bad)


def test_a_registered_check_must_keep_its_name(monkeypatch):
    wrong = _checks.CheckSpec("other_name", _positive_means, "")
    monkeypatch.setattr(_checks, "CHECKS", (wrong,))
    with pytest.raises(ValueError, match="registered as 'other_name' returned a check named"):
        diagnose(_nuts_tree(np.random.default_rng(3)))
