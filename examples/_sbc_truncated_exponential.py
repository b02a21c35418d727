"""Model file for ``examples/sbc_truncated_exponential.py``: events on [0, 1] with density
proportional to ``exp(-lam x)``, normalised by quadrature, ``lam ~ Normal(1, 1)``.

The model interface is that of ``models/README.md`` (``build``, ``observed``, ``PARAMS``,
``TRUTH``, ``simulate``); ``simulate`` draws by the inverse CDF, in numpy.
"""
import numpy as np

import bayesquad  # noqa: F401
from bayesquad.distributions import Normalized

import tensorflow as tf  # noqa: E402
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root

NAME = "truncated_exponential"
PARAMS = ("lam",)
OBSERVED = ("x",)
TRUTH = {"lam": 1.0}
DATA_KEYS = ("x",)
POINTWISE_LOG_LIKELIHOOD = True


def observed(data):
    return {"x": np.asarray(data["x"], np.float64)}


def build(data, dtype=tf.float64):
    n = np.asarray(data["x"]).shape[0]

    def model():
        lam = yield Root(tfd.Normal(tf.constant(1.0, dtype), tf.constant(1.0, dtype),
                                    name="lam"))
        yield tfd.Sample(Normalized(lambda x, lam: -lam * x, tf.constant(0.0, dtype),
                                    tf.constant(1.0, dtype), params={"lam": lam}),
                         n, name="x")

    return tfd.JointDistributionCoroutine(model, name=NAME)


def simulate(seed, *, lam=1.0, n=100):
    u = np.random.default_rng(seed).uniform(size=int(n))
    if abs(lam) < 1e-12:
        x = u
    else:
        x = -np.log1p(-u * -np.expm1(-lam)) / lam
    return {"x": x, "true_lam": np.asarray(lam, float)}
