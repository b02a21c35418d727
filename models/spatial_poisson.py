"""W6 ``spatial_poisson``: an inhomogeneous Poisson process on a rectangle.

Events ``(x_i, y_i)`` on ``[0, X] x [0, Y]``, ``X = 10``, ``Y = 6``, intensity

    lambda(x, y) = exp(a + b x / 10 + c exp(-((x - x0)^2 + (y - y0)^2) / (2 w^2)))

(a log-linear trend plus a hotspot of height ``c``, centre ``(x0, y0)``, width ``w``);
log-likelihood ``sum_i log lambda(x_i, y_i) - int int lambda`` (one two-dimensional
integral per log density, no closed form), by
:class:`bayesquad.distributions.SpatialPoissonProcess`. Priors: ``a ~ Normal(0, 3)``,
``b ~ Normal(0, 2)``, ``c ~ HalfNormal(3)``, ``x0 ~ Normal(6, 1)``, ``y0 ~ Normal(3.5, 1)``,
``w ~ LogNormal(0, 0.5)``. Truth: ``a = 3, b = 0.5, c = 2, x0 = 6, y0 = 3.5, w = 0.8``.

The model interface shared by every file in ``models/`` is described in
``models/README.md``.
"""
import os

import numpy as np

import bayesquad  # noqa: F401  (silences TensorFlow's start-up logging)
from bayesquad.distributions import SpatialPoissonProcess

import tensorflow as tf  # noqa: E402  (after bayesquad)
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root

NAME = "spatial_poisson"
PARAMS = ("a", "b", "c", "x0", "y0", "w")
OBSERVED = ("xy",)
TRUTH = {"a": 3.0, "b": 0.5, "c": 2.0, "x0": 6.0, "y0": 3.5, "w": 0.8}
DATA_KEYS = ("x", "y", "X", "Y")
DATA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", NAME + ".npz")
#: The likelihood is not a sum over events (the integral couples them): one pointwise term.
POINTWISE_LOG_LIKELIHOOD = False


def _check(data):
    missing = [k for k in DATA_KEYS if k not in data]
    if missing:
        raise ValueError(f"{NAME}: data lacks {missing}; it needs {list(DATA_KEYS)} (x, y: "
                         f"1-D event coordinates, X, Y: the rectangle's sides)")
    x, y = np.asarray(data["x"], float), np.asarray(data["y"], float)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"{NAME}: data['x'] and data['y'] must be 1-D arrays of the same "
                         f"length, got shapes {x.shape} and {y.shape}")
    big_x, big_y = float(np.asarray(data["X"])), float(np.asarray(data["Y"]))
    if not (big_x > 0 and big_y > 0):
        raise ValueError(f"{NAME}: X and Y must be > 0, got X={big_x}, Y={big_y}")
    if (np.any((x < 0) | (x > big_x) | (y < 0) | (y > big_y))
            or np.any(np.isnan(x) | np.isnan(y))):
        raise ValueError(f"{NAME}: events must lie in [0, X] x [0, Y] = [0, {big_x}] x "
                         f"[0, {big_y}] (no NaN)")
    return x, y, big_x, big_y


def load_data(path=DATA_FILE):
    """The bundled data set (or ``path``) as a dict of numpy arrays."""
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def observed(data):
    """The observed variables of :func:`build`'s model: the events as ``[n, 2]``."""
    x, y, _, _ = _check(data)
    return {"xy": np.stack([x, y], axis=-1)}


def log_intensity(xy, a, b, c, x0, y0, w):
    """``log lambda`` at points ``xy[..., 0:2]`` (parameters broadcast against them)."""
    x, y = xy[..., 0], xy[..., 1]
    r2 = tf.square(x - x0) + tf.square(y - y0)
    return a + b * x / 10.0 + c * tf.exp(-r2 / (2.0 * tf.square(w)))


def build(data, dtype=tf.float64):
    """The joint distribution of ``(a, b, c, x0, y0, w, xy)`` for the events in ``data``.

    Returns
    -------
    tfd.JointDistributionCoroutine
        Parameters (scalars or ``[chains]`` batches) and ``xy`` of event shape
        ``[n, 2]``, ``n`` the number of events in ``data``.

    Notes
    -----
    The integral over the rectangle by the distribution's defaults: outside a fit a
    product Gauss–Legendre rule of 32 nodes x 2 panels per axis with per-axis error
    estimates (``quadrature_status``); a fit plans the product rule over the Laplace box.
    A narrower hotspot (small ``w``) needs more panels, which the plan and the quadrature
    check measure.
    """
    x, y, big_x, big_y = _check(data)
    c_ = lambda v: tf.constant(v, dtype)  # noqa: E731

    def model():
        a = yield Root(tfd.Normal(c_(0.0), c_(3.0), name="a"))
        b = yield Root(tfd.Normal(c_(0.0), c_(2.0), name="b"))
        c = yield Root(tfd.HalfNormal(c_(3.0), name="c"))
        x0 = yield Root(tfd.Normal(c_(6.0), c_(1.0), name="x0"))
        y0 = yield Root(tfd.Normal(c_(3.5), c_(1.0), name="y0"))
        w = yield Root(tfd.LogNormal(c_(0.0), c_(0.5), name="w"))
        yield SpatialPoissonProcess(
            log_intensity, c_([0.0, 0.0]), c_([big_x, big_y]),
            params={"a": a, "b": b, "c": c, "x0": x0, "y0": y0, "w": w},
            max_events=x.size, name="xy")

    return tfd.JointDistributionCoroutine(model, name=NAME)


def simulate(seed, *, X=10.0, Y=6.0, a=3.0, b=0.5, c=2.0, x0=6.0, y0=3.5, w=0.8):
    """Simulate events like ``make_data.py``'s W6 (numpy only): thinning of homogeneous
    candidates at the bound ``exp(a + max(b, 0) X/10 + max(c, 0))``. With
    ``seed=20240106`` and the defaults this reproduces the reference data of
    ``WORKLOADS.md`` bit for bit.

    Returns
    -------
    dict
        ``x``, ``y`` (event coordinates), ``X``, ``Y`` and ``true_<param>``.
    """
    if not (X > 0 and Y > 0 and w > 0):
        raise ValueError(f"simulate needs X, Y, w > 0, got X={X}, Y={Y}, w={w}")
    rng = np.random.default_rng(seed)
    lam_max = np.exp(a + max(b, 0.0) * X / 10.0 + max(c, 0.0))
    n = rng.poisson(lam_max * X * Y)
    xs, ys = rng.uniform(0.0, X, n), rng.uniform(0.0, Y, n)
    rate = np.exp(a + b * xs / 10.0
                  + c * np.exp(-((xs - x0) ** 2 + (ys - y0) ** 2) / (2.0 * w * w)))
    keep = rng.uniform(0.0, 1.0, n) < rate / lam_max
    truth = dict(a=a, b=b, c=c, x0=x0, y0=y0, w=w)
    return {"x": xs[keep], "y": ys[keep], "X": np.asarray(X, float),
            "Y": np.asarray(Y, float),
            **{f"true_{k}": np.asarray(v, float) for k, v in truth.items()}}
