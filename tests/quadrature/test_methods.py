"""The method table is the one place a method is declared: a rule registered there (in
this test only) is validated, dispatched, run adaptively and accepted by the
distributions and by ``quadrature.Adaptive`` with no other change."""
import functools
import math

import numpy as np
import pytest
from numpy.polynomial import legendre as npleg

import bayesquad
from bayesquad._tf import tf
from bayesquad.distributions import Normalized
from bayesquad.quadrature import Adaptive, _methods, _rules
from bayesquad.quadrature._choice import adaptive_methods


@functools.lru_cache(maxsize=None)
def clenshaw_curtis(n):
    """Clenshaw–Curtis with ``n + 1`` nodes (n even) on [0, 1]; its error is the
    difference with the nested rule on every other node."""
    if n % 2:
        raise ValueError("n must be even")

    def weights(m):
        x = np.cos(np.pi * np.arange(m + 1) / m)
        moments = np.zeros(m + 1)
        moments[0] = 2.0  # ∫ P_0 over [-1, 1]; the other Legendre moments vanish
        return x, np.linalg.solve(npleg.legvander(x, m).T, moments)

    x, w = weights(n)
    _, w_half = weights(n // 2)
    coarse = np.zeros_like(w)
    coarse[::2] = w_half
    t = 0.5 * (1.0 - x)
    return _rules.FixedRule("clenshaw-curtis", t, 0.5 * w, _rules._difference_error,
                            [0.5 * (w - coarse)])


@pytest.fixture
def registered(monkeypatch):
    """The two table lines a new rule needs (rule object above, entries here)."""
    monkeypatch.setitem(_methods.METHODS, "clenshaw-curtis", _methods.fixed_method(
        clenshaw_curtis, 16, "composite Clenshaw-Curtis, nested-rule error"))
    monkeypatch.setitem(_methods.METHODS, "adaptive-cc", _methods.adaptive_method(
        clenshaw_curtis, 8, "globally adaptive Clenshaw-Curtis", choice=True))


def _exp(x):
    return tf.exp(x)


def test_unregistered_rule_is_refused():
    with pytest.raises(ValueError, match="unknown"):
        bayesquad.integrate(_exp, 0.0, 2.0, method="clenshaw-curtis")
    with pytest.raises(ValueError, match="method"):
        Normalized(lambda x: -x, 0.0, 1.0, method="clenshaw-curtis")
    assert "adaptive-cc" not in adaptive_methods()


def test_registered_rule_is_validated_and_dispatched(registered):
    exact = np.expm1(2.0)
    res = bayesquad.integrate(_exp, 0.0, 2.0, method="clenshaw-curtis")
    assert int(res.status) == 0 and int(res.n_evals) == 17
    assert abs(float(res.value) - exact) < 1e-13 * exact
    composite = bayesquad.integrate(_exp, 0.0, 2.0, method="clenshaw-curtis", nodes=8,
                                    panels=4)
    assert int(composite.n_evals) == 36 and abs(float(composite.value) - exact) < 1e-10
    # honest: the nested difference covers the true error of a coarse rule
    coarse = bayesquad.integrate(_exp, 0.0, 8.0, method="clenshaw-curtis", nodes=4)
    assert float(coarse.error) >= abs(float(coarse.value) - np.expm1(8.0))
    with pytest.raises(ValueError, match="samples="):
        bayesquad.integrate(_exp, 0.0, 2.0, method="clenshaw-curtis", samples=64)


def test_adaptive_driver_takes_the_rule(registered):
    peak = lambda x: tf.exp(-200.0 * (x - 0.3) ** 2)  # noqa: E731
    res = bayesquad.integrate(peak, 0.0, 1.0, method="adaptive-cc", rtol=1e-10)
    root = math.sqrt(200.0)
    exact = math.sqrt(math.pi) / (2 * root) * (math.erf(0.7 * root) + math.erf(0.3 * root))
    assert int(res.status) == 0
    assert abs(float(res.value) - exact) <= max(float(res.error), 1e-10 * exact)
    # evaluations: 9 nodes for the first interval, 18 per bisection, and it did bisect
    assert int(res.n_evals) > 9 and (int(res.n_evals) - 9) % 18 == 0
    x = tf.constant(0.7, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = bayesquad.integrate(lambda t, c: tf.exp(c * t), 0.0, 1.0, args=(x,),
                                    method="adaptive-cc").value
    exact = (np.exp(0.7) * (0.7 - 1.0) + 1.0) / 0.7 ** 2  # d/dc (e^c - 1)/c
    assert abs(float(tape.gradient(value, x)) - exact) < 1e-9


def test_distributions_and_choices_accept_the_rule(registered):
    gauss = lambda x: -0.5 * x * x  # noqa: E731
    log_z = np.log(np.sqrt(2 * np.pi) * 0.9973002039367398)  # N(0, 1) mass in [-3, 3]
    for kw in (dict(method="clenshaw-curtis", nodes=16, panels=8),
               dict(quadrature=Adaptive("adaptive-cc", rtol=1e-12))):
        d = Normalized(gauss, -3.0, 3.0, **kw)
        np.testing.assert_allclose(float(d.log_prob(0.0)), -log_z, rtol=1e-12)
        assert int(d.quadrature_status()) == 0
    assert "adaptive-cc" in adaptive_methods()


def test_methods_lists_the_tables_live(registered):
    listed = bayesquad.quadrature.methods()
    assert listed["clenshaw-curtis"] == ("nodes", "panels")
    assert listed["tanh-sinh"] == ("max_levels",)
    assert set(bayesquad.quadrature.methods("cubature")) == {
        "auto", "gauss-legendre", "genz-malik", "adaptive", "qmc"}
    with pytest.raises(ValueError, match="entry"):
        bayesquad.quadrature.methods("quad")
