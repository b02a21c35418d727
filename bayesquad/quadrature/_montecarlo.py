"""Plain and randomised quasi-Monte Carlo integration with a standard error.

``monte-carlo`` draws ``samples`` uniform points per segment from a stateless seed.
``qmc`` uses a Sobol sequence under ``_REPLICATES`` independent random shifts
(Cranley–Patterson rotations); the spread of the replicate means gives the standard
error. The Sobol points are generated eagerly, outside any compiled function, because
TF's Sobol kernel has no XLA implementation; only the shifts are drawn inside.
"""
import functools

import numpy as np

from bayesquad._tf import tf
from bayesquad.quadrature._fixed import finalize
from bayesquad.quadrature._segments import evaluate

__all__ = ["monte_carlo"]

_REPLICATES = 8
_DEFAULT_SAMPLES = 4096


@functools.lru_cache(maxsize=None)
def _sobol(n):
    # TF's sequence starts after 0: prepended, the first 2^m points are equispaced
    with tf.init_scope():
        points = tf.math.sobol_sample(1, max(n - 1, 1), skip=0, dtype=tf.float64)
    points = np.concatenate([[0.0], np.asarray(points)[:, 0]])[:n].copy()
    points.setflags(write=False)
    return points


def _seed(seed):
    if seed is None:
        seed = 0
    if isinstance(seed, (int, np.integer)):
        return tf.constant([0, int(seed)], tf.int64)
    seed = tf.convert_to_tensor(seed)
    if seed.shape != [2] or not seed.dtype.is_integer:
        raise ValueError(f"seed must be an int or a shape-[2] integer tensor, got {seed!r}")
    return seed


def monte_carlo(problem, segments, method, samples, seed, log, rtol, atol):
    n = samples or _DEFAULT_SAMPLES
    dtype = problem.dtype
    count = segments.count
    seed = _seed(seed)
    if method == "qmc":
        reps = _REPLICATES
        per = max(1, n // reps)
        base = tf.constant(_sobol(per), dtype)
        shifts = tf.random.stateless_uniform([reps, count], seed, dtype=dtype)
        u = tf.math.floormod(base[None, None, :] + shifts[:, :, None], 1.0)  # [R, S, per]
    else:
        reps, per = 1, n
        u = tf.random.stateless_uniform([1, count, n], seed, dtype=dtype)
    # keep points strictly inside (0, 1): the infinite maps are singular at the ends
    tiny = tf.constant(np.finfo(dtype.as_numpy_dtype).eps, dtype)
    u = tf.clip_by_value(u, tiny, 1.0 - tiny)
    t = tf.reshape(tf.transpose(u, [1, 0, 2]), [-1])  # segment-major
    seg = np.repeat(np.arange(count), reps * per)
    g, bad = evaluate(problem, segments, seg, t, 1.0 - t, log)
    g = tf.reshape(g, tf.TensorShape([count, reps, per]).concatenate(problem.batch_shape))
    bad = tf.reduce_any(bad, 0)
    if log:
        shift = tf.stop_gradient(tf.reduce_max(g, axis=[0, 1, 2]))
        shift = tf.where(tf.math.is_finite(shift), shift, tf.zeros_like(shift))
        g = tf.exp(g - shift)
    means = tf.reduce_sum(tf.reduce_mean(g, axis=2), axis=0)  # [R] + batch: sum over segments
    value = tf.reduce_mean(means, axis=0)
    if method == "qmc":
        var = tf.math.reduce_variance(means, axis=0) * reps / (reps - 1) / reps
    else:
        seg_var = tf.math.reduce_variance(g[:, 0], axis=1) * per / (per - 1)
        var = tf.reduce_sum(seg_var, axis=0) / per
    error = tf.sqrt(var)
    if log:
        value, error = tf.math.log(value) + shift, tf.math.log(error) + shift
    return finalize(problem, segments, value, error, bad, count * reps * per, log, rtol, atol)
