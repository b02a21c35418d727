"""``quadrature=``: one way to say how an integral is computed, on every distribution."""
import numpy as np
import pytest
from scipy import stats

import bayesquad  # noqa: F401  (quiet TF import)
from bayesquad.distributions import (
    Convolved,
    GaussianLatentMarginal,
    Normalized,
    PoissonProcess,
    SurvivalFromHazard,
)
from bayesquad.quadrature import Adaptive, GaussHermite, GaussLegendre

import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions
F64 = tf.float64
X = np.array([0.2, 1.1, 2.7])
T = np.array([0.4, 1.3, 2.2])
EVENT = np.array([1.0, 0.0, 1.0])


def gauss_peak(x, mu):
    return -0.5 * tf.square(x - mu)


def linear_log_intensity(x, a, b):
    return a + b * x


def weibull_log_hazard(t, g0, g1):
    return g0 + g1 * tf.math.log(t)


def normalized(**kw):
    return Normalized(gauss_peak, 0.0, 3.0, {"mu": tf.constant(1.0, F64)}, **kw)


def poisson_process(**kw):
    return PoissonProcess(linear_log_intensity, 0.0, 3.0,
                          {"a": tf.constant(0.5, F64), "b": tf.constant(-0.4, F64)},
                          max_events=3, **kw)


def convolved(**kw):
    return Convolved(tfd.Exponential(tf.constant(0.8, F64)),
                     tfd.Normal(tf.constant(0.0, F64), tf.constant(0.3, F64)), **kw)


def survival(**kw):
    return SurvivalFromHazard(weibull_log_hazard, event=EVENT,
                              params={"g0": tf.constant(-0.3, F64),
                                      "g1": tf.constant(0.4, F64)}, **kw)


def latent(**kw):
    x = tf.constant(np.linspace(-1.0, 1.0, 12))
    return GaussianLatentMarginal(lambda u: tfd.Bernoulli(logits=0.3 + x + u),
                                  tf.constant(0.9, F64), np.repeat(np.arange(3), 4), **kw)


Y01 = np.array([1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0], np.int32)

# (factory, the choice, the same in the distribution's own keywords, data)
EQUIVALENT = [
    (normalized, GaussLegendre(16, 2), dict(method="gauss-legendre", nodes=16, panels=2), X),
    (normalized, Adaptive(rtol=1e-11), dict(method="auto", rtol=1e-11), X),
    (poisson_process, GaussLegendre(20, 3), dict(nodes=20, panels=3),
     np.array([0.3, 1.2, np.nan])),
    (poisson_process, Adaptive("gauss-kronrod", rtol=1e-10),
     dict(method="gauss-kronrod", rtol=1e-10), np.array([0.3, 1.2, np.nan])),
    (convolved, GaussLegendre(32), dict(nodes=32), X),
    (convolved, GaussLegendre(16, 3), dict(method="gauss-legendre", nodes=16,
                                           integrate_options={"panels": 3}), X),
    (convolved, Adaptive(rtol=1e-9), dict(method="auto", rtol=1e-9), X),
    (survival, GaussLegendre(24, 2), dict(nodes=24, integrate_options={"panels": 2}), T),
    (survival, Adaptive("tanh-sinh", rtol=1e-10), dict(method="tanh-sinh", rtol=1e-10), T),
    (latent, GaussHermite(12), dict(num_nodes=12), Y01),
]


@pytest.mark.parametrize("factory, choice, keywords, data", EQUIVALENT,
                         ids=[f"{f.__name__}-{c!r}" for f, c, _, _ in EQUIVALENT])
def test_choice_is_the_same_as_the_distributions_own_keywords(factory, choice, keywords,
                                                              data):
    chosen, own = factory(quadrature=choice), factory(**keywords)
    np.testing.assert_array_equal(chosen.log_prob(data).numpy(), own.log_prob(data).numpy())
    assert not chosen._plannable  # a rule given by hand is not re-planned
    # copies (TFP's copy, slicing) rebuild from the constructor's parameters
    np.testing.assert_array_equal(chosen.copy().log_prob(data).numpy(),
                                  own.log_prob(data).numpy())


def test_values_against_closed_forms():
    """The normalised Gaussian on [0, 3] and the exponential-Gaussian convolution."""
    z = stats.norm.cdf(2.0) - stats.norm.cdf(-1.0)
    exact = -0.5 * (X - 1.0) ** 2 - np.log(np.sqrt(2 * np.pi) * z)
    for choice in (GaussLegendre(16, 2), Adaptive(rtol=1e-12)):
        np.testing.assert_allclose(normalized(quadrature=choice).log_prob(X).numpy(), exact,
                                   rtol=1e-12)
    exgauss = stats.exponnorm(1.0 / (0.8 * 0.3), scale=0.3).logpdf(X)
    for choice in (GaussLegendre(48), Adaptive(rtol=1e-11)):
        np.testing.assert_allclose(convolved(quadrature=choice).log_prob(X).numpy(),
                                   exgauss, rtol=1e-9)


def test_choice_under_xla_and_in_float32():
    f = tf.function(lambda x: normalized(quadrature=GaussLegendre(16, 2)).log_prob(x),
                    jit_compile=True)
    np.testing.assert_allclose(f(tf.constant(X)).numpy(),
                               normalized(nodes=16, panels=2).log_prob(X).numpy(), rtol=1e-13)
    d32 = Normalized(gauss_peak, 0.0, 3.0, {"mu": tf.constant(1.0, tf.float32)},
                     quadrature=GaussLegendre(16, 2))
    np.testing.assert_allclose(d32.log_prob(X.astype(np.float32)).numpy(),
                               normalized().log_prob(X).numpy(), rtol=1e-5)


@pytest.mark.parametrize("factory, choice, extra, words", [
    (normalized, GaussLegendre(8), dict(nodes=4), r"\['nodes'\], not both"),
    (convolved, Adaptive(), dict(rtol=1e-6), r"\['rtol'\], not both"),
    (survival, GaussLegendre(8), dict(integrate_options={"panels": 2}), "integrate_options"),
    (latent, GaussHermite(8), dict(num_nodes=10), "num_nodes"),
])
def test_choice_and_keywords_together_are_refused(factory, choice, extra, words):
    with pytest.raises(ValueError, match=words):
        factory(quadrature=choice, **extra)


@pytest.mark.parametrize("factory, choice", [
    (normalized, GaussHermite(8)), (poisson_process, "gauss-legendre"),
    (latent, GaussLegendre(8)), (survival, {"nodes": 8})])
def test_a_choice_the_distribution_cannot_use_is_named(factory, choice):
    with pytest.raises(TypeError, match="quadrature=...\\) takes one of"):
        factory(quadrature=choice)


@pytest.mark.parametrize("make, words", [
    (lambda: Adaptive("gauss-legendre"), "GaussLegendre"),
    (lambda: Adaptive(rtol=-1.0), "rtol"),
    (lambda: Adaptive(max_evals=0), "max_evals"),
    (lambda: GaussHermite(0), "nodes"),
    (lambda: GaussHermite(2.5), "nodes"),
])
def test_bad_rule_objects(make, words):
    with pytest.raises(ValueError, match=words):
        make()


def test_rule_objects_describe_themselves():
    assert Adaptive(rtol=1e-8).describe() == "adaptive auto (rtol=1e-08)"
    assert GaussHermite(10).describe() == "10-node adaptive Gauss–Hermite"
    assert Adaptive(rtol=1e-8) == Adaptive("auto", rtol=1e-8)
    assert len({GaussHermite(4), GaussHermite(4), GaussLegendre(4)}) == 2


def test_a_mapped_rule_is_a_plan_setting_not_a_configured_rule():
    """``GaussLegendre(scale=...)`` is what a plan for an infinite range freezes; as a
    configured rule (with an error estimate) it would mean something integrate cannot
    do, so it is refused with the way to say it."""
    with pytest.raises(ValueError, match="scale.*plan"):
        normalized(quadrature=GaussLegendre(16, scale=4.0))
