"""The NUTS kernel's counter-based random numbers (SplitMix64, ``_nuts_kernel``).

* Exact values: the generator is SplitMix64 (Steele, Lea & Flood 2014), checked against
  the first output of the reference implementation for seed 0 and against an independent
  pure-Python SplitMix64 at many counters, eagerly and under XLA (integer arithmetic: exact
  by construction).
* Distribution: uniforms and Box-Muller normals from fixed keys against their laws (KS and
  moments), streams and neighbouring steps uncorrelated; a negative control (a key reused
  across two chains) shows the correlation test sees a shared stream.
"""
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from bayesquad.inference import _nuts_kernel

MASK = 2 ** 64 - 1
GOLDEN = 0x9E3779B97F4A7C15


def splitmix64(seed, n):
    """The ``n``-th output (1-based) of SplitMix64 seeded with ``seed``, in pure Python."""
    z = (seed + n * GOLDEN) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def test_reference_value_of_splitmix64():
    # Vigna's splitmix64.c from state 0: the first next() is 0xe220a8397b1dcdaf
    assert splitmix64(0, 1) == 0xE220A8397B1DCDAF
    got = _nuts_kernel._bits64(tf.constant(0, tf.uint64), 0, 1)
    assert int(got.numpy()) == 0xE220A8397B1DCDAF


STEPS = [0, 1, 7, 999, 2 ** 31 - 1]
STREAMS = [0, 1, 64, 2 ** 30, 2 ** 31 + 5]


@pytest.mark.parametrize("mode", ["eager", "xla"])
def test_bits_match_pure_python_at_many_counters(mode):
    key = _nuts_kernel.random_key(tf.constant([123, -456], tf.int32))

    def bits(step, stream):
        return _nuts_kernel._bits64(key, tf.constant(step, tf.int32), tf.constant(stream,
                                                                                   tf.int64))
    fn = tf.function(bits, jit_compile=True, autograph=False) if mode == "xla" else bits
    seed = int(key.numpy())
    for step in STEPS:
        for stream in STREAMS:
            assert int(fn(step, stream).numpy()) == splitmix64(seed, (step << 32) + stream)


def test_keys_of_nearby_seeds_differ_in_about_half_their_bits():
    keys = [int(_nuts_kernel.random_key(tf.constant([0, s], tf.int32)).numpy())
            for s in range(64)]
    assert len(set(keys)) == 64
    flips = [bin(a ^ b).count("1") for a, b in zip(keys[:-1], keys[1:])]
    assert 24 <= np.mean(flips) <= 40


@pytest.mark.parametrize("dtype", [tf.float64, tf.float32])
def test_uniforms_are_uniform_on_the_unit_interval(dtype):
    key = _nuts_kernel.random_key(tf.constant([5, 9], tf.int32))
    u = _nuts_kernel._to_unit(_nuts_kernel._bits64(key, 3, tf.range(20000, dtype=tf.int64)),
                              dtype).numpy()
    assert u.dtype == dtype.as_numpy_dtype
    assert np.all((u >= 0) & (u < 1))
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    # one value per step at a fixed stream: the direction draws of successive transitions
    by_step = _nuts_kernel._uniform(key, tf.range(2000), 1, dtype).numpy()
    assert stats.kstest(by_step, "uniform").pvalue > 1e-3


@pytest.mark.parametrize("dtype", [tf.float64, tf.float32])
def test_box_muller_normals(dtype):
    key = _nuts_kernel.random_key(tf.constant([17, 4], tf.int32))
    # a transition's momentum, asked for 20,000 dimensions
    z = _nuts_kernel._transition_draws(key, 11, 20000, 10, dtype)[0].numpy()
    assert z.dtype == dtype.as_numpy_dtype and np.all(np.isfinite(z))
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(z.mean()) < 4 / np.sqrt(z.size)
    assert abs(z.var() - 1) < 4 * np.sqrt(2 / z.size)


def _chain_uniforms(key, stream, n=4000):
    """One uniform per step ``0 .. n-1`` at ``stream`` (the steps as a vector)."""
    return _nuts_kernel._uniform(key, tf.range(n), stream, tf.float64).numpy()


def test_a_transitions_draws_come_from_their_streams():
    key = _nuts_kernel.random_key(tf.constant([8, 1], tf.int32))
    p, u_direction, u_subtree = _nuts_kernel._transition_draws(key, 5, 3, 10, tf.float64)
    unit = lambda n: (splitmix64(int(key.numpy()), (5 << 32) + n) >> 11) * 2.0 ** -53  # noqa: E731
    np.testing.assert_array_equal(u_direction.numpy(), [unit(1 + d) for d in range(10)])
    np.testing.assert_array_equal(u_subtree.numpy(), [unit(64 + d) for d in range(10)])
    first = [unit(_nuts_kernel._MOMENTUM_STREAM + j) for j in range(6)]
    want = [np.sqrt(-2 * np.log1p(-a)) * np.cos(2 * np.pi * b)
            for a, b in zip(first[0::2], first[1::2])]
    np.testing.assert_allclose(p.numpy(), want, rtol=1e-14)


def test_streams_and_chains_are_uncorrelated_negative_control_shared_key():
    k1 = _nuts_kernel.random_key(tf.constant([1, 2], tf.int32))
    k2 = _nuts_kernel.random_key(tf.constant([1, 3], tf.int32))
    a = _chain_uniforms(k1, 1)
    bound = 4 / np.sqrt(a.size)
    assert abs(np.corrcoef(a, _chain_uniforms(k1, 64))[0, 1]) < bound  # another stream
    assert abs(np.corrcoef(a, _chain_uniforms(k2, 1))[0, 1]) < bound  # another chain
    assert abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < bound  # successive steps
    # negative control: two chains given the same key draw the same numbers
    assert np.corrcoef(a, _chain_uniforms(k1, 1))[0, 1] > 0.999


def test_no_two_draws_of_neighbouring_transitions_share_a_counter():
    """The leaves' int32 streams wrap (2**31 + 2**d + k): their counters must still differ
    from every other draw's, within a transition and across neighbouring ones."""
    key = _nuts_kernel.random_key(tf.constant([2, 9], tf.int32))
    depth, dim = 6, 4
    seen = []
    for step in (40, 41, 42):
        other = _nuts_kernel._bits64(key, step, tf.concat([
            _nuts_kernel._MOMENTUM_STREAM + tf.range(2 * dim, dtype=tf.int64),
            1 + tf.range(depth, dtype=tf.int64), 64 + tf.range(depth, dtype=tf.int64)], 0))
        seen += [int(b) for b in other.numpy()]
        for d in range(depth):
            # as the kernel forms it: int32 arithmetic
            leaf_streams = 2 ** 31 + tf.bitwise.left_shift(1, tf.constant(d)) + tf.range(2 ** d)
            assert leaf_streams.dtype == tf.int32
            seen += [int(b) for b in _nuts_kernel._bits64(key, step, leaf_streams).numpy()]
    assert len(seen) == len(set(seen))
