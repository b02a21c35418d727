"""A lean NUTS transition for one chain: multinomial sampling, iterative tree building.

TFP's ``NoUTurnSampler`` carries a batch of chains and much bookkeeping through every
leapfrog step; for one chain under XLA on a CPU its overhead was measured at ~0.2 ms per
leapfrog step (W1: 0.41 ms per step against 0.19 ms for the log density and gradient).
This kernel does the same mathematics with a handful of small operations per step:

* the trajectory doubles (depth ``j`` adds ``2**j`` leapfrog steps in a random direction)
  until it makes a U-turn, diverges or reaches ``max_tree_depth``;
* within a new subtree the proposal is sampled uniformly in proportion to ``exp(-H)``
  (progressively, leaf by leaf); between the old tree and a finished subtree the proposal
  moves to the subtree with probability ``min(1, w_subtree / w_old)`` (biased progressive
  sampling, as Stan);
* U-turns are checked for every balanced sub-subtree as soon as its last leaf exists, from
  checkpoints of momentum and running momentum sum kept at the sub-subtrees' first leaves
  (the iterative scheme of Phan et al. 2019), with Stan's criterion ``p_end · rho <= 0``;
  a subtree that turns or diverges is discarded whole, which keeps the sampler reversible.

The metric is the identity: the caller samples preconditioned coordinates.
"""
import collections

import numpy as np

from bayesquad._tf import tf

__all__ = ["Leaf", "Proposal", "Subtree", "Trajectory", "random_key", "transition"]

#: Stan's divergence threshold on the energy error.
MAX_DELTA_H = 1000.0


# SplitMix64 (Steele, Lea & Flood 2014): the n-th output for a seed is its output
# function at seed + n * golden ratio; distinct counters give independent values.
_GOLDEN = 0x9E3779B97F4A7C15
_MIX = (0xBF58476D1CE4E5B9, 0x94D049BB133111EB)


def _mix64(x):
    """SplitMix64's output function of uint64 ``x``."""
    u64 = lambda c: tf.constant(c, tf.uint64)  # noqa: E731
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, u64(30))) * u64(_MIX[0])
    x = tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, u64(27))) * u64(_MIX[1])
    return tf.bitwise.bitwise_xor(x, tf.bitwise.right_shift(x, u64(31)))


def random_key(seed):
    """The chain's key (uint64 scalar) from an int32 seed ``[2]``."""
    seed = tf.cast(tf.bitcast(tf.cast(seed, tf.int32), tf.uint32), tf.uint64)
    return _mix64(tf.bitwise.left_shift(seed[0], tf.constant(32, tf.uint64)) + seed[1])


def _bits64(key, step, stream):
    """SplitMix64's output number ``step * 2**32 + stream`` for ``key`` (uint64; ``stream``
    may be a vector)."""
    n = (tf.bitwise.left_shift(tf.cast(step, tf.uint64), tf.constant(32, tf.uint64))
         + tf.cast(stream, tf.uint64))
    return _mix64(key + n * tf.constant(_GOLDEN, tf.uint64))


def _to_unit(bits, dtype):
    """A uniform in [0, 1) from the top 53 (float64) or 24 (float32) bits."""
    keep = 53 if dtype == tf.float64 else 24
    top = tf.bitwise.right_shift(bits, tf.constant(64 - keep, tf.uint64))
    return tf.cast(top, dtype) * tf.constant(2.0 ** -keep, dtype)


def _uniform(key, step, stream, dtype):
    """A uniform in [0, 1) from the chain's ``key`` at counter ``(step, stream)``.

    Every random number of a chain comes from one key and its own counter: a
    counter-based generator gives independent values for distinct counters, so no seed is
    hashed per draw. SplitMix64 takes a dozen integer operations where TensorFlow's
    Philox expands to ~200 HLO instructions per call site after optimisation (four sites
    were a third of the sampler's optimised HLO for a small model).
    """
    return _to_unit(_bits64(key, step, stream), dtype)


_MOMENTUM_STREAM = 2 ** 30


def _box_muller(u1, u2):
    """Standard normals from two arrays of uniforms in [0, 1)."""
    radius = tf.sqrt(-2.0 * tf.math.log1p(-u1))  # 1 - u1 in (0, 1]: finite
    return radius * tf.cos(tf.constant(2.0 * np.pi, u1.dtype) * u2)


def _transition_draws(key, step, dim, max_tree_depth, dtype):
    """Every random number of a transition but its leaves', in one call: ``(momentum
    [dim], direction uniforms [depth], subtree acceptance uniforms [depth])`` from streams
    ``2**30 + j``, ``1 + d`` and ``64 + d``.

    One call site instead of one per use: each site costs its own operations in the traced
    graph and its own loop in the compiled program.
    """
    depths = tf.range(max_tree_depth, dtype=tf.int64)
    streams = tf.concat([_MOMENTUM_STREAM + tf.cast(tf.range(2 * dim), tf.int64),
                         1 + depths, 64 + depths], 0)
    u = _uniform(key, step, streams, dtype)
    pairs, rest = u[:2 * dim], u[2 * dim:]
    return (_box_muller(pairs[0::2], pairs[1::2]), rest[:max_tree_depth],
            rest[max_tree_depth:])


def _bits(n, width):
    return tf.bitwise.bitwise_and(tf.bitwise.right_shift(n, tf.range(width)), 1)


def _slots(k, width):
    """Checkpoint slots ``[lo, hi]`` of the sub-subtrees that end at leaf ``k``.

    ``hi`` is the number of set bits of ``k >> 1``; the number of sub-subtrees ending at
    ``k`` is the number of trailing one bits of ``k``.
    """
    hi = tf.reduce_sum(_bits(tf.bitwise.right_shift(k, 1), width))
    trailing = tf.reduce_sum(tf.math.cumprod(_bits(k, width)))
    return hi - trailing + 1, hi


#: The U-turn criterion's momentum sum: ``True`` excludes half of each end's momentum (the
#: trapezoidal integral of the momentum along the trajectory, Betancourt 2017, A.4.2, as
#: NumPyro), ``False`` the plain sum over every point (Stan). Both keep the sampler
#: reversible; the trapezoidal sum stops a trajectory earlier when its ends already turn.
TRAPEZOID_RHO = True


def _turning(p_start, p_end, rho):
    if TRAPEZOID_RHO:
        rho = rho - 0.5 * (p_start + p_end)
    return (tf.reduce_sum(p_start * rho, -1) <= 0) | (tf.reduce_sum(p_end * rho, -1) <= 0)


class Leaf(collections.namedtuple("Leaf", ["q", "p", "grad"])):
    """A point of phase space with the log density's gradient there."""


class Proposal(collections.namedtuple("Proposal", ["q", "lp", "grad", "energy"])):
    """The point the transition would return so far, with what the next one needs."""


class Subtree(collections.namedtuple("Subtree", [
        "k", "leaf", "lp", "proposal", "log_weight", "p_sum", "accept_sum", "diverging",
        "turning", "ckpt_p", "ckpt_sum"])):
    """Loop state while leapfrogging one new subtree, leaf ``k`` next.

    ``log_weight`` is the log of the sum of ``exp(-ΔH)`` over the subtree's leaves,
    ``p_sum`` their momentum sum, ``ckpt_p``/``ckpt_sum`` the U-turn checkpoints (momentum
    and running momentum sum at the first leaf of each open balanced sub-subtree).
    """


class Trajectory(collections.namedtuple("Trajectory", [
        "depth", "left", "right", "proposal", "log_weight", "p_sum", "n_steps",
        "accept_sum", "diverging", "turning"])):
    """Loop state of the doubling: the trajectory's two end leaves and its totals."""


def transition(value_and_grad, q0, lp0, g0, step_size, key, max_tree_depth, step=0):
    """One NUTS transition from ``q0`` ([D]) with log density ``lp0`` and gradient ``g0``.

    ``value_and_grad(q)`` returns ``(log p, d log p / dq)`` for one point ``[D]``.
    ``key`` (from :func:`random_key`) and ``step`` (int, ``< 2**31``) select the random
    numbers: transitions with the same key and different steps are independent.
    Returns ``(q, lp, grad, info)`` with ``info`` holding ``lp``, ``acceptance_rate``
    (mean acceptance probability over the trajectory, for step-size adaptation),
    ``diverging``, ``energy`` (the Hamiltonian at the new state), ``n_steps`` and
    ``reach_max_depth``.
    """
    dtype = q0.dtype
    dim = tf.shape(q0)[0]
    # Streams: direction and subtree acceptance at depth d 1 + d and 64 + d, the
    # momentum 2**30 + j (j < 2 D), leaf k of the subtree at depth d 2**31 + 2**d + k (the
    # leaf's index in a binary heap, below 2**32 for depth <= 30). The leaf's stream is an
    # int32 and wraps: its counter is (step - 1) * 2**32 + 2**31 + 2**d + k, eagerly and
    # under XLA alike, still apart from every other draw's (their streams are below 2**31).
    p0, u_direction, u_subtree = _transition_draws(key, step, dim, max_tree_depth, dtype)
    h0 = -lp0 + 0.5 * tf.reduce_sum(p0 * p0)
    zero, one = tf.constant(0.0, dtype), tf.constant(1.0, dtype)
    neg_inf = tf.constant(-np.inf, dtype)

    def pick(take, new, old):
        return tf.nest.map_structure(lambda a, b: tf.where(take, a, b), new, old)

    def leapfrog(leaf, eps):
        p_half = leaf.p + 0.5 * eps * leaf.grad
        q_new = leaf.q + eps * p_half
        lp_new, g_new = value_and_grad(q_new)
        return Leaf(q_new, p_half + 0.5 * eps * g_new, g_new), lp_new

    def build_subtree(depth, start, eps):
        """Leapfrog ``2**depth`` leaves from ``start``; stop early on a U-turn/divergence."""
        n_leaves = tf.bitwise.left_shift(1, depth)
        first_leaf_stream = 2 ** 31 + n_leaves

        def body(st):
            k = st.k
            leaf, lp = leapfrog(st.leaf, eps)
            h = -lp + 0.5 * tf.reduce_sum(leaf.p * leaf.p)
            delta = tf.where(tf.math.is_finite(h), h - h0, tf.constant(np.inf, dtype))
            log_w_leaf = -delta
            new_log_w = tf.reduce_logsumexp(tf.stack([st.log_weight, log_w_leaf]))
            u = _uniform(key, step, first_leaf_stream + k, dtype)
            take = tf.math.log(u) < log_w_leaf - new_log_w
            p_sum = st.p_sum + leaf.p
            # checkpoints at even leaves, where balanced sub-subtrees start; an even leaf
            # ends no sub-subtree (lo > hi), so its slot hi is free to be written
            lo, hi = _slots(k, max_tree_depth)
            even = tf.equal(tf.bitwise.bitwise_and(k, 1), 0)
            at = tf.one_hot(hi, max_tree_depth, dtype=dtype)[:, None]
            ckpt_p = tf.where(even, st.ckpt_p * (1 - at) + at * leaf.p, st.ckpt_p)
            ckpt_sum = tf.where(even, st.ckpt_sum * (1 - at) + at * p_sum, st.ckpt_sum)
            slots = tf.range(max_tree_depth)
            rho = p_sum - ckpt_sum + ckpt_p
            sub_turn = _turning(ckpt_p, leaf.p[None], rho) & (slots >= lo) & (slots <= hi)
            return Subtree(
                k=k + 1, leaf=leaf, lp=lp,
                proposal=pick(take, Proposal(leaf.q, lp, leaf.grad, h), st.proposal),
                log_weight=new_log_w, p_sum=p_sum,
                accept_sum=st.accept_sum + tf.minimum(one, tf.exp(tf.minimum(-delta, zero))),
                diverging=delta > MAX_DELTA_H,
                turning=tf.reduce_any(sub_turn) & tf.logical_not(even),
                ckpt_p=ckpt_p, ckpt_sum=ckpt_sum)

        init = Subtree(
            k=tf.constant(0), leaf=start, lp=tf.zeros([], dtype),
            proposal=Proposal(start.q, zero, start.grad, zero), log_weight=neg_inf,
            p_sum=tf.zeros_like(start.p), accept_sum=zero, diverging=tf.constant(False),
            turning=tf.constant(False), ckpt_p=tf.zeros([max_tree_depth, dim], dtype),
            ckpt_sum=tf.zeros([max_tree_depth, dim], dtype))
        (out,) = tf.while_loop(
            lambda st: (st.k < n_leaves) & tf.logical_not(st.diverging | st.turning),
            lambda st: (body(st),), (init,))
        return out

    def tree_body(tr):
        forward = tf.gather(u_direction, tr.depth) < 0.5
        start = pick(forward, tr.right, tr.left)
        sub = build_subtree(tr.depth, start, tf.where(forward, step_size, -step_size))
        ok = tf.logical_not(sub.diverging | sub.turning)
        u = tf.gather(u_subtree, tr.depth)
        # biased progressive sampling between the old tree and the new subtree (as Stan)
        take = ok & (tf.math.log(u) < sub.log_weight - tr.log_weight)
        right = pick(ok & forward, sub.leaf, tr.right)
        left = pick(ok & tf.logical_not(forward), sub.leaf, tr.left)
        p_sum = tf.where(ok, tr.p_sum + sub.p_sum, tr.p_sum)
        whole_turn = ok & _turning(left.p, right.p, p_sum)
        return Trajectory(
            depth=tr.depth + 1, left=left, right=right,
            proposal=pick(take, sub.proposal, tr.proposal),
            log_weight=tf.where(ok, tf.reduce_logsumexp(tf.stack([tr.log_weight,
                                                                  sub.log_weight])),
                                tr.log_weight),
            p_sum=p_sum, n_steps=tr.n_steps + sub.k, accept_sum=tr.accept_sum + sub.accept_sum,
            diverging=sub.diverging, turning=sub.turning | whole_turn)

    leaf0 = Leaf(q0, p0, g0)
    init = Trajectory(depth=tf.constant(0), left=leaf0, right=leaf0,
                      proposal=Proposal(q0, lp0, g0, h0), log_weight=zero, p_sum=p0,
                      n_steps=tf.constant(0), accept_sum=zero, diverging=tf.constant(False),
                      turning=tf.constant(False))
    (tr,) = tf.while_loop(
        lambda tr: (tr.depth < max_tree_depth) & tf.logical_not(tr.diverging | tr.turning),
        lambda tr: (tree_body(tr),), (init,))
    prop = tr.proposal
    info = {"lp": prop.lp,
            "acceptance_rate": tr.accept_sum / tf.cast(tf.maximum(tr.n_steps, 1), dtype),
            "diverging": tr.diverging, "energy": prop.energy, "n_steps": tr.n_steps,
            "reach_max_depth": (tf.logical_not(tr.diverging | tr.turning)
                                & (tr.depth >= max_tree_depth))}
    return prop.q, prop.lp, prop.grad, info
