"""The lean NUTS kernel (inference/_nuts_kernel.py) on its own.

* The U-turn checkpoint table: the slots that ``_slots`` names for the balanced
  sub-subtrees ending at each leaf, against a brute-force enumeration, and no slot still
  needed is overwritten before its sub-subtree ends.
* One-step invariance: from exact draws of a correlated Gaussian, one transition must
  leave the distribution unchanged; a negative control (the same kernel aimed at a
  slightly wider Gaussian) shows the test has the power to see a distortion.
"""
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from bayesquad.inference import _nuts_kernel

WIDTH = 10


def _trailing_ones(k):
    n = 0
    while k & 1:
        n, k = n + 1, k >> 1
    return n


def _slot_of_start(s):
    return bin(s >> 1).count("1")


@pytest.mark.parametrize("k", range(2 ** 8))
def test_checkpoint_slots_match_brute_force(k):
    lo, hi = (int(v) for v in _nuts_kernel._slots(tf.constant(k), WIDTH))
    starts = [k - 2 ** j + 1 for j in range(1, _trailing_ones(k) + 1)]
    assert sorted(_slot_of_start(s) for s in starts) == list(range(lo, hi + 1))
    # every open sub-subtree's checkpoint survives until its last leaf: no even leaf
    # between its start and k writes the same slot
    for s in starts:
        writers = [e for e in range(s + 2, k, 2) if _slot_of_start(e) == _slot_of_start(s)]
        assert not writers, (k, s, writers)


D, M = 3, 1200
_A = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [-0.3, 0.4, 0.85]]) * np.array([1.5, 1.0, 0.7])
COV = _A @ _A.T
PREC = np.linalg.inv(COV)


def _one_step_from_exact_draws(scale):
    """Outputs of one transition from each of M exact draws of N(0, COV), targeting
    N(0, scale^2 COV)."""
    prec = tf.constant(PREC / scale ** 2)

    def value_and_grad(q):
        g = -tf.linalg.matvec(prec, q)
        return 0.5 * tf.reduce_sum(q * g), g

    @tf.function(jit_compile=True, autograph=False)
    def run(q0, seeds):
        def one(args):
            q, seed = args
            lp, g = value_and_grad(q)
            out, _, _, info = _nuts_kernel.transition(
                value_and_grad, q, lp, g, tf.constant(0.25, tf.float64),
                _nuts_kernel.random_key(seed), 8)
            return out, info["n_steps"]
        return tf.map_fn(one, (q0, seeds), fn_output_signature=(tf.float64, tf.int32))

    rng = np.random.default_rng(11)
    q0 = rng.standard_normal((M, D)) @ _A.T
    seeds = rng.integers(0, 2 ** 31 - 1, size=(M, 2)).astype(np.int32)
    q, n_steps = run(tf.constant(q0), tf.constant(seeds))
    return q.numpy(), n_steps.numpy(), q0


def _p_values(q):
    """KS p-values of each coordinate and of the Mahalanobis radius under N(0, COV)."""
    ps = [stats.kstest(q[:, i], stats.norm(0.0, np.sqrt(COV[i, i])).cdf).pvalue
          for i in range(D)]
    r2 = np.einsum("ni,ij,nj->n", q, PREC, q)
    ps.append(stats.kstest(r2, stats.chi2(D).cdf).pvalue)
    return np.array(ps)


@pytest.fixture(scope="module")
def exact():
    return _one_step_from_exact_draws(1.0)


def test_one_transition_leaves_the_gaussian_invariant(exact):
    q, n_steps, q0 = exact
    assert np.mean(n_steps) > 3  # real trajectories, not a step or two
    assert np.mean(np.any(q != q0, axis=1)) > 0.9  # and they move
    # five tests at once: Bonferroni at 1e-3 overall
    assert np.min(_p_values(q)) > 1e-3 / 4


def test_negative_control_a_distorted_target_is_detected():
    q, _, _ = _one_step_from_exact_draws(1.25)
    assert np.min(_p_values(q)) < 1e-6


def test_kernel_choice_is_explicit_and_checked():
    from bayesquad.inference import _nuts
    log_prob = lambda z: -0.5 * tf.reduce_sum(z * z, -1)  # noqa: E731
    with pytest.raises(ValueError, match="kernel must be one of"):
        _nuts.make_run_chunk(log_prob, chunk_size=4, max_tree_depth=3, dense=False,
                             kernel="hmc")
    chunk = _nuts.make_run_chunk(log_prob, chunk_size=4, max_tree_depth=3, dense=False,
                                 kernel="lean")
    state = {k: tf.constant(v) for k, v in
             _nuts.initial_state(np.zeros((2, 1)), [0, 0], False).items()}
    with pytest.raises(ValueError, match="one chain per state"):
        chunk(state, tf.constant(1), tf.constant(10), tf.constant(0),
              tf.constant(_nuts.padded_window_ends([])), tf.constant(0.8, tf.float64))
    assert _nuts.kernel_for(1) == "lean" and _nuts.kernel_for(4) == "tfp"


def test_adaptation_pieces_stop_after_warmup():
    """update() changes nothing once i >= warmup; step_size() then uses the averaged size."""
    from bayesquad.inference import _adaptation, _nuts
    state = {k: tf.constant(v) for k, v in
             _nuts.initial_state(np.zeros((1, 2)), [0, 0], False, step_size=0.5).items()}
    ends = tf.constant(_adaptation.padded_window_ends([20, 40]))
    z = tf.constant([[0.3, -0.2]], tf.float64)
    accept = tf.constant([0.6], tf.float64)
    during = _adaptation.update(state, tf.constant(10), z, accept, tf.constant(50),
                                tf.constant(5), ends, tf.constant(0.8, tf.float64), False)
    during = _adaptation.update(during, tf.constant(11), z, accept, tf.constant(50),
                                tf.constant(5), ends, tf.constant(0.8, tf.float64), False)
    assert float(during["da_count"]) == 2.0 and float(during["w_n"]) == 2.0
    after = _adaptation.update(during, tf.constant(60), z, accept, tf.constant(50),
                               tf.constant(5), ends, tf.constant(0.8, tf.float64), False)
    for k in after:
        np.testing.assert_array_equal(after[k].numpy(), during[k].numpy())
    eps_warm = _adaptation.step_size(during, tf.constant(10), tf.constant(50))
    eps_after = _adaptation.step_size(during, tf.constant(60), tf.constant(50))
    np.testing.assert_allclose(float(eps_warm), np.exp(float(during["log_eps"])), rtol=1e-13)
    np.testing.assert_allclose(float(eps_after), np.exp(float(during["log_eps_bar"])),
                               rtol=1e-13)
    assert abs(float(during["log_eps"]) - float(during["log_eps_bar"])) > 1e-3
    assert bool(_adaptation.window_ends_at(ends, tf.constant(19)))
    assert not bool(_adaptation.window_ends_at(ends, tf.constant(20)))


@pytest.mark.parametrize("value, dim, expected", [
    ("auto", 1, True), ("auto", 32, True), ("auto", 33, False), (True, 100, True),
    (False, 2, False), (np.bool_(True), 5, True)])
def test_dense_mass_auto_resolves_by_dimension(value, dim, expected):
    from bayesquad.inference import _sample
    assert _sample.resolve_dense_mass(value, dim) is expected


@pytest.mark.parametrize("value, error", [("dense", ValueError), (1.5, TypeError),
                                          (None, TypeError)])
def test_dense_mass_bad_values_are_named(value, error):
    from bayesquad.inference import _sample
    with pytest.raises(error, match="dense_mass"):
        _sample.resolve_dense_mass(value, 3)
