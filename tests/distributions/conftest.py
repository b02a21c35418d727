"""Helpers shared by the distribution tests.

They are fixtures because test modules are imported in importlib mode (no package) and
cannot import each other or a helper module.
"""
import numpy as np
import pytest


@pytest.fixture(scope="session")
def xla_value_and_grad():
    """``make(fn)``: a ``tf.function(jit_compile=True)`` returning ``fn(*args)`` and the
    list of its gradients w.r.t. every argument (summed over the value's elements)."""
    import bayesquad  # noqa: F401  (quiet TF import)
    import tensorflow as tf

    def make(fn):
        @tf.function(jit_compile=True)
        def value_and_grad(*args):
            with tf.GradientTape() as tape:
                tape.watch(args)
                value = fn(*args)
            return value, tape.gradient(value, list(args))
        return value_and_grad

    return make


@pytest.fixture(scope="session")
def central_difference():
    """``diff(f, x, h=1e-6, index=None)``: ``(f(x + h) - f(x - h)) / (2 h)``; with
    ``index``, only ``x[index]`` of the array ``x`` is shifted."""

    def diff(f, x, h=1e-6, index=None):
        if index is None:
            return (f(x + h) - f(x - h)) / (2 * h)
        up, dn = np.array(x, dtype=float), np.array(x, dtype=float)
        up[index] += h
        dn[index] -= h
        return (f(up) - f(dn)) / (2 * h)

    return diff
