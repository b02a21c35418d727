"""Graph-mode functions called without TensorFlow's graph optimiser (Grappler).

TensorFlow optimises a ``tf.function``'s graph with Grappler the first time the function
is called. For the MAP's value and gradient that took 0.1-0.45 s of the first call on
W1-W6 against 0.07-0.28 s without (AVX2 EPYC, 2026-12-07), and the later calls were no
faster for it (2-20 ms with or without). The functions here are called once per fit, or
a few dozen times by the optimiser, so the optimisation never pays for itself; the
sampler's XLA-compiled chunk does not go through Grappler and is not wrapped.

The setting is TensorFlow's per-thread function-call options, changed only for the
duration of a call: the user's own functions, and other threads, keep theirs.
"""
import contextlib

from tensorflow.core.protobuf import config_pb2
from tensorflow.python.eager import context as _context

__all__ = ["graph_function", "without_graph_optimiser"]

_CONFIGS = {}


def graph_function(python_function, **kwargs):
    """``tf.function(python_function, **kwargs)`` called without Grappler (see module
    docstring); ``kwargs`` must not ask for XLA. Other attributes (``get_concrete_function``,
    ``experimental_get_tracing_count``, ...) are the ``tf.function``'s."""
    from bayesquad._tf import tf  # pylint: disable=import-outside-toplevel
    if kwargs.get("jit_compile"):
        raise ValueError("graph_function is for graph-mode functions; an XLA function "
                         "(jit_compile=True) should be a plain tf.function")
    return _WithoutGraphOptimiser(tf.function(python_function, **kwargs))


class _WithoutGraphOptimiser:
    """A ``tf.function`` whose calls run inside :func:`without_graph_optimiser`."""

    def __init__(self, function):
        self.tf_function = function

    def __call__(self, *args, **kwargs):
        with without_graph_optimiser():
            return self.tf_function(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.tf_function, name)


@contextlib.contextmanager
def without_graph_optimiser():
    """Functions first called inside run their graphs as traced, without Grappler.

    Notes
    -----
    A function is optimised (or not) once, at its first call; call it inside this context
    every time, or its first call outside instantiates it a second time.
    """
    ctx = _context.context()
    try:
        previous = ctx.function_call_options
    except AttributeError:  # a TensorFlow without per-thread call options: leave as is
        yield
        return
    key = (previous.config_proto_serialized, previous.executor_type)
    if key not in _CONFIGS:
        config = config_pb2.ConfigProto()
        config.ParseFromString(previous.config_proto_serialized or b"")
        config.graph_options.rewrite_options.disable_meta_optimizer = True
        _CONFIGS[key] = config
    ctx.function_call_options = _context.FunctionCallOptions(
        executor_type=previous.executor_type, config_proto=_CONFIGS[key])
    try:
        yield
    finally:
        ctx.function_call_options = previous
