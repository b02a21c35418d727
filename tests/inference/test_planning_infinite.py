"""Quadrature plans on ranges with an infinite end (issue 11, "infinite tails").

A Gamma kernel ``x^(k-1) e^(-x/theta)`` normalised on [0, inf) by ``Normalized``: its
normaliser ``Gamma(k) theta^k`` is the closed form the plan is checked against.
"""
import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from scipy import special

import bayesquad  # noqa: F401
from bayesquad.distributions import Normalized, _plans
from bayesquad.inference import laplace_box, plan_quadrature

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root
F64 = tf.float64
INF = math.inf


def gamma_kernel(x, k, theta):
    return (k - 1.0) * tf.math.log(x) - x / theta


def far_peak(x, m):
    return -0.5 * tf.square(x - m)


DATA = np.random.default_rng(11).gamma(3.0, 5.0, size=300)


def build(shape=gamma_kernel, data=DATA):
    def model():
        k = yield Root(tfd.LogNormal(tf.constant(math.log(3.0), F64), 0.5, name="k"))
        theta = yield Root(tfd.LogNormal(tf.constant(math.log(5.0), F64), 0.5, name="theta"))
        yield tfd.Sample(Normalized(shape, tf.constant(0.0, F64), INF,
                                    params={"k": k, "theta": theta}), data.size, name="x")
    return tfd.JointDistributionCoroutine(model)


def exact_log_normalizer(k, theta):
    return special.gammaln(k) + k * math.log(theta)


@pytest.fixture(scope="module")
def planned():
    # unconstrained (log k, log theta): the MAP is near the truth, sd about 0.08 each
    points = laplace_box(np.log([3.0, 5.0]), np.diag([0.08, 0.08]) ** 2)
    return plan_quadrature(build(), {"x": DATA}, points), points


def test_infinite_range_is_planned_with_a_mapped_rule(planned):
    (plans, report), _ = planned
    assert list(plans) == ["Normalized[infinite]:gamma_kernel"]
    plan = plans["Normalized[infinite]:gamma_kernel"]
    assert plan.get("scale") is not None and plan.get("panels") == 1
    assert "u/(1−u)" in plan.description
    # cheaper than the configured rule (32 nodes x 16 panels)
    assert plan.cost < 32 * 16
    assert report["meta"]["max_change_vs_reference"] <= 1e-4


def test_plan_against_the_closed_form(planned):
    (plans, _), points = planned
    for log_k, log_theta in points:
        k, theta = math.exp(log_k), math.exp(log_theta)
        d = Normalized(gamma_kernel, tf.constant(0.0, F64), INF,
                       params={"k": tf.constant(k, F64), "theta": tf.constant(theta, F64)})
        with _plans.applying(plans):
            got = float(d.log_normalizer())
        # the normaliser enters 300 times: the plan's share of 1e-4 bounds it
        assert abs(got - exact_log_normalizer(k, theta)) <= 1e-4 / DATA.size


def test_a_scale_off_the_decay_length_is_worse_negative_control(planned):
    (plans, _), _ = planned
    plan = plans["Normalized[infinite]:gamma_kernel"]
    off = _plans.Plan.make("off", plan.cost, ladder="nodes", nodes=plan.get("nodes"),
                           panels=1, scale=plan.get("scale") / 256)
    d = Normalized(gamma_kernel, tf.constant(0.0, F64), INF,
                   params={"k": tf.constant(3.0, F64), "theta": tf.constant(5.0, F64)})
    with _plans.applying({"Normalized[infinite]:gamma_kernel": off}):
        bad = float(d.log_normalizer())
    assert abs(bad - exact_log_normalizer(3.0, 5.0)) > 1e-4


def test_mass_beyond_every_scale_is_not_planned():
    """A unit-width peak at x = 3000: no scale of the ladder resolves it, so no plan is
    accepted and the integral keeps its configured method (honest, with a status)."""
    data = np.random.default_rng(2).normal(3000.0, 1.0, size=50)

    def model():
        m = yield Root(tfd.Normal(tf.constant(3000.0, F64), 10.0, name="m"))
        yield tfd.Sample(Normalized(far_peak, tf.constant(0.0, F64), INF, params={"m": m}),
                         data.size, name="x")
    plans, report = plan_quadrature(tfd.JointDistributionCoroutine(model), {"x": data},
                                    laplace_box(np.array([3000.0]), np.array([[0.02]])))
    assert plans == {}
    assert "keep their configured methods" in report["meta"]["rejected"]


def test_a_finite_and_an_infinite_range_of_one_function_get_their_own_plans():
    def decay(x, rate):
        return -rate * x
    short = np.random.default_rng(3).uniform(0, 5, 40)
    long = np.random.default_rng(4).exponential(1.0, 40)

    def model():
        rate = yield Root(tfd.LogNormal(tf.constant(0.0, F64), 0.5, name="rate"))
        yield tfd.Sample(Normalized(decay, tf.constant(0.0, F64), 5.0, params={"rate": rate}),
                         40, name="a")
        yield tfd.Sample(Normalized(decay, tf.constant(0.0, F64), INF, params={"rate": rate}),
                         40, name="b")
    plans, report = plan_quadrature(tfd.JointDistributionCoroutine(model),
                                    {"a": short, "b": long},
                                    laplace_box(np.array([0.0]), np.array([[0.01]])))
    keys = sorted(plans)
    assert [k.split(":")[0] for k in keys] == ["Normalized", "Normalized[infinite]"]
    assert plans[keys[0]].get("scale") is None and plans[keys[1]].get("scale") is not None


def test_an_infinite_range_does_not_spoil_the_plan_of_a_finite_one():
    """With a fast-decaying tail (rate 10) beside a finite-window bump, the stand-in
    "finest" rule of the infinite range is chosen against the reference: the bump's plan
    stays cheap (it fell back to 32 x 256 nodes when the stand-in was the last, least
    suitable, candidate)."""
    def fast(x, rate):
        return -rate * x

    def bump(x, m):
        return -0.5 * tf.square((x - m) / 0.5)
    rng = np.random.default_rng(6)

    def model():
        rate = yield Root(tfd.LogNormal(tf.constant(math.log(10.0), F64), 0.3, name="rate"))
        m = yield Root(tfd.Normal(tf.constant(5.0, F64), 1.0, name="m"))
        yield tfd.Sample(Normalized(fast, tf.constant(0.0, F64), INF, params={"rate": rate}),
                         50, name="a")
        yield tfd.Sample(Normalized(bump, tf.constant(0.0, F64), 10.0, params={"m": m}),
                         50, name="b")
    data = {"a": rng.exponential(0.1, 50), "b": rng.normal(5.0, 0.5, 50)}
    points = laplace_box(np.array([math.log(10.0), 5.0]), np.diag([0.15, 0.07]) ** 2)
    plans, report = plan_quadrature(tfd.JointDistributionCoroutine(model), data, points)
    assert len(plans) == 2 and report["meta"]["max_change_vs_reference"] <= 1e-4
    finite = [p for k, p in plans.items() if "[infinite]" not in k][0]
    assert finite.cost <= 256
