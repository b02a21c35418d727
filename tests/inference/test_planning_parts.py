"""Planning measures candidates through the model's plannable parts alone.

The model is a Poisson process on [0, T] with log intensity a + b sin(2 pi t / P) over
whole periods (integrated intensity T e^a I0(b), closed form) beside a Normal observation
that no plan touches. What a part-only measurement must reproduce is the whole model's
log density under each plan; the plan it leads to must be the one the whole evaluations
choose, and both must meet the closed form.
"""
import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from scipy import special

import bayesquad  # noqa: F401
from bayesquad.distributions import PoissonProcess, _plans
from bayesquad.inference import _model, _planning, _planning_parts, laplace_box, plan_quadrature
from bq_inference_models import PERIOD, periodic_events, periodic_log_intensity

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root
F64 = tf.float64
T = 120.0  # 10 whole periods
KEY = "PoissonProcess:periodic_log_intensity"


EVENTS = periodic_events(T, a=0.5, b=1.0, seed=11)


def build(in_body=False):
    def model():
        a = yield Root(tfd.Normal(tf.constant(0.0, F64), 2.0, name="a"))
        b = yield Root(tfd.Normal(tf.constant(0.0, F64), 2.0, name="b"))
        process = PoissonProcess(periodic_log_intensity, tf.constant(0.0, F64), T, params={"a": a, "b": b},
                                 max_events=EVENTS.size, name="t")
        # an integral computed in the model's body, where no part's log-prob sees it
        loc = process.log_expected_count() if in_body else a
        yield tfd.Normal(loc, tf.constant(1.0, F64), name="y")
        yield process
    return tfd.JointDistributionCoroutine(model)


OBS = {"y": np.float64(0.3), "t": EVENTS}
POINTS = laplace_box(np.array([0.5, 1.0]), np.diag([0.03, 0.05]))


def _setup(model):
    layout, obs = _model.make_layout(model, OBS)
    obs_t = {k: tf.constant(v) for k, v in obs.items()}
    z = tf.constant(POINTS)
    return layout, obs_t, z, _model.log_prob_fn(model, layout, obs_t)


def _candidates(log_prob, z):
    with _plans.recording() as recorded:
        base = log_prob(z).numpy()
    return recorded, base


def test_parts_reproduce_the_whole_log_density_under_every_plan():
    model = build()
    layout, obs_t, z, log_prob = _setup(model)
    recorded, base = _candidates(log_prob, z)
    change = _planning_parts.plannable_parts(model, layout, obs_t, z, recorded)
    assert change is not None
    for plan in recorded[KEY][::7]:
        with _plans.applying({KEY: plan}):
            whole = log_prob(z).numpy()
        # rounding only: the log density is ~1e2-1e3 here
        np.testing.assert_allclose(base + change({KEY: plan}), whole, rtol=0, atol=1e-9)


def test_the_change_is_the_closed_form_error_of_the_expected_count():
    """-(Lambda_plan - Lambda_exact), Lambda_exact = T e^a I0(b): the configured rule is
    exact to ~1e-10 here, so the change of the log density is the plan's own error."""
    model = build()
    layout, obs_t, z, log_prob = _setup(model)
    recorded, _ = _candidates(log_prob, z)
    change = _planning_parts.plannable_parts(model, layout, obs_t, z, recorded)
    coarse = _plans.Plan.make("6-node x 2", 12, ladder="panels", nodes=6, panels=2)
    a_b = _model.constrain(model, layout, obs_t, z)
    got = change({KEY: coarse})
    for k, (a, b) in enumerate(zip(a_b[0].numpy(), a_b[1].numpy())):
        exact = T * math.exp(a) * special.i0(b)
        ts = np.linspace(0.0, T, 3)  # two panels
        nodes, weights = np.polynomial.legendre.leggauss(6)
        rule = sum(np.sum(0.5 * (hi - lo) * weights * np.exp(
            a + b * np.sin(2 * np.pi * (0.5 * (hi - lo) * nodes + 0.5 * (hi + lo)) / PERIOD)))
            for lo, hi in zip(ts[:-1], ts[1:]))
        assert abs(got[k] + (rule - exact)) <= 1e-8 * exact


def test_the_whole_model_is_evaluated_where_the_parts_cannot_stand_for_it():
    in_body = build(in_body=True)
    layout, obs_t, z, log_prob = _setup(in_body)
    recorded, _ = _candidates(log_prob, z)
    assert _planning_parts.plannable_parts(in_body, layout, obs_t, z, recorded) is None
    model = build()
    layout, obs_t, z, log_prob = _setup(model)
    recorded, _ = _candidates(log_prob, z)
    unbatched = layout._replace(batched=False)
    assert _planning_parts.plannable_parts(model, unbatched, obs_t, z, recorded) is None
    # a key the parts never record (computed elsewhere) also rules the shortcut out
    extra = dict(recorded, **{"Normalized:elsewhere": recorded[KEY]})
    assert _planning_parts.plannable_parts(model, layout, obs_t, z, extra) is None


def _count_whole_evaluations(monkeypatch):
    calls = []
    inner = _model.log_prob_fn

    def counting(*args):
        f = inner(*args)

        def g(z):
            if len(z.shape) == 2:  # at the planning points, not the layout's own checks
                calls.append(1)
            return f(z)
        return g
    monkeypatch.setattr(_model, "log_prob_fn", counting)
    return calls


@pytest.fixture(scope="module")
def whole_plan():
    """The plan from whole evaluations only: the reference the shortcut must agree with."""
    model = build()
    original = _planning.plannable_parts
    _planning.plannable_parts = lambda *args: None
    try:
        return plan_quadrature(model, OBS, POINTS)
    finally:
        _planning.plannable_parts = original


def test_the_same_plan_with_two_whole_evaluations(whole_plan, monkeypatch):
    calls = _count_whole_evaluations(monkeypatch)
    plans, report = plan_quadrature(build(), OBS, POINTS)
    assert plans == whole_plan[0]
    got, want = report["integrals"][KEY], whole_plan[1]["integrals"][KEY]
    assert got["candidates_tried"] == want["candidates_tried"]
    assert abs(got["error_vs_reference"] - want["error_vs_reference"]) <= 1e-9
    # the base (recording the candidates) and the check of the parts; the search itself
    # took a dozen before
    assert len(calls) == 2
    # the plan meets the closed form at every point
    for a, b in POINTS:
        d = PoissonProcess(periodic_log_intensity, tf.constant(0.0, F64), T,
                           params={"a": tf.constant(a, F64), "b": tf.constant(b, F64)},
                           max_events=EVENTS.size)
        with _plans.applying(plans):
            got_count = math.exp(float(d.log_expected_count()))
        assert abs(got_count - T * math.exp(a) * special.i0(b)) <= 1e-4


def test_a_wrong_shortcut_is_caught_and_the_whole_model_decides(whole_plan, monkeypatch):
    """Negative control: parts that miss the change (as a stale cached integral would) fail
    the check against a whole evaluation, and the search falls back to whole ones."""
    monkeypatch.setattr(_planning, "plannable_parts",
                        lambda model, layout, obs_t, z, keys: (lambda plans: np.zeros(len(z))))
    calls = _count_whole_evaluations(monkeypatch)
    plans, report = plan_quadrature(build(), OBS, POINTS)
    assert plans == whole_plan[0]
    assert report["integrals"][KEY]["error_vs_reference"] == pytest.approx(
        whole_plan[1]["integrals"][KEY]["error_vs_reference"], abs=1e-12)
    assert len(calls) > 2
