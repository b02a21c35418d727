"""Chunked NUTS with Stan-style windowed adaptation, as pure functions of an explicit state.

The sampler state is a flat dict of tensors (positions ``y`` in the preconditioned
coordinates, metric, dual-averaging and running-variance statistics, step counter, seed);
``run_chunk`` advances it by up to ``chunk_size`` steps and returns the new state and the
per-step info, stopping early where a slow warm-up window ends, so that the window's
metric is estimated on the host (:func:`remetric`) between chunks.  Nothing else is
carried between chunks (the state includes NUTS's log density and gradient at ``y``:
recomputing them at a chunk boundary could differ in the last bit under XLA fusion), so a
run split into chunks of any size -- and resumed from a saved state -- is the same
computation as one long run.  Randomness is stateless: step ``i`` of a chain uses
SplitMix64's output ``i * 2**32 + stream`` for the key of the chain's seed (lean kernel,
``_nuts_kernel._uniform``), or ``fold_in(seed, i)`` (TFP's kernel, lockstep chains).

The metric is applied by reparameterisation: NUTS runs with an identity mass matrix on
``y`` where ``z = loc + scale * y`` (diagonal) or ``z = loc + L y`` (dense), which is the
same dynamics as NUTS on ``z`` with inverse mass matrix ``scale**2`` (or ``L L^T``).
"""
import numpy as np

from bayesquad._tf import tf, tfp
from bayesquad.inference import _adaptation, _nuts_kernel
from bayesquad.inference._adaptation import (  # noqa: F401  (the sampler's vocabulary)
    METRIC_ADAPTATIONS,
    padded_window_ends,
    warmup_schedule,
)

__all__ = [
    "INFO_NAMES",
    "KERNELS",
    "METRIC_ADAPTATIONS",
    "initial_state",
    "kernel_for",
    "make_run_chunk",
    "remetric",
    "warmup_schedule",
    "with_start_gradients",
]

INFO_NAMES = ("z", "lp", "diverging", "energy", "step_size", "n_steps", "reach_max_depth",
              "acceptance_rate")


def initial_state(z0, seed, dense, scale=None, step_size=1.0):
    """The sampler state before step 0 (numpy arrays, so it can be saved as is).

    ``scale`` is an initial metric: a vector of standard deviations (diagonal) or a Cholesky
    factor (dense); identity when None (see :func:`_adaptation.init`).
    """
    adaptation, y0 = _adaptation.init(z0, dense, scale, step_size)
    dtype = y0.dtype
    return {
        "step": np.asarray(0, np.int32),
        "seed": np.asarray(seed, np.int32),
        "y": y0,
        # NUTS's log density and gradient at y, carried so that chunk boundaries do not
        # recompute them (a recomputation can differ in the last bit under XLA fusion);
        # NaN until with_start_gradients fills them
        "target_lp": np.full(y0.shape[:1], np.nan, dtype),
        "target_grad": np.zeros_like(y0, dtype),
        **adaptation,
    }


def _to_z(state, y, dense):
    if dense:
        return state["loc"] + tf.linalg.matvec(state["scale"], y)
    return state["loc"] + state["scale"] * y


def _dense_gradient_in_z(state, grad_y):
    # z = loc + L y: d/dz = L^-T d/dy
    return tf.transpose(tf.linalg.triangular_solve(
        state["scale"], tf.transpose(grad_y), lower=True, adjoint=True))


def _gradient_in_z(state, grad_y, dense, adaptation):
    """d log p / dz where the adaptation pools gradients (None where it does not)."""
    if adaptation == "gradient" and not dense:
        return grad_y / state["scale"]  # z = loc + scale * y
    if adaptation == "low-rank":
        return _dense_gradient_in_z(state, grad_y)
    return None


def with_start_gradients(states, value_and_grad, dense):
    """``states`` with ``target_lp``/``target_grad`` at their points, where not yet there.

    ``value_and_grad(z [C, D]) -> (log p [C], d log p / dz [C, D])`` is called once for
    the points of every fresh state together (one batched evaluation instead of one per
    chain), outside the compiled chunk: a chunk then holds one copy of the log density's
    graph, in the leapfrog (about a quarter less XLA compile time on W1).  A resumed
    state (``step > 0``), or a fresh one whose values are already filled in, keeps what
    it carries: a checkpoint saved before the first chunk resumes with the values the
    uninterrupted run started from.
    """
    fresh = [i for i, st in enumerate(states) if _needs_start_values(st)]
    if not fresh:
        return list(states)

    z = np.concatenate([np.asarray(_to_z(states[i], states[i]["y"], dense)) for i in fresh])
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


def remetric(state, dense, adaptation="stan"):
    """The state after the slow window that ends at its step: the window's metric
    (:func:`_adaptation.final`), with the chains' points and carried gradients in the new
    metric's coordinates (numpy; between compiled chunks, which stop at window ends).

    The log density is the same at the same point ``z``; only the gradient's coordinates
    change with the metric, so nothing is evaluated again: with ``z = loc + S y``,
    ``d/dy = S^T d/dz`` and ``d/dz = S_old^-T d/dy_old``.
    """
    new = _adaptation.final(state, dense, adaptation)
    y, grad_y = np.asarray(state["y"]), np.asarray(state["target_grad"])
    old_scale, scale = np.asarray(state["scale"]), np.asarray(new["scale"])
    if dense:
        z = state["loc"] + y @ old_scale.T
        # rows: L_new^-1 (z - loc_new); L_new^T L_old^-T g
        y_new = np.linalg.solve(scale, (z - new["loc"]).T).T
        grad_new = np.linalg.solve(old_scale.T, grad_y.T).T @ scale
    else:
        z = state["loc"] + old_scale * y
        y_new = (z - new["loc"]) / scale
        grad_new = grad_y / old_scale * scale
    dtype = y.dtype
    return dict(new, y=y_new.astype(dtype), target_grad=grad_new.astype(dtype))


def _needs_start_values(state):
    if int(state["step"]) != 0:
        return False
    lp = np.asarray(state["target_lp"])
    # NaN marks values not yet evaluated; all zeros, log density and gradient, is how
    # checkpoints of earlier versions marked them
    return bool(not np.all(np.isfinite(lp))
                or (not np.any(lp) and not np.any(np.asarray(state["target_grad"]))))


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
        # key is hashed from its seed once per chunk, not per step (XLA does not hoist it
        # out of the loop; see _nuts_kernel._uniform).
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


#: The transition kernels: ``"lean"`` (:mod:`_nuts_kernel`, one chain per state: chains
#: run as separate samplers) and ``"tfp"`` (TFP's ``NoUTurnSampler``, any number of chains
#: in lockstep).
KERNELS = ("lean", "tfp")


def kernel_for(chains_per_state):
    """The kernel ``sample`` uses for a state of that many chains."""
    return "lean" if chains_per_state == 1 else "tfp"


def make_run_chunk(log_prob, *, chunk_size, max_tree_depth, dense, adaptation="stan",
                   kernel="lean"):
    """Build ``run_chunk(state, n, warmup, slow_start, window_ends, target_accept)``.

    ``log_prob`` maps ``[chains, D]`` to ``[chains]``.  The returned function (not yet
    compiled; the caller wraps it in ``tf.function``) advances ``state`` by ``n <= chunk_size``
    steps, or fewer when a slow window ends first, and returns ``(new_state, info)``:
    ``new_state["step"]`` says how far it got, and ``info`` holds ``chunk_size`` rows of
    per-step values (rows past the steps taken are zeros). A state stopped at a window end
    needs :func:`remetric` before the next call. ``kernel`` is one of :data:`KERNELS`; the
    lean kernel takes states of one chain only.
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    make_kernel = _lean_kernel if kernel == "lean" else _tfp_kernel

    def run_chunk(state, n, warmup, slow_start, window_ends, target_accept):
        state = dict(state)
        dtype = state["y"].dtype
        target_accept = tf.cast(target_accept, dtype)
        if kernel == "lean" and state["y"].shape[0] != 1:
            raise ValueError(f"the lean kernel runs one chain per state, got "
                             f"{state['y'].shape[0]}; use kernel='tfp' for chains in lockstep")
        bootstrap, kernel_step, carried, with_carried = make_kernel(
            log_prob, max_tree_depth, dense)

        i0 = state["step"]
        y0 = state["y"]
        kr0 = with_carried(bootstrap(state, y0, _adaptation.step_size(state, i0, warmup)),
                           state["target_lp"], state["target_grad"])
        bufs = {k: tf.TensorArray(tf.bool if k in ("diverging", "reach_max_depth") else
                                  (tf.int32 if k == "n_steps" else dtype), size=chunk_size)
                for k in INFO_NAMES}

        def body(j, st, y, kr, bufs, _):
            i = i0 + j
            eps = _adaptation.step_size(st, i, warmup)
            y, kr, info = kernel_step(st, y, kr, eps, i)
            z = _to_z(st, y, dense)
            accept = info["acceptance_rate"]
            info = dict(info, z=z, step_size=tf.fill(tf.shape(accept), eps))
            bufs = {k: bufs[k].write(j, info[k]) for k in INFO_NAMES}
            grad_z = _gradient_in_z(st, carried(kr)[1], dense, adaptation)
            st = _adaptation.update(st, i, z, accept, warmup, slow_start, window_ends,
                                    target_accept, dense, grad_z)
            # a chunk stops where a slow window ends: the host computes the new metric
            # (remetric) before the next chunk
            return j + 1, st, y, kr, bufs, _adaptation.window_ends_at(window_ends, i)

        steps, state, y, kr, bufs, _ = tf.while_loop(
            lambda j, *rest: (j < n) & tf.logical_not(rest[-1]), body,
            (tf.constant(0, tf.int32), state, y0, kr0, bufs, tf.constant(False)),
            maximum_iterations=chunk_size)
        state["y"] = y
        state["target_lp"], state["target_grad"] = carried(kr)
        state["step"] = i0 + steps
        return state, {k: b.stack() for k, b in bufs.items()}
    return run_chunk
