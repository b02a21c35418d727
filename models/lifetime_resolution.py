"""W5 ``lifetime_resolution``: exponential lifetimes smeared by a Gaussian resolution.

``N = 5,000`` decays: true lifetime ``s ~ Exponential(mean tau)``, observed
``t = s + eps``, ``eps ~ Normal(0, r)``. Per-event likelihood

    p(t) = int_0^inf (1/tau) exp(-s/tau) Normal(t - s | 0, r) ds,

one integral per event over ``[0, inf)`` by quadrature (:class:`bayesquad.Convolved`).
Priors: ``tau ~ HalfNormal(3)``, ``r ~ HalfNormal(1)``. Truth: ``tau = 1.5, r = 0.3``.

The model interface shared by every file in ``models/`` is described in
``models/README.md``.
"""
import os

import numpy as np

import bayesquad  # noqa: F401  (silences TensorFlow's start-up logging)
from bayesquad.distributions import Convolved

import tensorflow as tf  # noqa: E402  (after bayesquad)
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root

NAME = "lifetime_resolution"
PARAMS = ("tau", "r")
OBSERVED = ("t",)
TRUTH = {"tau": 1.5, "r": 0.3}
DATA_KEYS = ("t",)
DATA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", NAME + ".npz")
#: Whether the pointwise log-likelihood is meaningful for LOO (one term per event).
POINTWISE_LOG_LIKELIHOOD = True


def _check(data):
    if "t" not in data:
        raise ValueError(f"{NAME}: data lacks ['t']; it needs ['t'] (1-D observed times)")
    t = np.asarray(data["t"])
    if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)):
        raise ValueError(f"{NAME}: data['t'] must be a non-empty 1-D array of finite times, "
                         f"got shape {t.shape}")
    return t


def load_data(path=DATA_FILE):
    """The bundled data set (or ``path``) as a dict of numpy arrays."""
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def observed(data):
    """The observed variables of :func:`build`'s model, by name."""
    return {"t": np.asarray(data["t"], np.float64)}


def build(data, dtype=tf.float64):
    """The joint distribution of ``(tau, r, t)`` for the observed times in ``data``.

    Parameters
    ----------
    data : dict
        ``t`` (1-D observed times), as written by :func:`simulate`.
    dtype : tf.DType
        float64 (default) or float32.

    Returns
    -------
    tfd.JointDistributionCoroutine
        Variables ``tau, r`` (scalars or ``[chains]`` batches) and ``t`` (``[N]``).

    Notes
    -----
    Each event's integral runs over a window around the integrand's peak (clipped to
    ``s >= 0``) with Gauss-Legendre, the distribution's defaults: outside a fit +-8
    resolution widths and 40 nodes (total log-likelihood error 4e-12 at the truth against
    the exponentially modified Gaussian closed form; per event <= 2e-12 for ``tau/r`` from
    0.05 to 500); a fit plans window and nodes (20 nodes on +-6 widths on the bundled
    data, within 1e-4 of the total log-likelihood over the Laplace box).
    """
    t = _check(data)
    ones = tf.ones([t.size], dtype)

    def model():
        tau = yield Root(tfd.HalfNormal(tf.constant(3.0, dtype), name="tau"))
        r = yield Root(tfd.HalfNormal(tf.constant(1.0, dtype), name="r"))
        # One Convolved per event (batch [chains..., N]), not tfd.Sample of one: the
        # per-event statuses then line up with the events for the diagnostics.
        smeared = Convolved(tfd.Exponential(rate=(1.0 / tau)[..., None] * ones),
                            tfd.Normal(tf.zeros([], dtype), r[..., None] * ones))
        yield tfd.Independent(smeared, reinterpreted_batch_ndims=1, name="t")

    return tfd.JointDistributionCoroutine(model, name=NAME)


def simulate(seed, *, n=5000, tau=1.5, r=0.3):
    """Simulate a data set like ``make_data.py``'s W5 (numpy only).

    With ``seed=20240105`` and the defaults this reproduces the reference data of
    ``WORKLOADS.md`` bit for bit.

    Returns
    -------
    dict
        ``t`` (float64) and ``true_<param>``.
    """
    if not (tau > 0 and r >= 0):
        raise ValueError(f"simulate needs tau > 0 and r >= 0, got tau={tau}, r={r}")
    rng = np.random.default_rng(seed)
    s = rng.exponential(tau, n)
    t = s + rng.normal(0.0, r, n)
    return {"t": t, "true_tau": np.asarray(tau, float), "true_r": np.asarray(r, float)}
