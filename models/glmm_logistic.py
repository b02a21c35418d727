"""W3 ``glmm_logistic``: random-intercept logistic regression, the intercepts integrated out.

``G = 200`` groups of ``n = 20`` observations, ``x_ij ~ Normal(0, 1)``,

    y_ij ~ Bernoulli(sigmoid(b0 + b1 x_ij + u_j)),   u_j ~ Normal(0, tau),

and the likelihood of group ``j`` is ``int prod_i Bernoulli(y_ij | b0 + b1 x_ij + u)
Normal(u | 0, tau) du``, one integral per group by adaptive Gauss-Hermite quadrature
(:class:`bayesquad.GaussianLatentMarginal`); the ``u_j`` are not sampled.
Priors: ``b0, b1 ~ Normal(0, 2.5)``, ``tau ~ HalfNormal(2)``.
Truth: ``b0 = -0.5, b1 = 1, tau = 1.2``.

The model interface shared by every file in ``models/`` is described in
``models/README.md``.
"""
import os

import numpy as np

import bayesquad  # noqa: F401  (silences TensorFlow's start-up logging)
from bayesquad.distributions import GaussianLatentMarginal

import tensorflow as tf  # noqa: E402  (after bayesquad)
import tensorflow_probability as tfp  # noqa: E402

tfd = tfp.distributions
Root = tfd.JointDistributionCoroutine.Root

NAME = "glmm_logistic"
PARAMS = ("b0", "b1", "tau")
OBSERVED = ("y",)
TRUTH = {"b0": -0.5, "b1": 1.0, "tau": 1.2}
DATA_KEYS = ("y", "x", "group", "n_groups")
DATA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", NAME + ".npz")
#: Whether the pointwise log-likelihood is meaningful for LOO: yes, one term per group
#: (leave one group out).
POINTWISE_LOG_LIKELIHOOD = True


def _grouped(data):
    """Validate ``data``; return ``(x, y)`` as ``[n_groups, n_per_group]`` arrays.

    Row ``j`` holds group ``j``'s observations in their original order, so the rows need
    not be sorted by group in ``data``; every group must have the same size.
    """
    missing = [k for k in DATA_KEYS if k not in data]
    if missing:
        raise ValueError(f"{NAME}: data lacks {missing}; it needs {list(DATA_KEYS)} "
                         f"(y: 0/1 outcomes, x: covariate, group: group index per "
                         f"observation, n_groups)")
    y, x, group = (np.asarray(data[k]) for k in ("y", "x", "group"))
    if not (y.ndim == x.ndim == group.ndim == 1 and y.size == x.size == group.size > 0):
        raise ValueError(f"{NAME}: y, x and group must be 1-D arrays of one length, got "
                         f"shapes {y.shape}, {x.shape}, {group.shape}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError(f"{NAME}: data['y'] must hold 0/1 outcomes")
    n_groups = int(np.asarray(data["n_groups"]))
    if not np.issubdtype(group.dtype, np.integer) or group.min() < 0 \
            or group.max() >= n_groups:
        raise ValueError(f"{NAME}: data['group'] must hold integers in [0, n_groups="
                         f"{n_groups})")
    sizes = np.bincount(group, minlength=n_groups)
    if np.any(sizes != sizes[0]) or sizes[0] == 0:
        raise ValueError(f"{NAME}: every group must have the same (non-zero) number of "
                         f"observations; sizes range from {sizes.min()} to {sizes.max()}")
    order = np.argsort(group, kind="stable")
    shape = (n_groups, int(sizes[0]))
    return x[order].reshape(shape), y[order].reshape(shape)


def load_data(path=DATA_FILE):
    """The bundled data set (or ``path``) as a dict of numpy arrays."""
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def observed(data):
    """The observed variables of :func:`build`'s model: ``y`` as ``[n_groups, n_per_group]``."""
    return {"y": _grouped(data)[1].astype(np.int32)}


def build(data, dtype=tf.float64):
    """The joint distribution of ``(b0, b1, tau, y)`` for the design in ``data``.

    Parameters
    ----------
    data : dict
        ``y`` (0/1), ``x``, ``group`` (ints in ``[0, n_groups)``, equal group sizes),
        ``n_groups``, as written by :func:`simulate`. ``x`` and ``group`` are fixed
        design, ``y`` is the observed variable.
    dtype : tf.DType
        float64 (default) or float32.

    Returns
    -------
    tfd.JointDistributionCoroutine
        Variables ``b0, b1, tau`` (scalars or ``[chains]`` batches) and ``y``, int32 of
        shape ``[n_groups, n_per_group]`` (see :func:`observed`): one
        :class:`bayesquad.GaussianLatentMarginal` per group (a batch of ``n_groups``), so
        the pointwise log-likelihood, and LOO, is per group (leave one group out).

    Notes
    -----
    Adaptive Gauss-Hermite per group (centred at each group's mode, scaled by its
    curvature), with the distribution's defaults: outside a fit 20 nodes; a fit plans the
    node count with the mode search's Newton steps (9 nodes and 4 steps on the bundled
    data: the cheapest pair that changes the total log-likelihood by at most 1e-4 over
    the Laplace box). ``tfd.Bernoulli(logits=...)`` is evaluated in closed form (see
    :class:`bayesquad.GaussianLatentMarginal`). Measured against an independent fine-grid
    integration of every group: total log-likelihood error at the truth 4e-11 at 24
    nodes, 1e-7 at 16, 3e-6 at 12, 4e-5 at 10. The cost grows linearly with the nodes,
    and an error of 1e-4 in a log density moves no posterior summary measurably: the
    diagnostics' quadrature check (reference rule, tolerance 0.01) is what proves it on a
    fit. The error grows
    with ``tau`` and the coefficients (group posteriors become skewed; 4e-4 at
    ``tau = 2.5``), see :class:`bayesquad.GaussianLatentMarginal`. Its
    ``quadrature_status`` reports whether each group's mode search converged, not the
    quadrature error.
    """
    x, _ = _grouped(data)
    xt = tf.constant(x, dtype)
    per_group = np.zeros(x.shape[1], np.int32)  # within a row, every observation is group 0

    def model():
        b0 = yield Root(tfd.Normal(tf.constant(0.0, dtype), 2.5, name="b0"))
        b1 = yield Root(tfd.Normal(tf.constant(0.0, dtype), 2.5, name="b1"))
        tau = yield Root(tfd.HalfNormal(tf.constant(2.0, dtype), name="tau"))

        def conditional(u):
            # u: [nodes..., chains..., n_groups, n_per_group]; the coefficients get the
            # group and observation axes.
            return tfd.Bernoulli(logits=b0[..., None, None] + b1[..., None, None] * xt + u)

        # batch [chains..., n_groups] of one-group marginals, summed over groups
        yield tfd.Independent(
            GaussianLatentMarginal(conditional, tau[..., None], per_group, num_groups=1),
            reinterpreted_batch_ndims=1, name="y")

    return tfd.JointDistributionCoroutine(model, name=NAME)


def simulate(seed, *, n_groups=200, n_per_group=20, b0=-0.5, b1=1.0, tau=1.2):
    """Simulate a data set like ``make_data.py``'s W3 (numpy only).

    Rows are sorted by group. With ``seed=20240103`` and the defaults this reproduces
    the reference data of ``WORKLOADS.md`` bit for bit.

    Returns
    -------
    dict
        ``y`` (int64 0/1), ``x`` (float64), ``group`` (int64), ``n_groups`` and
        ``true_<param>``.
    """
    if not tau >= 0:
        raise ValueError(f"simulate needs tau >= 0, got {tau}")
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(n_groups), n_per_group)
    x = rng.normal(0.0, 1.0, n_groups * n_per_group)
    u = rng.normal(0.0, tau, n_groups)
    p = 1.0 / (1.0 + np.exp(-(b0 + b1 * x + u[group])))
    y = (rng.random(x.size) < p).astype(np.int64)
    return {"y": y, "x": x, "group": group, "n_groups": np.asarray(n_groups),
            **{f"true_{k}": np.asarray(v, float) for k, v in
               dict(b0=b0, b1=b1, tau=tau).items()}}
