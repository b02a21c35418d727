"""W1 ``peak_on_background``: a Gaussian peak on an exponential background, on a window.

Observable ``x`` in ``[lo, hi] = [0, 10]``, ``N = 20,000`` events, density

    p(x) = s g(x)/G + (1 - s) e(x)/E,   g(x) = exp(-((x - mu)/sigma)^2 / 2),  e(x) = exp(-lam x)

with ``G`` and ``E`` the integrals of ``g`` and ``e`` over the window, computed by
quadrature (:class:`bayesquad.Normalized`) from the unnormalised shapes.
Priors: ``mu ~ Normal(5, 1)``, ``sigma ~ HalfNormal(1)``, ``lam ~ HalfNormal(1)``,
``s ~ Beta(2, 2)``. Truth: ``mu = 5, sigma = 0.5, lam = 0.3, s = 0.2``.

The model interface shared by every file in ``models/`` is described in
``models/README.md``.
"""
import os

import numpy as np

import bayesquad  # noqa: F401  (silences TensorFlow's start-up logging)
from bayesquad.distributions import Mixture, Normalized

import tensorflow as tf  # noqa: E402  (after bayesquad)
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root

NAME = "peak_on_background"
PARAMS = ("mu", "sigma", "lam", "s")
OBSERVED = ("x",)
TRUTH = {"mu": 5.0, "sigma": 0.5, "lam": 0.3, "s": 0.2}
#: Keys ``build`` needs in ``data`` (``simulate`` also writes ``true_<param>``).
DATA_KEYS = ("x", "lo", "hi")
DATA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", NAME + ".npz")
#: Whether the pointwise log-likelihood is meaningful for LOO (one term per event).
POINTWISE_LOG_LIKELIHOOD = True


def _check(data):
    missing = [k for k in DATA_KEYS if k not in data]
    if missing:
        raise ValueError(f"{NAME}: data lacks {missing}; it needs {list(DATA_KEYS)} "
                         f"(x: 1-D event positions, lo/hi: the window)")
    x = np.asarray(data["x"])
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"{NAME}: data['x'] must be a non-empty 1-D array of events, got "
                         f"shape {x.shape}")
    lo, hi = float(np.asarray(data["lo"])), float(np.asarray(data["hi"]))
    if not lo < hi:
        raise ValueError(f"{NAME}: the window needs lo < hi, got lo={lo}, hi={hi}")
    if np.any((x < lo) | (x > hi)):
        raise ValueError(f"{NAME}: {int(np.sum((x < lo) | (x > hi)))} events of data['x'] "
                         f"lie outside [lo, hi] = [{lo}, {hi}]")
    return x, lo, hi


def load_data(path=DATA_FILE):
    """The bundled data set (or ``path``) as a dict of numpy arrays."""
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def observed(data):
    """The observed variables of :func:`build`'s model, by name."""
    return {"x": np.asarray(data["x"], np.float64)}


def build(data, dtype=tf.float64):
    """The joint distribution of ``(mu, sigma, lam, s, x)`` for the events in ``data``.

    Parameters
    ----------
    data : dict
        ``x`` (1-D events), ``lo``, ``hi`` (window), as written by :func:`simulate`.
    dtype : tf.DType
        float64 (default) or float32.

    Returns
    -------
    tfd.JointDistributionCoroutine
        Variables ``mu, sigma, lam, s`` (scalars, or ``[chains]`` batches) and ``x``
        (``[N]``); parameters may carry a leading chain axis, so the inference layer
        evaluates all chains in one call.

    Notes
    -----
    Both normalisers are written with :class:`bayesquad.Normalized`'s defaults: outside
    a fit composite Gauss-Legendre, 64 panels of 32 nodes on the window (``log G`` to
    ~1e-14 with status CONVERGED for any peak position down to ``sigma = 0.05``, against
    the erf closed form); a fit plans each normaliser (20 nodes x 2 panels for the peak,
    6 nodes for the exponential on the bundled data, within 1e-4 of the total
    log-likelihood over the Laplace box). A normaliser is per parameter set, not per
    event, so its rule hardly shows in the cost; the 20,000 events do. The mixture is
    :class:`bayesquad.distributions.Mixture`, ``tfd.Mixture`` with a vectorised
    log-sum-exp over the components: the same values, half the gradient's cost.
    """
    x, lo, hi = _check(data)
    c = lambda v: tf.constant(v, dtype)  # noqa: E731

    def peak_shape(x, mu, sigma):
        return -0.5 * tf.square((x - mu) / sigma)

    def background_shape(x, lam):
        return -lam * x

    def model():
        mu = yield Root(tfd.Normal(c(5.0), c(1.0), name="mu"))
        sigma = yield Root(tfd.HalfNormal(c(1.0), name="sigma"))
        lam = yield Root(tfd.HalfNormal(c(1.0), name="lam"))
        s = yield Root(tfd.Beta(c(2.0), c(2.0), name="s"))
        peak = Normalized(peak_shape, c(lo), c(hi), params={"mu": mu, "sigma": sigma})
        background = Normalized(background_shape, c(lo), c(hi), params={"lam": lam})
        weights = tfd.Categorical(probs=tf.stack([s, 1.0 - s], axis=-1))
        yield tfd.Sample(Mixture(weights, [peak, background]), x.size, name="x")

    return tfd.JointDistributionCoroutine(model, name=NAME)


def simulate(seed, *, n=20_000, lo=0.0, hi=10.0, mu=5.0, sigma=0.5, lam=0.3, s=0.2):
    """Simulate a data set like ``make_data.py``'s W1 (numpy only).

    Each event is a peak event with probability ``s`` (Gaussian draws redrawn until they
    fall inside the window), otherwise a background event drawn by inverting the
    truncated exponential CDF. With ``seed=20240101`` and the defaults this reproduces
    the reference data of ``WORKLOADS.md`` bit for bit.

    Returns
    -------
    dict
        ``x`` (``[n]`` float64), ``lo``, ``hi`` and ``true_<param>`` (0-d arrays).
    """
    if not (0.0 <= s <= 1.0 and sigma > 0 and lo < hi):
        raise ValueError(f"simulate needs 0 <= s <= 1, sigma > 0 and lo < hi; got s={s}, "
                         f"sigma={sigma}, lo={lo}, hi={hi}")
    rng = np.random.default_rng(seed)
    is_peak = rng.random(n) < s
    n_peak = int(is_peak.sum())
    peak = rng.normal(mu, sigma, n_peak)
    outside = (peak < lo) | (peak > hi)
    while outside.any():  # rejection; fine unless the peak lies far outside the window
        peak[outside] = rng.normal(mu, sigma, int(outside.sum()))
        outside = (peak < lo) | (peak > hi)
    u = rng.random(n - n_peak)
    if lam > 0:
        bkg = lo - np.log1p(-u * (1.0 - np.exp(-lam * (hi - lo)))) / lam
    else:
        bkg = lo + u * (hi - lo)
    x = np.empty(n)
    x[is_peak], x[~is_peak] = peak, bkg
    return {"x": x, "lo": np.asarray(lo, float), "hi": np.asarray(hi, float),
            **{f"true_{k}": np.asarray(v, float)
               for k, v in dict(mu=mu, sigma=sigma, lam=lam, s=s).items()}}
