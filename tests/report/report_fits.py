"""Tiny fits shared by the report tests (cached: one NUTS, VI and MAP run per process).

A 2-parameter normal model ``y_i ~ Normal(mu, sigma)``, 30 observations, with a numpy
simulator in the form of the model files' ``simulate(seed, **params)``.
"""
import functools

import numpy as np

import bayesquad  # noqa: F401  (quiet TF import)
import bayesquad.inference  # noqa: F401
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root
F64 = tf.float64
N = 30
Y = np.random.default_rng(11).normal(1.0, 2.0, size=N)
OBS = {"y": Y}


def _model():
    mu = yield Root(tfd.Normal(tf.constant(0.0, F64), tf.constant(5.0, F64), name="mu"))
    sigma = yield Root(tfd.HalfNormal(tf.constant(3.0, F64), name="sigma"))
    yield tfd.Sample(tfd.Normal(mu, sigma), N, name="y")


MODEL = tfd.JointDistributionCoroutine(_model, name="normal")


def simulate(seed, *, mu=1.0, sigma=2.0, n=N):
    """Data set of the model (numpy only), like the model files' simulators."""
    return {"y": np.random.default_rng(seed).normal(mu, sigma, n),
            "true_mu": np.asarray(mu), "true_sigma": np.asarray(sigma)}


def simulate_ragged(seed, *, mu=1.0, sigma=2.0):
    """A random number of values per data set (like W2's events)."""
    rng = np.random.default_rng(seed)
    return {"y": rng.normal(mu, sigma, int(rng.integers(20, 40)))}


@functools.cache
def nuts_run():
    # init="prior": the MAP start costs more (optimiser tracing) than this whole fit
    return bayesquad.inference.sample(MODEL, OBS, chains=2, warmup=100, draws=100, seed=3,
                                      jit=False, progress=False, init="prior")


@functools.cache
def vi_run():
    return bayesquad.inference.fit_vi(MODEL, OBS, steps=200, draws=300, seed=3, jit=False,
                                      init="prior")


@functools.cache
def map_run():
    return bayesquad.inference.find_map(MODEL, OBS, seed=3, laplace_draws=300)


def find_map_no_draws():
    """MAP without Laplace draws: the DataTree then has no posterior group."""
    return bayesquad.inference.find_map(MODEL, OBS, seed=3, laplace_draws=0)
