"""Graph-mode functions called without Grappler: same values, options only during the call."""
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2
from tensorflow.python.eager import context

from bayesquad.inference._graph_calls import graph_function, without_graph_optimiser


def _meta_optimizer_disabled():
    config = config_pb2.ConfigProto()
    config.ParseFromString(context.context().function_call_options.config_proto_serialized)
    return config.graph_options.rewrite_options.disable_meta_optimizer


def test_values_and_gradients_against_closed_forms_and_options_only_during_the_call():
    seen = []

    def value_and_grad(x):
        seen.append(_meta_optimizer_disabled())  # runs while tracing, inside the call
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(tf.sin(x) ** 2 * tf.exp(-x))
        return y, tape.gradient(y, x)
    f = graph_function(value_and_grad, autograph=False)
    x = np.linspace(-1.0, 2.0, 7)
    before = context.context().function_call_options
    y, g = f(tf.constant(x))
    assert seen == [True]
    assert context.context().function_call_options is before
    assert not _meta_optimizer_disabled()
    np.testing.assert_allclose(y.numpy(), np.sum(np.sin(x) ** 2 * np.exp(-x)), rtol=1e-13)
    np.testing.assert_allclose(
        g.numpy(), (2 * np.sin(x) * np.cos(x) - np.sin(x) ** 2) * np.exp(-x), rtol=1e-12)
    # the same graph as TensorFlow's own function
    y_tf, g_tf = tf.function(value_and_grad, autograph=False)(tf.constant(x))
    np.testing.assert_allclose(y.numpy(), y_tf.numpy(), rtol=1e-14)
    np.testing.assert_allclose(g.numpy(), g_tf.numpy(), rtol=1e-14)
    assert f.get_concrete_function(tf.constant(x)) is not None  # traced once, reused


def test_options_are_restored_after_an_error():
    before = context.context().function_call_options
    with pytest.raises(RuntimeError, match="inside"):
        with without_graph_optimiser():
            assert _meta_optimizer_disabled()
            raise RuntimeError("inside")
    assert context.context().function_call_options is before


def test_xla_functions_are_refused():
    with pytest.raises(ValueError, match="jit_compile"):
        graph_function(lambda x: x, jit_compile=True)
