"""Stan's windowed warm-up as three pure functions over the sampler's flat state dict.

* :func:`init` -- the adaptation's entries of a fresh state: metric (``loc``, ``scale``),
  dual-averaging statistics, running moments of the draws (and gradients);
* :func:`update` -- one warm-up step: dual averaging of the log step size towards the
  target acceptance, and, inside a slow window, the draws (and gradients) pooled into the
  running moments;
* :func:`final` -- at the end of a slow window, the new metric from those moments, and
  dual averaging restarted near the current step size (numpy: between compiled chunks).

The schedule (:func:`warmup_schedule`) is Stan's: a fast initial buffer, doubling slow
windows, a fast terminal buffer. The compiled sampler (``_nuts.make_run_chunk``) calls
``update`` every step and stops at each window end; ``_nuts.remetric`` then calls ``final``
on the host, and alone knows how a new metric changes the sampler's own coordinates.
"""
import numpy as np

from bayesquad._tf import tf

__all__ = [
    "METRIC_ADAPTATIONS",
    "final",
    "init",
    "padded_window_ends",
    "step_size",
    "update",
    "warmup_schedule",
    "window_ends_at",
]

#: ``"stan"``: the metric from the variance of the draws in each window; ``"gradient"``:
#: from draws and gradients (nutpie's diagonal estimate, sqrt(var(draws)/var(gradients)),
#: which matches a Gaussian's variances from fewer draws and weighs each coordinate by
#: how sharply the density changes along it; dense metrics of ``"stan"`` and
#: ``"gradient"`` use the draws); ``"low-rank"``: that diagonal times the few directions
#: where draws and gradients say the posterior is much wider or narrower than it (nutpie's
#: low-rank estimate, :func:`low_rank_covariance`), applied as a dense metric.
METRIC_ADAPTATIONS = ("stan", "gradient", "low-rank")

#: Ridge added to the scaled sums of squares of draws and gradients (nutpie's ``gamma``):
#: the span of a window's draws and gradients is estimated, the rest stays identity.
LOW_RANK_RIDGE = 1e-5
#: Eigenvalues of the scaled covariance within ``[1/c, c]`` are set to 1 (nutpie's
#: ``eigval_cutoff``): only directions the diagonal misses by more than 2x are corrected.
LOW_RANK_CUTOFF = 2.0
#: A window corrects the diagonal only with more than this many draws per dimension.
MIN_DRAWS_PER_DIMENSION = 1.0

# Dual-averaging constants of Hoffman & Gelman (2014), as in Stan.
_GAMMA, _T0, _KAPPA = 0.05, 10.0, 0.75
_MAX_WINDOWS = 24  # window ends are passed padded to this length so shapes never change


def warmup_schedule(warmup, init_buffer=75, term_buffer=50, base_window=25):
    """Stan's warm-up windows: ``(slow_start, window_ends)``.

    Steps ``[0, slow_start)`` adapt only the step size; the slow windows
    ``[slow_start, ends[0]), [ends[0], ends[1]), ...`` double in length and each ends with a
    new metric; the steps from ``ends[-1]`` to ``warmup`` adapt the step size to the final
    metric.  Short warm-ups scale the buffers to 15 % / 75 % / 10 % as Stan does; below 20
    steps the metric is not adapted.
    """
    warmup = int(warmup)
    if warmup < 20:
        return warmup, []
    if init_buffer + term_buffer + base_window > warmup:
        init_buffer = int(0.15 * warmup)
        term_buffer = int(0.1 * warmup)
        base_window = warmup - init_buffer - term_buffer
    slow_end = warmup - term_buffer
    ends, start, size = [], init_buffer, base_window
    while start < slow_end:
        end = start + size
        # a window stretches to the end of the slow phase when the next one (twice as
        # long) would not fit; as in Stan, the first window never stretches
        if ends and end + 2 * size > slow_end:
            end = slow_end
        ends.append(end)
        start, size = end, 2 * size
    if len(ends) > _MAX_WINDOWS:
        raise ValueError(f"warmup={warmup} gives more than {_MAX_WINDOWS} adaptation windows")
    return init_buffer, ends


def padded_window_ends(ends):
    return np.array(list(ends) + [-1] * (_MAX_WINDOWS - len(ends)), np.int32)


def init(z0, dense, scale=None, step_size=1.0):
    """The adaptation's entries of the state before step 0 (numpy), and ``y0``.

    ``scale`` is an initial metric: a vector of standard deviations (diagonal) or a Cholesky
    factor (dense); identity when None. Returns ``(entries, y0)`` with ``y0`` the chains'
    points ``z0`` in the metric's coordinates (``z = loc + scale * y``).
    """
    z0 = np.asarray(z0)
    dtype = z0.dtype
    d = z0.shape[-1]
    if scale is None:
        scale = np.eye(d, dtype=dtype) if dense else np.ones(d, dtype)
    scale = np.asarray(scale, dtype)
    if dense and scale.ndim == 1:
        scale = np.diag(scale)
    if not dense and scale.ndim == 2:
        scale = np.sqrt(np.sum(scale ** 2, axis=-1))
    log_eps = np.asarray(np.log(step_size), dtype)
    loc = np.mean(z0, axis=0).astype(dtype)
    y0 = np.linalg.solve(scale, (z0 - loc).T).T if dense else (z0 - loc) / scale
    entries = {
        "loc": loc,
        "scale": scale,
        "log_eps": log_eps,
        "log_eps_bar": log_eps,
        "h_bar": np.asarray(0.0, dtype),
        "da_count": np.asarray(0.0, dtype),
        "da_mu": np.asarray(np.log(10.0) + log_eps, dtype),
        "w_n": np.asarray(0.0, dtype),
        "w_mean": np.zeros(d, dtype),
        "w_m2": np.zeros((d, d) if dense else d, dtype),
        # running mean and sums of squares of the gradient in z (metric_adaptation
        # "gradient" with a diagonal metric, "low-rank" with a dense one)
        "g_mean": np.zeros(d, dtype),
        "g_m2": np.zeros((d, d) if dense else d, dtype),
    }
    return entries, y0.astype(dtype)


def step_size(state, i, warmup):
    """The step size of step ``i``: adapting in warm-up, the averaged one after."""
    return tf.exp(tf.where(i < warmup, state["log_eps"], state["log_eps_bar"]))


def update(state, i, z, accept, warmup, slow_start, window_ends, target_accept, dense,
           grad_z=None):
    """The state after warm-up step ``i`` (unchanged after warm-up).

    ``z`` ``[C, D]`` are the chains' new points, ``accept`` their mean acceptance
    statistics ``[C]`` (pooled: one step size for the chains of this state), ``grad_z``
    the log density's gradient there, pooled too when given (``adaptation="gradient"``
    with a diagonal metric; None otherwise).

    Both updates are computed every step and selected, not branched on: they are a few
    scalar and ``D``-vector operations, and a ``tf.cond`` carrying the whole state costs
    more to trace and compile than they cost to run (BENCHMARKS.md, issue 13).
    """
    in_warmup = i < warmup
    state = _select(in_warmup,
                    _dual_averaging(state, tf.reduce_mean(accept), target_accept), state)
    in_slow = in_warmup & (i >= slow_start) & (i < tf.reduce_max(window_ends))
    return _select(in_slow, _welford(state, z, dense, grad_z), state)


def _select(take, new, old):
    """``new`` where ``take``, else ``old``, entry by entry (entries ``new`` did not
    replace stay as they are)."""
    return {k: v if new[k] is v else tf.where(take, new[k], v) for k, v in old.items()}


def window_ends_at(window_ends, i):
    """Whether a slow window ends after step ``i`` (a compiled chunk stops there, and the
    host calls :func:`final` through ``_nuts.remetric``)."""
    return tf.reduce_any(tf.equal(window_ends, i + 1))


def _merge(n_a, mean_a, m2_a, x, dense=False):
    """Chan's merge of the rows of ``x`` into a running ``(mean, m2)`` over ``n_a`` rows."""
    n_b = tf.cast(tf.shape(x)[0], x.dtype)
    mean_b = tf.reduce_mean(x, axis=0)
    dev = x - mean_b
    n = n_a + n_b
    delta = mean_b - mean_a
    if dense:
        m2_b = tf.matmul(dev, dev, transpose_a=True)
        extra = delta[:, None] * delta[None, :]
    else:
        m2_b = tf.reduce_sum(dev * dev, axis=0)
        extra = delta * delta
    return mean_a + delta * n_b / n, m2_a + m2_b + extra * n_a * n_b / n


def _welford(state, z, dense, grad_z=None):
    """Pool the chains' current positions (and gradients, when given) into the running
    means and variances."""
    n_a = state["w_n"]
    mean, m2 = _merge(n_a, state["w_mean"], state["w_m2"], z, dense)
    out = dict(state, w_n=n_a + tf.cast(tf.shape(z)[0], z.dtype), w_mean=mean, w_m2=m2)
    if grad_z is not None:
        out["g_mean"], out["g_m2"] = _merge(n_a, state["g_mean"], state["g_m2"], grad_z,
                                            len(state["g_m2"].shape) == 2)
    return out


def _spd_function(matrix, fn):
    vals, vecs = np.linalg.eigh(0.5 * (matrix + matrix.T))
    return (vecs * fn(vals)) @ vecs.T


def low_rank_covariance(draws_m2, grads_m2, n, ridge=LOW_RANK_RIDGE, cutoff=LOW_RANK_CUTOFF):
    """nutpie's low-rank + diagonal covariance from sums of squares of draws and gradients.

    ``draws_m2`` and ``grads_m2`` (``[D, D]``) are the sums of the outer products of the
    ``n`` centred draws and of the centred gradients of the log density over a window.
    With ``s = (var(draws) / var(gradients))^(1/4)`` per coordinate, the covariance is
    ``diag(s) C diag(s)``, where ``C`` is the geometric mean of the scaled draws' sums of
    squares ``A`` and the inverse of the scaled gradients' ``B`` (the matrix with
    ``C B C = A``; each divided by ``ridge`` plus the identity), with its eigenvalues
    inside ``[1/cutoff, cutoff]`` set to 1. numpy, float64 (the sampler calls it between
    compiled chunks, at window ends).

    Notes
    -----
    For a Gaussian posterior the draws' covariance and the gradients' inverse covariance
    agree, and so does their geometric mean; it needs fewer draws than either alone
    because it uses both. A window of no more draws than dimensions gives the diagonal
    only (the low-rank part would see spurious directions). A coordinate whose gradient
    never varies keeps its draws' variance.
    """
    draws_m2 = np.asarray(draws_m2, np.float64)
    grads_m2 = np.asarray(grads_m2, np.float64)
    n = float(n)
    tiny = np.finfo(np.float64).tiny
    var_x, var_g = np.diag(draws_m2), np.diag(grads_m2)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.sqrt(np.maximum(var_x, tiny) / np.maximum(var_g, tiny))
    flat = ~(var_g > 0) | ~np.isfinite(ratio)
    variance = np.where(flat, np.maximum(var_x, tiny) / max(n - 1.0, 1.0), ratio)
    s = np.sqrt(variance)
    outer = s[:, None] * s[None, :]
    eye = np.eye(len(s))
    # With no more draws than dimensions the spans of the draws and of the gradients
    # differ, and a direction seen by the draws alone looks arbitrarily wide (its gradient
    # variance is the ridge's): on a 203-dimensional GLMM such windows made warm-up
    # trajectories 30x longer. There the estimate stays diagonal.
    if not n > MIN_DRAWS_PER_DIMENSION * len(s):
        return eye * outer
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        a = draws_m2 / outer
        # a flat coordinate carries no gradient information: B equal to A there (mean 1)
        either_flat = flat[:, None] | flat[None, :]
        b = np.where(either_flat, eye * a, grads_m2 * outer)
        a, b = a / ridge + eye, b / ridge + eye
        try:
            b_vals, b_vecs = np.linalg.eigh(b)
            b_half = (b_vecs * np.sqrt(b_vals)) @ b_vecs.T
            b_inv_half = (b_vecs / np.sqrt(b_vals)) @ b_vecs.T
            middle = _spd_function(b_half @ a @ b_half, np.sqrt)
            mean = b_inv_half @ middle @ b_inv_half
            vals, vecs = np.linalg.eigh(0.5 * (mean + mean.T))
        except np.linalg.LinAlgError:  # non-finite sums: no usable correction
            return eye * outer
        vals = np.where((vals > cutoff) | (vals < 1.0 / cutoff), vals, 1.0)
        estimate = (vecs * vals) @ vecs.T * outer
    # rounding in extreme windows (gradient variances spanning many orders of magnitude)
    # can cost positive definiteness: then the diagonal estimate
    if np.all(np.isfinite(estimate)) and np.all(vals > 0):
        return estimate
    return eye * outer


def _cholesky_or_none(matrix):
    try:
        factor = np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return None
    return factor if np.all(np.isfinite(factor)) else None


def _usable_diagonal(variances):
    return bool(np.all(np.isfinite(variances)) and np.all(variances > 0))


def final(state, dense, adaptation="stan"):
    """The state at the end of a slow window: the window's metric, shrunk towards 1e-3
    with weight 5 / (n + 5) as Stan does, its moments cleared and dual averaging restarted
    near the current step size.

    ``"stan"``: the variance of the draws. ``"gradient"`` (diagonal): nutpie's
    ``sqrt(var(draws) / var(gradients))``, exact for a Gaussian in the limit, where both
    ratios give the variance, and better conditioned from few draws. ``"low-rank"``:
    :func:`low_rank_covariance`, regularised by its ridge and cutoff instead.

    numpy (``state`` a dict of arrays; the result has the same dtypes): the sampler calls
    it between compiled chunks, which end at window ends (a Cholesky factorisation and its
    branches in the compiled loop cost more to trace and compile than a whole window's
    estimate costs here).

    Notes
    -----
    A window whose estimate is not positive definite or not finite (a chain stuck, or
    draws with infinities) keeps the diagonal of the estimate, or failing that the
    previous metric, rather than hand NUTS a NaN metric.
    """
    dtype = np.asarray(state["scale"]).dtype
    n = float(state["w_n"])
    m2 = np.asarray(state["w_m2"], np.float64)
    cov = m2 / max(n - 1.0, 1.0)
    shrink = 5.0 / (n + 5.0)
    old = np.asarray(state["scale"], np.float64)
    if dense:
        if adaptation == "low-rank":
            estimate = low_rank_covariance(m2, state["g_m2"], n)
        else:
            estimate = (1.0 - shrink) * cov + 1e-3 * shrink * np.eye(len(cov))
        scale = _cholesky_or_none(estimate)
        if scale is None:
            variances = np.diag(estimate)
            scale = np.diag(np.sqrt(variances)) if _usable_diagonal(variances) else old
    else:
        if adaptation == "gradient":
            g_var = np.asarray(state["g_m2"], np.float64) / max(n - 1.0, 1.0)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                ratio = np.sqrt(cov / np.maximum(g_var, np.finfo(np.float64).tiny))
            # a coordinate whose gradient never varies (flat direction) keeps the draws'
            cov = np.where((g_var > 0) & np.isfinite(ratio), ratio, cov)
        variances = (1.0 - shrink) * cov + 1e-3 * shrink
        scale = np.sqrt(variances) if _usable_diagonal(variances) else old
    log_eps = np.asarray(state["log_eps"])
    zeros = {k: np.zeros_like(state[k]) for k in
             ("w_n", "w_mean", "w_m2", "g_mean", "g_m2", "h_bar", "da_count")}
    return dict(state, loc=np.asarray(state["w_mean"]).copy(), scale=scale.astype(dtype),
                **zeros,
                # restart dual averaging near the current step size, as Stan does
                da_mu=(np.log(10.0) + log_eps).astype(log_eps.dtype),
                log_eps_bar=log_eps.copy())


def _dual_averaging(state, accept, target_accept):
    t = state["da_count"] + 1.0
    eta = 1.0 / (t + _T0)
    h_bar = (1.0 - eta) * state["h_bar"] + eta * (target_accept - accept)
    log_eps = state["da_mu"] - tf.sqrt(t) / _GAMMA * h_bar
    x_eta = t ** (-_KAPPA)
    log_eps_bar = x_eta * log_eps + (1.0 - x_eta) * state["log_eps_bar"]
    return dict(state, da_count=t, h_bar=h_bar, log_eps=log_eps, log_eps_bar=log_eps_bar)
