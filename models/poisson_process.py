"""W2 ``poisson_process``: an inhomogeneous Poisson process on a long interval.

Event times ``t`` in ``[0, T]``, ``T = 1000``, intensity

    log lambda(t) = a + b sin(2 pi t / period) + c t / T,   period = 24,

log-likelihood ``sum_i log lambda(t_i) - int_0^T lambda(t) dt`` (about 42 periods of
oscillation inside the integral), the integral by quadrature
(:class:`bayesquad.PoissonProcess`). Priors: ``a, b, c ~ Normal(0, 2)``.
Truth: ``a = 1, b = 0.8, c = -0.5``.

The model interface shared by every file in ``models/`` is described in
``models/README.md``.
"""
import os

import numpy as np

import bayesquad  # noqa: F401  (silences TensorFlow's start-up logging)
from bayesquad.distributions import PoissonProcess

import tensorflow as tf  # noqa: E402  (after bayesquad)
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root

NAME = "poisson_process"
PARAMS = ("a", "b", "c")
OBSERVED = ("t",)
TRUTH = {"a": 1.0, "b": 0.8, "c": -0.5}
DATA_KEYS = ("t", "T", "period")
DATA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", NAME + ".npz")
#: Whether the pointwise log-likelihood is meaningful for LOO: no. The likelihood is not a
#: sum over events (the integral couples them): the observed variable yields a single
#: pointwise term, so pass ``log_likelihood=False`` to ``sample``.
POINTWISE_LOG_LIKELIHOOD = False


def _check(data):
    missing = [k for k in DATA_KEYS if k not in data]
    if missing:
        raise ValueError(f"{NAME}: data lacks {missing}; it needs {list(DATA_KEYS)} "
                         f"(t: 1-D event times, T: window length, period: of the "
                         f"oscillation)")
    t = np.asarray(data["t"])
    if t.ndim != 1:
        raise ValueError(f"{NAME}: data['t'] must be a 1-D array of event times, got shape "
                         f"{t.shape}")
    big_t, period = float(np.asarray(data["T"])), float(np.asarray(data["period"]))
    if not (big_t > 0 and period > 0):
        raise ValueError(f"{NAME}: T and period must be > 0, got T={big_t}, period={period}")
    if np.any((t < 0) | (t > big_t)) or np.any(np.isnan(t)):
        raise ValueError(f"{NAME}: data['t'] must lie in [0, T] = [0, {big_t}] (no NaN)")
    return t, big_t, period


def load_data(path=DATA_FILE):
    """The bundled data set (or ``path``) as a dict of numpy arrays."""
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def observed(data):
    """The observed variables of :func:`build`'s model, by name."""
    return {"t": np.asarray(data["t"], np.float64)}


def build(data, dtype=tf.float64):
    """The joint distribution of ``(a, b, c, t)`` for the event times in ``data``.

    Parameters
    ----------
    data : dict
        ``t`` (1-D event times), ``T`` and ``period``, as written by :func:`simulate`.
    dtype : tf.DType
        float64 (default) or float32.

    Returns
    -------
    tfd.JointDistributionCoroutine
        Variables ``a, b, c`` (scalars or ``[chains]`` batches) and ``t``, whose event
        shape is the number of events in ``data`` (a realisation with another count needs
        another ``build``).

    Notes
    -----
    ``int_0^T lambda`` by composite Gauss-Legendre, the distribution's defaults: outside a
    fit 64 panels of 32 nodes (log-likelihood at the truth within 1e-13 of the
    Bessel-series closed form); a fit plans nodes and panels (32 nodes x 12 panels on the
    bundled data: the cheapest rule within 1e-4 of the log-likelihood over the Laplace
    box; no period needs to be given). ``exp(b sin)`` develops sharper peaks as ``|b|``
    grows, which the plan and the quadrature check measure.
    """
    t, big_t, period = _check(data)
    c_ = lambda v: tf.constant(v, dtype)  # noqa: E731
    omega = 2.0 * np.pi / period

    def log_intensity(t, a, b, c):
        return a + b * tf.sin(omega * t) + c * (t / big_t)

    def model():
        a = yield Root(tfd.Normal(c_(0.0), c_(2.0), name="a"))
        b = yield Root(tfd.Normal(c_(0.0), c_(2.0), name="b"))
        c = yield Root(tfd.Normal(c_(0.0), c_(2.0), name="c"))
        yield PoissonProcess(log_intensity, c_(0.0), c_(big_t), params={"a": a, "b": b, "c": c},
                             max_events=t.size, name="t")

    return tfd.JointDistributionCoroutine(model, name=NAME)


def simulate(seed, *, T=1000.0, period=24.0, a=1.0, b=0.8, c=-0.5):
    """Simulate event times like ``make_data.py``'s W2 (numpy only).

    Thinning (Lewis-Shedler): homogeneous candidates at the rate bound
    ``exp(a + |b| + max(c, 0))``, each kept with probability ``lambda(t) / bound``. With
    ``seed=20240102`` and the defaults this reproduces the reference data of
    ``WORKLOADS.md`` bit for bit.

    Returns
    -------
    dict
        ``t`` (sorted event times, float64), ``T``, ``period`` and ``true_<param>``.
    """
    if not (T > 0 and period > 0):
        raise ValueError(f"simulate needs T > 0 and period > 0, got T={T}, period={period}")
    rng = np.random.default_rng(seed)
    bound = np.exp(a + abs(b) + max(c, 0.0))
    n = rng.poisson(bound * T)
    cand = np.sort(rng.uniform(0.0, T, n))
    rate = np.exp(a + b * np.sin(2 * np.pi * cand / period) + c * cand / T)
    keep = rng.random(n) < rate / bound
    return {"t": cand[keep], "T": np.asarray(T, float), "period": np.asarray(period, float),
            **{f"true_{k}": np.asarray(v, float) for k, v in dict(a=a, b=b, c=c).items()}}
