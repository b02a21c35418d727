"""Quadrature plans (issue 11): found once per fit, frozen for sampling, certified after.

The model: a Poisson process on [0, T] with log intensity a + b sin(2 pi t / P) over 20
whole periods, whose integrated intensity has the closed form T e^a I0(b); the plan is
checked against that, never against the code under test.
"""
import json
import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from scipy import special

import bayesquad  # noqa: F401
from bayesquad.distributions import Plan, PoissonProcess, _plans
from bayesquad.inference import laplace_box, plan_quadrature, plans_from_attrs, sample
from bq_inference_models import PERIOD, periodic_events, periodic_log_intensity

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root
F64 = tf.float64
T = 240.0  # 20 whole periods
KEY = "PoissonProcess:periodic_log_intensity"


def build(**quadrature):
    def model():
        a = yield Root(tfd.Normal(tf.constant(0.0, F64), 2.0, name="a"))
        b = yield Root(tfd.Normal(tf.constant(0.0, F64), 2.0, name="b"))
        yield PoissonProcess(periodic_log_intensity, tf.constant(0.0, F64), T,
                             params={"a": a, "b": b}, max_events=EVENTS.size, name="t",
                             **quadrature)
    return tfd.JointDistributionCoroutine(model)


EVENTS = periodic_events(T, a=0.5, b=1.2, seed=3)
MODEL = build()
OBS = {"t": EVENTS}


def exact_log_expected(a, b):
    return math.log(T) + a + math.log(special.i0(b))


@pytest.fixture(scope="module")
def planned():
    points = laplace_box(np.array([0.5, 1.2]), np.diag([0.02, 0.05]))
    return plan_quadrature(MODEL, OBS, points), points


def test_plan_found_and_accurate_against_the_closed_form(planned):
    (plans, report), points = planned
    assert list(plans) == [KEY]
    plan = plans[KEY]
    assert plan.get("nodes") * plan.get("panels") == plan.cost
    # cheaper than the configured default (32 x 64) and still within the tolerance
    assert plan.cost < 32 * 64
    assert report["meta"]["max_change_vs_reference"] <= 1e-4
    for a, b in points:
        d = PoissonProcess(periodic_log_intensity, tf.constant(0.0, F64), T,
                           params={"a": tf.constant(a, F64), "b": tf.constant(b, F64)},
                           max_events=EVENTS.size)
        with _plans.applying(plans):
            got = float(d.log_expected_count())
        # one integral enters once: the total tolerance bounds it
        assert abs(got - exact_log_expected(a, b)) <= 1e-4 / math.exp(exact_log_expected(a, b)
                                                                      ) + 1e-12


def test_plan_is_not_the_cheapest_negative_control(planned):
    """The cheapest candidate (6 nodes, one panel over 20 periods) is far off."""
    (plans, _), _ = planned
    cheapest = Plan.make("6-node", 6, ladder="panels", nodes=6, panels=1)
    d = PoissonProcess(periodic_log_intensity, tf.constant(0.0, F64), T,
                       params={"a": tf.constant(0.5, F64), "b": tf.constant(1.2, F64)},
                       max_events=EVENTS.size)
    with _plans.applying({KEY: cheapest}):
        bad = float(d.log_expected_count())
    assert abs(bad - exact_log_expected(0.5, 1.2)) > 1e-2
    assert plans[KEY] != cheapest


def kinked_log_intensity(t, a, b):
    return a + b * tf.abs(tf.sin(2.0 * np.pi * t / PERIOD))


def test_rejected_when_the_tolerance_cannot_be_met():
    """exp(b |sin|) has a kink every half period (6), inside the panels of every candidate
    (no candidate's panel length, 240 / panels, divides 6), so even the finest converges
    only algebraically: its
    expected count is ~1e-3 off the closed form T e^a (I0(b) + L0(b)), far above a 1e-6
    tolerance. (An earlier version asked for tolerance 1e-300 on a smooth intensity and
    relied on the candidates' rounding differing from the reference's in the last bits.)"""
    def model():
        a = yield Root(tfd.Normal(tf.constant(0.0, F64), 2.0, name="a"))
        b = yield Root(tfd.Normal(tf.constant(0.0, F64), 2.0, name="b"))
        yield PoissonProcess(kinked_log_intensity, tf.constant(0.0, F64), T,
                             params={"a": a, "b": b}, max_events=EVENTS.size, name="t")

    kinked = tfd.JointDistributionCoroutine(model)
    plans, report = plan_quadrature(kinked, OBS, np.array([[0.5, 1.2]]), tolerance=1e-6)
    assert plans == {}
    assert "keep their configured methods" in report["meta"]["rejected"]
    finest = Plan.make("32-node x 256", 8192, ladder="panels", nodes=32, panels=256)
    d = PoissonProcess(kinked_log_intensity, tf.constant(0.0, F64), T,
                       params={"a": tf.constant(0.5, F64), "b": tf.constant(1.2, F64)})
    with _plans.applying({"PoissonProcess:kinked_log_intensity": finest}):
        count = float(d.expected_count())
    exact = T * math.exp(0.5) * (special.i0(1.2) + special.modstruve(0, 1.2))
    assert 1e-5 < abs(count - exact) < 1e-1


def test_a_hand_chosen_rule_is_not_planned():
    hand = build(nodes=16, panels=40)
    plans, report = plan_quadrature(hand, OBS, np.array([[0.5, 1.2]]))
    assert plans == {} and report == {}


SETTINGS = dict(chains=2, warmup=150, draws=100, seed=5, progress=False, jit=False)


@pytest.fixture(scope="module")
def planned_fit():
    return sample(MODEL, OBS, **SETTINGS)


def test_fit_records_and_certifies_its_plan(planned_fit):
    dt = planned_fit
    stored = json.loads(dt.attrs["quadrature_plans"])
    assert KEY in stored["plans"]
    assert dt.attrs["planning_time_s"] >= 0
    from bayesquad.diagnostics import diagnose
    verdict = diagnose(dt)
    check = verdict["quadrature"]
    assert check.passed, check.message
    assert "quadrature plans certified" in check.message
    assert 0 < check.value <= 1e-3   # the plan's own error, seen by the check


def test_found_and_given_plans_give_the_same_draws(planned_fit):
    given = sample(MODEL, OBS, quadrature=plans_from_attrs(planned_fit.attrs), **SETTINGS)
    for name in ("a", "b"):
        np.testing.assert_array_equal(given.posterior[name].values,
                                      planned_fit.posterior[name].values)


def test_a_bad_plan_given_by_hand_fails_the_check(planned_fit):
    """Negative control: the check is what certifies plans, so a wrong one must fail it."""
    from bayesquad.diagnostics import diagnose
    bad = {KEY: Plan.make("8-node, 2 panels", 16, ladder="panels", nodes=8, panels=2)}
    dt = sample(MODEL, OBS, quadrature=bad, **SETTINGS)
    check = diagnose(dt)["quadrature"]
    assert check.passed is False and check.value > 0.01, check.message


def test_quadrature_argument_is_validated():
    with pytest.raises(ValueError, match="quadrature"):
        sample(MODEL, OBS, quadrature="fast", **SETTINGS)
    with pytest.raises(TypeError, match="Plan"):
        sample(MODEL, OBS, quadrature={KEY: {"nodes": 8}}, **SETTINGS)


def test_report_shows_the_plan(planned_fit, tmp_path):
    from bayesquad.report import write_html
    plan = plans_from_attrs(planned_fit.attrs)[KEY]
    page = write_html(planned_fit, tmp_path / "r.html", model=MODEL, observed=OBS).read_text()
    assert "Quadrature plans" in page and plan.description in page
    assert "certified at posterior draws" in page


def test_a_later_fit_reuses_the_plan_it_can_verify():
    """Same model and data: the same points reuse the plan outright; other points verify
    it (and a plan that no longer holds there is searched again)."""
    points = laplace_box(np.array([0.4, 1.0]), np.diag([0.02, 0.05]))
    first, report = plan_quadrature(MODEL, OBS, points)
    again, report2 = plan_quadrature(MODEL, OBS, points)
    assert again == first and report2["meta"]["reused"]
    moved, report3 = plan_quadrature(MODEL, OBS, points + 0.01)
    assert moved == first and report3["meta"]["reused"]
    assert report3["meta"]["max_change_vs_reference"] <= 1e-4


def test_point_process_shape_error_names_max_events():
    """Without max_events the buffer is sized from the expected count: the error says to
    pass max_events, not to wrap the process in tfd.Sample."""
    def model():
        a = yield Root(tfd.Normal(tf.constant(0.0, F64), 2.0, name="a"))
        yield PoissonProcess(lambda t, a: a + 0.0 * t, tf.constant(0.0, F64), T,
                             params={"a": a}, name="t")
    with pytest.raises(ValueError, match=f"max_events={EVENTS.size}") as err:
        plan_quadrature(tfd.JointDistributionCoroutine(model), OBS, np.zeros((1, 1)))
    assert "not tfd.Sample" in str(err.value)


def _synthetic_error(plan):
    """A composite rule's error model: (panel width)^(2n), with n the nodes per panel."""
    n, p = plan.get("nodes"), plan.get("panels")
    return 50.0 * (1.5 / p) ** (2 * n)


@pytest.mark.parametrize("tolerance", [1e-2, 1e-5, 1e-9])
def test_search_with_monotone_candidates_finds_the_cheapest_with_fewer_measurements(tolerance):
    from bayesquad.distributions._mixins import gauss_legendre_candidates
    from bayesquad.inference import _planning
    candidates = gauss_legendre_candidates()
    cheapest = min((c for c in candidates if _synthetic_error(c) <= tolerance),
                   key=lambda c: (c.cost, c.get("panels")))
    measured = []

    def error_of(plan):
        measured.append(plan)
        return _synthetic_error(plan)
    found = _planning._cheapest_within(error_of, candidates, tolerance)
    assert _synthetic_error(found) <= tolerance
    assert found.cost == cheapest.cost
    # negative control: the same candidates without the declaration are all measured
    # family by family, ruling nothing out
    plain = [Plan(c.settings, c.description, c.cost, c.ladder) for c in candidates]
    unpruned = []
    _planning._cheapest_within(lambda p: unpruned.append(p) or _synthetic_error(p), plain,
                               tolerance)
    assert len(set(measured)) < len(set(unpruned))


def test_a_plan_is_below_another_only_in_declared_monotone_settings():
    a = Plan.make("a", 12, ladder="panels", monotone=("nodes", "panels"), nodes=6, panels=2)
    b = Plan.make("b", 32, ladder="panels", monotone=("nodes", "panels"), nodes=16, panels=2)
    assert a.below(b) and not b.below(a)
    power = Plan.make("c", 6, ladder="nodes", power=2.0, nodes=6)
    more = Plan.make("d", 8, ladder="nodes", power=3.0, nodes=8)
    assert not power.below(more)  # not declared: a larger power is not more accurate
    assert a == Plan(a.settings, a.description, a.cost, a.ladder)  # identity unchanged


def test_families_without_declared_order_start_from_the_most_promising():
    """Families of a substitution power: the one whose cheapest rung is most accurate goes
    first, and the rest are cut to cheaper rungs; the answer is still the cheapest
    passing candidate when errors fall along each ladder."""
    from bayesquad.inference import _planning
    scale = {1.0: 1e3, 2.0: 1.0, 3.0: 1e-2, 6.0: 1e2}
    candidates = sorted((Plan.make(f"{n} after p={p}", n, ladder="nodes", nodes=n, power=p)
                         for p in scale for n in (6, 8, 12, 16, 20, 24, 32)),
                        key=lambda c: c.cost)

    def error(plan):
        return scale[plan.get("power")] * 0.3 ** plan.get("nodes")
    measured = set()
    found = _planning._cheapest_within(lambda p: measured.add(p) or error(p), candidates, 1e-7)
    cheapest = min((c for c in candidates if error(c) <= 1e-7), key=lambda c: c.cost)
    assert found.cost == cheapest.cost and error(found) <= 1e-7
    # 4 cheapest rungs, a climb in the best family, then only rungs cheaper than its answer
    assert len(measured) <= 10


def test_a_model_without_integrals_is_not_evaluated_at_the_planning_points(monkeypatch):
    """The layout's own evaluation at the origin says whether a model has plannable
    integrals; without any, planning returns at once (negative control: with one, it
    evaluates)."""
    from bayesquad.inference import _model, _planning

    def plain():
        a = yield Root(tfd.Normal(tf.constant(0.0, F64), 2.0, name="a"))
        yield tfd.Independent(tfd.Normal(a + tf.zeros([5], F64), 1.0), 1, name="y")

    model, obs = tfd.JointDistributionCoroutine(plain), {"y": np.linspace(-1.0, 1.0, 5)}
    assert _model.has_plannable_integrals(model, obs) is None  # no layout made yet
    layout, cast = _model.make_layout(model, obs)
    assert _model.has_plannable_integrals(model, cast) is False
    _, cast_pp = _model.make_layout(MODEL, OBS)
    assert _model.has_plannable_integrals(MODEL, cast_pp) is True

    calls = []
    real = _model.log_prob_fn
    monkeypatch.setattr(_planning._model, "log_prob_fn",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    assert plan_quadrature(model, obs, np.zeros((3, sum(layout.sizes)))) == ({}, {})
    assert not calls
    box = laplace_box(np.array([0.5, 1.2]), np.diag([0.02, 0.05]))
    plans, _ = plan_quadrature(MODEL, OBS, box)
    assert calls and list(plans) == [KEY]
