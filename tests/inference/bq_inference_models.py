"""Models and cached fits shared by tests/inference and tests/diagnostics.

Module-level model objects, so that bayesquad's per-model cache of compiled functions
serves every test in one pytest process, and ``functools.cache``d fits so that the
diagnostics tests reuse the inference tests' draws.  Also run as a subprocess by the
resume test.
"""
import functools
import math

import numpy as np
import scipy.stats as st

import bayesquad  # noqa: F401  (quiet TF import)
import bayesquad.inference  # noqa: F401
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions
F64 = tf.float64

# ---- conjugate: normal-normal, beta-binomial, gamma-Poisson in one JointDistributionNamed
MU0, S0, SIGMA = 1.0, 2.0, 1.5
A0, B0 = 2.0, 3.0
ALPHA0, BETA0 = 3.0, 1.0
rng = np.random.default_rng(42)
Y = rng.normal(0.7, SIGMA, size=20)
TRIALS = np.array([10.0, 12.0, 8.0, 15.0, 9.0])
K = np.array([3.0, 5.0, 2.0, 6.0, 4.0])
COUNTS = rng.poisson(2.5, size=12).astype(float)
CONJ_OBS = {"y": Y, "k": K, "c": COUNTS}


def _c(x):
    return tf.constant(x, F64)


CONJUGATE = tfd.JointDistributionNamed(dict(
    mu=tfd.Normal(_c(MU0), _c(S0)),
    y=lambda mu: tfd.Independent(tfd.Normal(mu[..., None] * tf.ones(20, F64), _c(SIGMA)), 1),
    p=tfd.Beta(_c(A0), _c(B0)),
    k=lambda p: tfd.Independent(tfd.Binomial(_c(TRIALS), probs=p[..., None]), 1),
    lam=tfd.Gamma(_c(ALPHA0), _c(BETA0)),
    c=lambda lam: tfd.Independent(tfd.Poisson(lam[..., None] * tf.ones(12, F64)), 1),
))


def conjugate_posteriors():
    """Exact posteriors (scipy frozen distributions) by variable name."""
    prec = 1 / S0 ** 2 + len(Y) / SIGMA ** 2
    mean = (MU0 / S0 ** 2 + Y.sum() / SIGMA ** 2) / prec
    return {"mu": st.norm(mean, prec ** -0.5),
            "p": st.beta(A0 + K.sum(), B0 + (TRIALS - K).sum()),
            "lam": st.gamma(ALPHA0 + COUNTS.sum(), scale=1 / (BETA0 + len(COUNTS)))}


CONJ_SETTINGS = dict(chains=4, warmup=300, draws=300, seed=7, progress=False)


@functools.cache
def conjugate_run():
    return bayesquad.inference.sample(CONJUGATE, CONJ_OBS, **CONJ_SETTINGS)


# ---- funnel (JointDistributionCoroutineAutoBatched), one unrelated observation
def _funnel():
    v = yield tfd.Normal(_c(0.0), _c(3.0), name="v")
    yield tfd.Sample(tfd.Normal(_c(0.0), tf.exp(v / 2)), 8, name="x")
    yield tfd.Normal(_c(0.0), _c(1.0), name="obs")


FUNNEL = tfd.JointDistributionCoroutineAutoBatched(_funnel)


@functools.cache
def funnel_run():
    # a low acceptance target makes the step size too large for the neck: divergences
    # appear for every seed tried (1-5), whatever the chain method
    return bayesquad.inference.sample(FUNNEL, {"obs": 0.3}, chains=2, warmup=150, draws=150,
                                      seed=1, init="prior", target_accept=0.6,
                                      progress=False)


# ---- Normalized: density on [0, 1] proportional to exp(-lam x), lam ~ Gamma(2, 1/2)
X_TRUNC = rng.uniform(size=200) ** 1.6  # any data on [0, 1]


def normalized_model(**quadrature):
    from bayesquad.distributions import Normalized
    return tfd.JointDistributionSequential([
        tfd.Gamma(_c(2.0), _c(0.5)),
        lambda lam: tfd.Sample(Normalized(lambda x, lam: -lam * x, 0.0, 1.0,
                                          params={"lam": lam}, **quadrature), len(X_TRUNC)),
    ])


def normalized_grid_posterior():
    """(mean, sd) of lam from a dense grid with the closed-form normaliser."""
    lam = np.linspace(1e-6, 15.0, 200_001)
    log_z = np.log(-np.expm1(-lam)) - np.log(lam)
    lp = st.gamma(2.0, scale=2.0).logpdf(lam) - lam * X_TRUNC.sum() - len(X_TRUNC) * log_z
    w = np.exp(lp - lp.max())
    w /= w.sum()
    mean = np.sum(w * lam)
    return mean, np.sqrt(np.sum(w * (lam - mean) ** 2))


@functools.cache
def normalized_good_model():
    return normalized_model()


@functools.cache
def normalized_run():
    return bayesquad.inference.sample(normalized_good_model(), {"x": X_TRUNC}, chains=4,
                                      warmup=250, draws=250, seed=3, progress=False)


if __name__ == "__main__":  # the resume test: run, killing itself after chunk 3 is saved
    import os
    import signal
    import sys

    from bayesquad.inference import _checkpoint

    save = _checkpoint.save_chunk

    def save_then_die(path, k, state, info):
        save(path, k, state, info)
        if k == 3:
            os.kill(os.getpid(), signal.SIGKILL)
    _checkpoint.save_chunk = save_then_die
    bayesquad.inference.sample(CONJUGATE, CONJ_OBS, checkpoint=sys.argv[1], **CONJ_SETTINGS)
    sys.exit(3)  # never reached when the kill works


# ---- a Poisson process with a periodic intensity (the quadrature-planning tests)
PERIOD = 12.0


def periodic_log_intensity(t, a, b):
    """``a + b sin(2 pi t / PERIOD)``; its integral over whole periods is
    ``length * e^a * I0(b)``."""
    return a + b * tf.sin(2 * math.pi * t / PERIOD)


def periodic_events(window, a, b, seed):
    """Event times on ``[0, window]`` of the process with log intensity
    :func:`periodic_log_intensity`, by thinning a homogeneous one."""
    rng = np.random.default_rng(seed)
    top = math.exp(a + abs(b))
    cand = np.sort(rng.uniform(0, window, rng.poisson(top * window)))
    keep = rng.uniform(0, 1, cand.size) < np.exp(a + b * np.sin(2 * np.pi * cand / PERIOD)) / top
    return cand[keep]
