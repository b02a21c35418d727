"""Chain groups: independent NUTS samplers advanced concurrently, chunk by chunk.

A *group* is a set of chains that move in lockstep inside one compiled call and share their
adaptation (step size, metric).  ``chain_method="vectorized"`` is one group of all chains;
``"parallel"`` makes every chain its own group, so each chain adapts on its own draws (as
Stan and NumPyro do) and builds its own trees.  Groups run in Python threads: a compiled
call releases the interpreter lock while XLA computes, so groups use the machine's cores
and a chain never waits for another chain's longer trajectory except at chunk ends.

Why this is faster on a CPU: NUTS in lockstep takes, at every transition, as many leapfrog
steps as the longest trajectory among the chains (measured on W1: 8.7 gradient evaluations
per transition against a mean of 5.2 per chain), and batching chains buys nothing on a CPU
because a log density over 20,000 events already fills the vector units.
"""
import concurrent.futures
import os
import time

import numpy as np

from bayesquad._tf import tf
from bayesquad.inference import _checkpoint, _nuts
from bayesquad.inference._progress import progress_bar

__all__ = ["CHAIN_METHODS", "group_sizes", "group_seeds", "initial_states", "stack",
           "unstack", "run_chunks"]

CHAIN_METHODS = ("parallel", "vectorized")

#: Wall time aimed at per compiled call (the unit of progress updates and checkpoints).
TARGET_CALL_SECONDS = 1.0
_FIRST_CALL_STEPS = 25


def group_sizes(chains, chain_method):
    """Chains per group, e.g. ``[1, 1, 1, 1]`` (parallel) or ``[4]`` (vectorized)."""
    if chain_method == "parallel":
        return [1] * chains
    return [chains]


def group_seeds(base_seed, n_groups):
    """One stateless seed per group; a single group keeps ``base_seed`` itself."""
    if n_groups == 1:
        return [np.asarray(base_seed, np.int32)]
    base = tf.constant(base_seed, tf.int32)
    return [tf.random.experimental.stateless_fold_in(base, g).numpy().astype(np.int32)
            for g in range(n_groups)]


def initial_states(z0, sizes, seeds, dense, metric):
    starts = np.cumsum([0] + list(sizes))
    return [_nuts.initial_state(z0[a:b], seed, dense, metric)
            for a, b, seed in zip(starts[:-1], starts[1:], seeds)]


def stack(states):
    """Group states as one dict of arrays with a leading group axis (for checkpoints)."""
    return {k: np.stack([s[k] for s in states]) for k in states[0]}


def unstack(stacked):
    n_groups = len(next(iter(stacked.values())))
    return [{k: v[g] for k, v in stacked.items()} for g in range(n_groups)]


def _threads(n_groups):
    # More threads than cores would only interleave the same work: every group has the
    # same number of steps per chunk, so the chunk ends when the slowest group does.
    return max(1, min(n_groups, os.cpu_count() or 1))


def run_chunks(run, states, infos, obs_t, fixed, total, warmup, chunk_size, checkpoint,
               progress, step_time, divergences, window_ends=(), remetric=None):
    """Advance every group chunk by chunk to ``total`` steps; append each chunk's info.

    ``infos`` receives one dict per chunk with rows ``[n, chains, ...]`` (groups
    concatenated along the chain axis, in group order).  Chunks end at the slow windows'
    ends ``window_ends``, where ``remetric(state)`` gives each group its new metric before
    the next chunk (and before a checkpoint saves the states).  Returns the final group
    states and the number of divergent sampling transitions.
    """
    ends = sorted(int(e) for e in window_ends)

    def advance(state, n):
        as_tensors = {k: tf.constant(v) for k, v in state.items()}
        new_state, info = run(as_tensors, obs_t, tf.constant(n, tf.int32), *fixed)
        new_state = {k: v.numpy() for k, v in new_state.items()}
        taken = int(new_state["step"]) - int(state["step"])
        if taken != n:  # the chunk stops at window ends, and so do the calls
            raise RuntimeError(f"a chunk took {taken} steps where {n} were asked for "
                               f"(window ends {ends})")
        if int(new_state["step"]) in ends:
            new_state = remetric(new_state)
        return new_state, {k: v.numpy()[:n] for k, v in info.items()}

    pool = (concurrent.futures.ThreadPoolExecutor(_threads(len(states)))
            if len(states) > 1 else None)
    try:
        with progress_bar(total, warmup, enabled=progress) as update:
            step = int(states[0]["step"])
            update(step, divergences)
            # Calls are sized to last about TARGET_CALL_SECONDS: long enough that the
            # per-call cost (copying the state, dispatch, threads) vanishes for fast models
            # (W2: 0.3 ms per transition), short enough for live progress on slow ones.
            per_call = min(chunk_size, _FIRST_CALL_STEPS)
            while step < total:
                n = min([per_call, total - step] + [e - step for e in ends if e > step])
                tic = time.perf_counter()
                if pool is None:
                    results = [advance(states[0], n)]
                else:
                    results = list(pool.map(advance, states, [n] * len(states)))
                states = [r[0] for r in results]
                info = {k: np.concatenate([r[1][k] for r in results], axis=1)
                        for k in _nuts.INFO_NAMES}
                elapsed = time.perf_counter() - tic
                per_call = int(min(chunk_size, max(1, n * TARGET_CALL_SECONDS
                                                  / max(elapsed, 1e-6))))
                n_warm = max(0, min(n, warmup - step))
                step_time["warmup"] += elapsed * n_warm / n
                step_time["sampling"] += elapsed * (n - n_warm) / n
                infos.append(info)
                if checkpoint is not None:
                    _checkpoint.save_chunk(str(checkpoint), len(infos) - 1, stack(states),
                                           info)
                divergences += int(info["diverging"][max(0, warmup - step):].sum())
                step += n
                update(step, divergences)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return states, divergences

