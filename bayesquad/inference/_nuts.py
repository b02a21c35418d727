"""Chunked NUTS with Stan-style windowed adaptation, as pure functions of an explicit state.

The sampler state is a flat dict of tensors (positions ``y`` in the preconditioned
coordinates, metric, dual-averaging and running-variance statistics, step counter, seed);
``run_chunk`` advances it by up to ``chunk_size`` steps and returns the new state and the
per-step info.  Nothing else is carried between chunks (the state includes NUTS's log
density and gradient at ``y``: recomputing them at a chunk boundary could differ in the
last bit under XLA fusion), so a run split into chunks of any size --
and resumed from a saved state -- is the same computation as one long run.  Randomness is
stateless: step ``i`` of a chain uses Philox counters ``(0, i * 2**32 + stream)`` under the
key of the chain's seed (lean kernel), or ``fold_in(seed, i)`` (TFP's kernel, lockstep
chains).

The metric is applied by reparameterisation: NUTS runs with an identity mass matrix on
``y`` where ``z = loc + scale * y`` (diagonal) or ``z = loc + L y`` (dense), which is the
same dynamics as NUTS on ``z`` with inverse mass matrix ``scale**2`` (or ``L L^T``).
"""
import numpy as np

from bayesquad._tf import tf, tfp
from bayesquad.inference import _nuts_kernel

__all__ = [
    "INFO_NAMES",
    "METRIC_ADAPTATIONS",
    "initial_state",
    "make_run_chunk",
    "warmup_schedule",
    "with_start_gradients",
]

#: ``"stan"``: the metric from the variance of the draws in each window; ``"gradient"``:
#: from draws and gradients (nutpie's diagonal estimate, sqrt(var(draws)/var(gradients)),
#: which matches a Gaussian's variances from fewer draws and weighs each coordinate by
#: how sharply the density changes along it; dense metrics always use the draws).
METRIC_ADAPTATIONS = ("stan", "gradient")

# Dual-averaging constants of Hoffman & Gelman (2014), as in Stan.
_GAMMA, _T0, _KAPPA = 0.05, 10.0, 0.75
_MAX_WINDOWS = 24  # window ends are passed padded to this length so shapes never change

INFO_NAMES = ("z", "lp", "diverging", "energy", "step_size", "n_steps", "reach_max_depth",
              "acceptance_rate")


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


def initial_state(z0, seed, dense, scale=None, step_size=1.0):
    """The sampler state before step 0 (numpy arrays, so it can be saved as is).

    ``scale`` is an initial metric: a vector of standard deviations (diagonal) or a Cholesky
    factor (dense); identity when None.
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
    return {
        "step": np.asarray(0, np.int32),
        "seed": np.asarray(seed, np.int32),
        "y": y0.astype(dtype),
        # NUTS's log density and gradient at y, carried so that chunk boundaries do not
        # recompute them (a recomputation can differ in the last bit under XLA fusion)
        "target_lp": np.zeros(z0.shape[:1], dtype),
        "target_grad": np.zeros_like(y0, dtype),
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
        # running mean/variance of the gradient in z (for metric_adaptation="gradient")
        "g_mean": np.zeros(d, dtype),
        "g_m2": np.zeros(d, dtype),
    }


def _to_z(state, y, dense):
    if dense:
        return state["loc"] + tf.linalg.matvec(state["scale"], y)
    return state["loc"] + state["scale"] * y


def _to_y(state, z, dense):
    if dense:
        centred = tf.transpose(z - state["loc"])
        return tf.transpose(tf.linalg.triangular_solve(state["scale"], centred, lower=True))
    return (z - state["loc"]) / state["scale"]


def _gradient_in_new_metric(old, new, grad_y, dense):
    """d log p / dy under ``new``'s metric from the gradient under ``old``'s, at one z.

    With ``z = loc + S y``, ``d/dy = S^T d/dz``: ``d/dz = S_old^-T grad_y``.
    """
    if dense:
        grad_z = tf.transpose(tf.linalg.triangular_solve(
            old["scale"], tf.transpose(grad_y), lower=True, adjoint=True))
        return tf.linalg.matvec(new["scale"], grad_z, transpose_a=True)
    return grad_y / old["scale"] * new["scale"]


def with_start_gradients(states, value_and_grad, dense):
    """``states`` with ``target_lp``/``target_grad`` at their points, where not yet there.

    ``value_and_grad(z [C, D]) -> (log p [C], d log p / dz [C, D])`` is called once for
    the points of every fresh state together (one batched evaluation instead of one per
    chain), outside the compiled chunk: a chunk then holds one copy of the log density's
    graph, in the leapfrog (about a quarter less XLA compile time on W1).  A resumed
    state (``step > 0``) already carries them.
    """
    fresh = [i for i, st in enumerate(states) if int(st["step"]) == 0]
    if not fresh:
        return list(states)

    def z_of(st):
        if dense:
            return st["loc"] + st["y"] @ st["scale"].T
        return st["loc"] + st["scale"] * st["y"]
    z = np.concatenate([z_of(states[i]) for i in fresh])
    lp, grad_z = value_and_grad(tf.constant(z))
    lp, grad_z = np.asarray(lp), np.asarray(grad_z)
    out, at = list(states), 0
    for i in fresh:
        st = states[i]
        n = st["y"].shape[0]
        g = grad_z[at:at + n]
        g = g @ st["scale"] if dense else g * st["scale"]
        out[i] = dict(st, target_lp=lp[at:at + n].astype(st["y"].dtype),
                      target_grad=g.astype(st["y"].dtype))
        at += n
    return out


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
        out["g_mean"], out["g_m2"] = _merge(n_a, state["g_mean"], state["g_m2"], grad_z)
    return out


def _new_metric(state, dense, adaptation="stan"):
    """The window's metric, shrunk towards 1e-3 with weight 5 / (n + 5) as Stan does.

    ``"stan"``: the variance of the draws. ``"gradient"`` (diagonal): nutpie's
    ``sqrt(var(draws) / var(gradients))``, exact for a Gaussian in the limit, where both
    ratios give the variance, and better conditioned from few draws.
    """
    n = state["w_n"]
    cov = state["w_m2"] / tf.maximum(n - 1.0, 1.0)
    shrink = 5.0 / (n + 5.0)
    if dense:
        eye = tf.eye(tf.shape(cov)[0], dtype=cov.dtype)
        scale = tf.linalg.cholesky((1.0 - shrink) * cov + 1e-3 * shrink * eye)
    else:
        if adaptation == "gradient":
            g_var = state["g_m2"] / tf.maximum(n - 1.0, 1.0)
            tiny = tf.constant(np.finfo(cov.dtype.as_numpy_dtype).tiny, cov.dtype)
            ratio = tf.sqrt(cov / tf.maximum(g_var, tiny))
            # a coordinate whose gradient never varies (flat direction) keeps the draws'
            cov = tf.where((g_var > 0) & tf.math.is_finite(ratio), ratio, cov)
        scale = tf.sqrt((1.0 - shrink) * cov + 1e-3 * shrink)
    zero = tf.zeros_like(n)
    return dict(state, loc=state["w_mean"], scale=scale, w_n=zero,
                w_mean=tf.zeros_like(state["w_mean"]), w_m2=tf.zeros_like(state["w_m2"]),
                g_mean=tf.zeros_like(state["g_mean"]), g_m2=tf.zeros_like(state["g_m2"]),
                # restart dual averaging near the current step size, as Stan does
                da_mu=np.log(10.0) + state["log_eps"], h_bar=zero, da_count=zero,
                log_eps_bar=state["log_eps"])


def _dual_averaging(state, accept, target_accept):
    t = state["da_count"] + 1.0
    eta = 1.0 / (t + _T0)
    h_bar = (1.0 - eta) * state["h_bar"] + eta * (target_accept - accept)
    log_eps = state["da_mu"] - tf.sqrt(t) / _GAMMA * h_bar
    x_eta = t ** (-_KAPPA)
    log_eps_bar = x_eta * log_eps + (1.0 - x_eta) * state["log_eps_bar"]
    return dict(state, da_count=t, h_bar=h_bar, log_eps=log_eps, log_eps_bar=log_eps_bar)


def _tfp_kernel(log_prob, max_tree_depth, dense):
    """``(bootstrap, step, carried, with_carried)`` over TFP's NoUTurnSampler.

    Chains move in lockstep.  ``carried``/``with_carried`` read and replace the log density
    and gradient at the current point, which the sampler state carries across calls.
    """
    def kernel(state, step_size):
        return tfp.mcmc.NoUTurnSampler(
            target_log_prob_fn=lambda y: log_prob(_to_z(state, y, dense)),
            step_size=step_size, max_tree_depth=max_tree_depth)

    def bootstrap(state, y, eps):
        return kernel(state, eps).bootstrap_results(y)

    def step(state, y, kr, eps, i):
        seed = tf.random.experimental.stateless_fold_in(state["seed"], i)
        kr = kr._replace(step_size=tf.nest.map_structure(lambda _: eps, kr.step_size))
        y, kr = kernel(state, eps).one_step(y, kr, seed=seed)
        dtype = y.dtype
        accept = tf.minimum(tf.exp(tf.where(tf.math.is_nan(kr.log_accept_ratio),
                                            tf.constant(-np.inf, dtype),
                                            kr.log_accept_ratio)), 1.0)
        info = {"lp": kr.target_log_prob, "diverging": kr.has_divergence,
                "energy": -kr.energy, "n_steps": tf.cast(kr.leapfrogs_taken, tf.int32),
                "reach_max_depth": kr.reach_max_depth, "acceptance_rate": accept}
        return y, kr, info

    def carried(kr):
        return kr.target_log_prob, kr.grads_target_log_prob[0]

    def with_carried(kr, lp, grad):
        return kr._replace(target_log_prob=lp, grads_target_log_prob=[grad])
    return bootstrap, step, carried, with_carried


def _lean_kernel(log_prob, max_tree_depth, dense):
    """The same four functions over :func:`_nuts_kernel.transition`, for one chain."""
    def value_and_grad_fn(state):
        def value_and_grad(y):
            with tf.GradientTape() as tape:
                tape.watch(y)
                lp = log_prob(_to_z(state, y[None], dense))[0]
            return lp, tape.gradient(lp, y)
        return value_and_grad

    def bootstrap(state, y, eps):
        # the state carries the log density and gradient at y (see with_start_gradients):
        # no second copy of the log density's graph in the compiled chunk. The chain's
        # Philox key is hashed from its seed once per chunk, not per step (XLA does not
        # hoist it out of the loop; see _nuts_kernel._uniform).
        del y, eps
        return (state["target_lp"][0], state["target_grad"][0],
                _nuts_kernel.random_key(state["seed"]))

    def step(state, y, carry, eps, i):
        lp0, grad0, key = carry
        q, lp, grad, info = _nuts_kernel.transition(
            value_and_grad_fn(state), y[0], lp0, grad0, eps, key, max_tree_depth, step=i)
        return q[None], (lp, grad, key), {k: v[None] for k, v in info.items()}

    def carried(carry):
        return carry[0][None], carry[1][None]

    def with_carried(carry, lp, grad):
        return lp[0], grad[0], carry[2]
    return bootstrap, step, carried, with_carried


def make_run_chunk(log_prob, *, chunk_size, max_tree_depth, dense, adaptation="stan"):
    """Build ``run_chunk(state, n, warmup, slow_start, window_ends, target_accept)``.

    ``log_prob`` maps ``[chains, D]`` to ``[chains]``.  The returned function (not yet
    compiled; the caller wraps it in ``tf.function``) advances ``state`` by ``n <= chunk_size``
    steps and returns ``(new_state, info)``, where ``info`` holds ``chunk_size`` rows of
    per-step values (rows past ``n`` are zeros).  A state of one chain uses the lean kernel
    of :mod:`_nuts_kernel`; several chains move in lockstep through TFP's
    ``NoUTurnSampler``.
    """
    def run_chunk(state, n, warmup, slow_start, window_ends, target_accept):
        state = dict(state)
        dtype = state["y"].dtype
        target_accept = tf.cast(target_accept, dtype)
        one_chain = state["y"].shape[0] == 1
        bootstrap, kernel_step, carried, with_carried = (
            _lean_kernel if one_chain else _tfp_kernel)(log_prob, max_tree_depth, dense)

        def eps_of(st, i):
            return tf.exp(tf.where(i < warmup, st["log_eps"], st["log_eps_bar"]))

        i0 = state["step"]
        y0 = state["y"]
        kr0 = with_carried(bootstrap(state, y0, eps_of(state, i0)), state["target_lp"],
                           state["target_grad"])
        bufs = {k: tf.TensorArray(tf.bool if k in ("diverging", "reach_max_depth") else
                                  (tf.int32 if k == "n_steps" else dtype), size=chunk_size)
                for k in INFO_NAMES}

        def body(j, st, y, kr, bufs):
            i = i0 + j
            eps = eps_of(st, i)
            y, kr, info = kernel_step(st, y, kr, eps, i)
            z = _to_z(st, y, dense)
            accept = info["acceptance_rate"]
            info = dict(info, z=z, step_size=tf.fill(tf.shape(accept), eps))
            bufs = {k: bufs[k].write(j, info[k]) for k in INFO_NAMES}
            in_warmup = i < warmup
            st = tf.cond(in_warmup,
                         lambda: _dual_averaging(st, tf.reduce_mean(accept), target_accept),
                         lambda: st)
            in_slow = in_warmup & (i >= slow_start) & (i < tf.reduce_max(window_ends))
            if adaptation == "gradient" and not dense:
                # d log p / dz = (d log p / dy) / scale for z = loc + scale * y
                grad_z = carried(kr)[1] / st["scale"]
                st = tf.cond(in_slow, lambda: _welford(st, z, dense, grad_z), lambda: st)
            else:
                st = tf.cond(in_slow, lambda: _welford(st, z, dense), lambda: st)
            window_end = tf.reduce_any(tf.equal(window_ends, i + 1))

            def remetric():
                # the log density is the same at the same z; only the gradient's
                # coordinates change with the metric (no new evaluation, no second graph)
                new = _new_metric(st, dense, adaptation)
                lp, grad_y = carried(kr)
                new_grad = _gradient_in_new_metric(st, new, grad_y, dense)
                return new, _to_y(new, z, dense), with_carried(kr, lp, new_grad)
            st, y, kr = tf.cond(window_end, remetric, lambda: (st, y, kr))
            return j + 1, st, y, kr, bufs

        _, state, y, kr, bufs = tf.while_loop(
            lambda j, *_: j < n, body, (tf.constant(0, tf.int32), state, y0, kr0, bufs),
            maximum_iterations=chunk_size)
        state["y"] = y
        state["target_lp"], state["target_grad"] = carried(kr)
        state["step"] = i0 + n
        return state, {k: b.stack() for k, b in bufs.items()}
    return run_chunk
