"""W2 for simulation-based calibration: ``models/poisson_process.py`` with narrower priors.

The reference file's priors ``a, b, c ~ Normal(0, 2)`` reach rates of ``e^6`` and beyond:
prior draws with millions of events, which no study can fit hundreds of times. Here the
same intensity, window and simulator (imported from the reference file) with

    a ~ Normal(1, 0.3),  b ~ Normal(0.8, 0.3),  c ~ Normal(-0.5, 0.3),

used both to simulate and to fit (a few thousand events per data set). Event times are
NaN-padded (``PADDED``): a study pads each simulated data set to a bucket size so that a
worker reuses one compiled sampler for every data set of that bucket.

``QUADRATURE`` (module attribute, default None = the distribution's defaults, planned by the
fit) lets the negative-control file (``poisson_process_biased.py``) fit with a
deliberately coarse rule.
"""
import importlib.util
import os

import numpy as np

import bayesquad  # noqa: F401  (silences TensorFlow's start-up logging)
from bayesquad.distributions import PoissonProcess

import tensorflow as tf  # noqa: E402  (after bayesquad)
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root

_HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "_w2_reference", os.path.join(_HERE, "..", "..", "models", "poisson_process.py"))
_w2 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_w2)

NAME = "poisson_process_narrow"
PARAMS = _w2.PARAMS
OBSERVED = _w2.OBSERVED
TRUTH = dict(_w2.TRUTH)
DATA_KEYS = _w2.DATA_KEYS
POINTWISE_LOG_LIKELIHOOD = False
#: observed keys a study may pad with NaN to a bucket size (PoissonProcess reads NaN as padding)
PADDED = ("t",)
#: prior (mean, sd) of each parameter, used to simulate and to fit
PRIOR = {"a": (1.0, 0.3), "b": (0.8, 0.3), "c": (-0.5, 0.3)}
#: None: the distribution's defaults (planned by a fit); a quadrature choice otherwise
QUADRATURE = None
simulate = _w2.simulate


def observed(data):
    """The observed variables of :func:`build`'s model, by name."""
    return {"t": np.asarray(data["t"], np.float64)}


def build(data, dtype=tf.float64):
    """The joint distribution of ``(a, b, c, t)``; ``t`` may end in NaN padding.

    Notes
    -----
    As ``models/poisson_process.py`` (whose Notes apply), with the priors of this file's
    docstring and ``max_events`` the padded length.
    """
    t = np.asarray(data["t"], np.float64)
    real = t[~np.isnan(t)]
    _w2._check({**data, "t": real})  # pylint: disable=protected-access
    big_t, period = float(np.asarray(data["T"])), float(np.asarray(data["period"]))
    c_ = lambda v: tf.constant(v, dtype)  # noqa: E731
    omega = 2.0 * np.pi / period
    extra = {} if QUADRATURE is None else {"quadrature": QUADRATURE}

    def log_intensity(t, a, b, c):
        return a + b * tf.sin(omega * t) + c * (t / big_t)

    def model():
        a = yield Root(tfd.Normal(c_(PRIOR["a"][0]), c_(PRIOR["a"][1]), name="a"))
        b = yield Root(tfd.Normal(c_(PRIOR["b"][0]), c_(PRIOR["b"][1]), name="b"))
        c = yield Root(tfd.Normal(c_(PRIOR["c"][0]), c_(PRIOR["c"][1]), name="c"))
        yield PoissonProcess(log_intensity, c_(0.0), c_(big_t), params={"a": a, "b": b, "c": c},
                             max_events=t.size, name="t", **extra)

    return tfd.JointDistributionCoroutine(model, name=NAME)
