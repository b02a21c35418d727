"""Input checks for :func:`integrate` and :func:`cubature`, kept apart from the numerical
loops; which methods exist and what options they read comes from the method tables."""
import numbers

import numpy as np

from bayesquad._tf import tf
from bayesquad.quadrature import _methods

__all__ = ["Problem", "check_method", "check_unused_options", "prepare"]

# tanh-sinh doubles its nodes per level: level 12 is ~10^5 nodes per segment end
MAX_LEVELS = 12
_FLOATS = (tf.float16, tf.bfloat16, tf.float32, tf.float64)


class Problem:
    """Validated inputs: tensors of one float dtype and the static batch shape."""

    def __init__(self, f, lower, upper, args, points, dtype, batch_shape, complement=False):
        self.f = f
        self.complement = complement
        self.lower = lower
        self.upper = upper
        self.args = args
        self.points = points
        self.dtype = dtype
        self.batch_shape = batch_shape

    @property
    def eps(self):
        return float(np.finfo(self.dtype.as_numpy_dtype).eps)

    @property
    def tiny(self):
        return float(np.finfo(self.dtype.as_numpy_dtype).tiny)


def _float_dtype_of(name, value):
    if isinstance(value, (tf.Tensor, tf.Variable)) or hasattr(value, "dtype"):
        dtype = tf.as_dtype(value.dtype)
        if dtype.is_floating:
            return dtype
        if name in ("lower", "upper", "points"):
            raise TypeError(
                f"{name} has dtype {dtype.name}; integration limits must be floating point. "
                f"Pass a float tensor, e.g. tf.cast({name}, tf.float64)."
            )
    return None


def _resolve_dtype(dtype, candidates):
    if dtype is not None:
        dtype = tf.as_dtype(dtype)
        if dtype not in _FLOATS:
            raise TypeError(f"dtype={dtype.name} is not a float dtype; use tf.float64 or tf.float32")
        return dtype
    found = {d for d in candidates if d is not None}
    if len(found) > 1:
        names = sorted(d.name for d in found)
        raise TypeError(
            f"lower, upper, points and args mix float dtypes {names}; cast them to one dtype "
            "or pass dtype= explicitly"
        )
    return found.pop() if found else tf.float64


def _check_tolerance(name, value):
    if value is None:
        return
    if isinstance(value, (tf.Tensor, tf.Variable)):
        static = tf.get_static_value(value)
        if static is None:
            return
        value = static
    if isinstance(value, (str, bytes, bool)) or not isinstance(
            value, (numbers.Real, np.ndarray, np.generic)):
        raise TypeError(
            f"{name}={value!r} must be a number, not {type(value).__name__} "
            f"(e.g. {name}=1e-8)"
        )
    arr = np.asarray(value, dtype=float)
    if np.any(~np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name}={value!r} must be a finite number >= 0 (e.g. {name}=1e-8)")


def _check_positive_int(name, value, minimum=1, maximum=None):
    if value is None:
        return
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}={value!r} is too large: at most {maximum}")


def check_method(table, method):
    """``ValueError`` unless ``method`` is a key of the method ``table``."""
    if not isinstance(method, str) or method not in table:
        raise ValueError(f"method={method!r} is unknown; choose one of {', '.join(table)}")


def check_unused_options(table, method, options, resolved=None, note=""):
    """Every given option must be one the method reads.

    A user passing ``samples=`` to a fixed rule would otherwise believe it was used.
    ``resolved`` is the entry whose options count when ``method`` stands for another
    (cubature's ``"auto"``), ``note`` says so in the message.
    """
    takes = table[resolved or method].options
    unused = [k for k, v in options.items() if v is not None and k not in takes]
    if unused:
        takers = sorted({m for m, spec in table.items() for k in unused if k in spec.options})
        raise ValueError(
            f"{', '.join(f'{k}=' for k in unused)} is not an option of method={method!r}"
            f"{note}, which takes {', '.join(f'{k}=' for k in takes) or 'no options'}"
            f"; {'/'.join(repr(m) for m in takers)} use{'s' if len(takers) == 1 else ''} it"
        )


def _check_options(method, options):
    """The given options are the method's own (``_methods.METHODS``), with sane values."""
    check_unused_options(_methods.METHODS, method, options)
    for key in ("nodes", "panels", "max_evals", "samples"):
        _check_positive_int(key, options.get(key))
    _check_positive_int("max_levels", options.get("max_levels"), minimum=2,
                        maximum=MAX_LEVELS)


def prepare(f, lower, upper, args, points, method, rtol, atol, options, dtype,
            complement=False):
    """Validate and convert; returns a :class:`Problem`."""
    if not callable(f):
        raise TypeError(f"f must be callable as f(x, *args); got {type(f).__name__}")
    check_method(_methods.METHODS, method)
    if not isinstance(complement, bool):
        raise TypeError(f"complement={complement!r} must be True or False")
    if not isinstance(args, (tuple, list)):
        raise TypeError(
            f"args must be a tuple of tensors passed as f(x, *args); got {type(args).__name__}"
            " (wrap a single argument as args=(value,))"
        )
    _check_tolerance("rtol", rtol)
    _check_tolerance("atol", atol)
    _check_options(method, options)

    candidates = [_float_dtype_of("lower", lower), _float_dtype_of("upper", upper)]
    if points is not None:
        candidates.append(_float_dtype_of("points", points))
    candidates += [_float_dtype_of("args", a) for a in args]
    dtype = _resolve_dtype(dtype, candidates)

    lower = tf.convert_to_tensor(lower, dtype=dtype, name="lower")
    upper = tf.convert_to_tensor(upper, dtype=dtype, name="upper")
    if points is not None:
        points = tf.convert_to_tensor(points, dtype=dtype, name="points")
        if points.shape.rank == 0:
            points = points[tf.newaxis]
    converted = []
    for a in args:
        a_dtype = _float_dtype_of("args", a)
        converted.append(tf.convert_to_tensor(a, dtype=a_dtype if a_dtype else None))
    shapes = [lower.shape, upper.shape] + [a.shape for a in converted]
    if points is not None:
        shapes.append(points.shape[:-1])
    batch_shape = tf.TensorShape([])
    try:
        for s in shapes:
            batch_shape = tf.broadcast_static_shape(batch_shape, s)
    except ValueError:
        raise ValueError(
            "the shapes of lower, upper, args (and points without its last axis) do not "
            f"broadcast: {[s.as_list() for s in shapes]}"
        ) from None
    if not batch_shape.is_fully_defined():
        raise ValueError(
            f"the batch shape {batch_shape} must be static; give lower/upper/args fully "
            "defined shapes (e.g. an input_signature with fixed sizes)"
        )
    return Problem(f, lower, upper, tuple(converted), points, dtype, batch_shape, complement)
