"""A conjugate model for study tests: ``mu ~ Normal(0, 1)``, ``y_i ~ Normal(mu, 1)``.

The posterior is ``Normal(sum(y) / (n + 1), 1 / sqrt(n + 1))`` in closed form, so MAP +
Laplace is exact and SBC ranks are uniform by construction. ``PRIOR_MEAN`` (the fit's
prior mean) is overridden by the negative-control copy the tests write.
"""
import numpy as np

import bayesquad  # noqa: F401
import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root

NAME = "normal_conjugate"
PARAMS = ("mu",)
OBSERVED = ("y",)
TRUTH = {"mu": 0.3}
DATA_KEYS = ("y",)
POINTWISE_LOG_LIKELIHOOD = True
PRIOR_MEAN = 0.0


def observed(data):
    return {"y": np.asarray(data["y"], np.float64)}


def build(data, dtype=tf.float64):
    n = np.asarray(data["y"]).shape[0]

    def model():
        mu = yield Root(tfd.Normal(tf.constant(PRIOR_MEAN, dtype), tf.constant(1.0, dtype),
                                   name="mu"))
        yield tfd.Independent(tfd.Normal(mu[..., None] * tf.ones([n], dtype),
                                         tf.constant(1.0, dtype)),
                              reinterpreted_batch_ndims=1, name="y")

    return tfd.JointDistributionCoroutine(model, name=NAME)


def simulate(seed, *, mu=0.3, n=20):
    rng = np.random.default_rng(seed)
    return {"y": mu + rng.standard_normal(int(n)), "true_mu": np.asarray(mu, float)}
