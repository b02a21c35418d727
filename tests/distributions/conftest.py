"""Helpers shared by the distribution tests.

They are fixtures because test modules are imported in importlib mode (no package) and
cannot import each other or a helper module.
"""
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
