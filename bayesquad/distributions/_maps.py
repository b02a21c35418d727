"""Maps onto a support ``[low, high]`` (ends may be ±inf): event-space bijectors from the
real line, and (re-exported from :mod:`bayesquad.quadrature`, whose ``_coordinates`` is
the one module of coordinate maps) the unit-interval map the quadrature uses.

Both are elementwise and per batch element, so a batch may mix finite and infinite ends.
"""
import numpy as np

from bayesquad._tf import tf, tfp
from bayesquad.distributions._common import common_dtype, finite_parts, static_value
# the unit-interval maps are quadrature's (one module for both layers), re-exported here
from bayesquad.quadrature import unit_map, unit_map_inverse

tfb = tfp.bijectors

__all__ = [
    "IntervalBijector",
    "TrailingEventBijector",
    "interval_bijector",
    "unit_map",
    "unit_map_inverse",
]


class IntervalBijector(tfb.Bijector):
    """Elementwise bijection from the real line onto ``[low, high]`` (ends may be ±inf).

    Per element: ``low + (high - low) * sigmoid(y)`` for a finite window,
    ``low + softplus(y)`` / ``high - softplus(-y)`` for half-lines, identity for the line.
    Used when the finiteness of the ends is not the same for every batch element or not
    known statically; :func:`interval_bijector` returns the plain TFP bijector otherwise.
    """

    def __init__(self, low, high, validate_args=False, name="interval"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            dtype = common_dtype(low, high)
            self._low = tf.convert_to_tensor(low, dtype)
            self._high = tf.convert_to_tensor(high, dtype)
            super().__init__(forward_min_event_ndims=0, validate_args=validate_args,
                             parameters=parameters, name=name, dtype=dtype)

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict(low=tfp.util.ParameterProperties(),
                    high=tfp.util.ParameterProperties())

    def _parts(self):
        lo_fin, hi_fin, lo0, hi0 = finite_parts(self._low, self._high)
        both = lo_fin & hi_fin
        width = tf.where(both, hi0 - lo0, tf.ones_like(lo0))
        return lo_fin, hi_fin, both, lo0, hi0, width

    def _forward(self, y):
        lo_fin, hi_fin, both, lo0, hi0, width = self._parts()
        return tf.where(both, lo0 + width * tf.math.sigmoid(y),
                        tf.where(lo_fin, lo0 + tf.math.softplus(y),
                                 tf.where(hi_fin, hi0 - tf.math.softplus(-y), y)))

    def _inverse(self, x):
        lo_fin, hi_fin, both, lo0, hi0, width = self._parts()
        tiny = np.finfo(x.dtype.as_numpy_dtype).tiny
        u = tf.clip_by_value((x - lo0) / width, tiny, 1.0 - 1e-16)
        d_lo = tf.maximum(x - lo0, tiny)
        d_hi = tf.maximum(hi0 - x, tiny)
        inv_softplus = tfp.math.softplus_inverse
        return tf.where(both, tf.math.log(u) - tf.math.log1p(-u),
                        tf.where(lo_fin, inv_softplus(d_lo),
                                 tf.where(hi_fin, -inv_softplus(d_hi), x)))

    def _forward_log_det_jacobian(self, y):
        lo_fin, hi_fin, both, lo0, hi0, width = self._parts()
        log_sig = tf.math.log_sigmoid
        return tf.where(both, tf.math.log(width) + log_sig(y) + log_sig(-y),
                        tf.where(lo_fin, log_sig(y),
                                 tf.where(hi_fin, log_sig(-y), tf.zeros_like(y))))


def interval_bijector(low, high, validate_args=False):
    """Default event-space bijector onto ``[low, high]``.

    ``tfb.Sigmoid(low, high)`` when both ends are statically finite everywhere,
    ``tfb.Identity`` for the whole line, ``tfb.Shift(low)(tfb.Softplus())`` /
    ``high - softplus(-y)`` for half-lines (all increasing), and
    :class:`IntervalBijector` for mixed or run-time-only ends.
    """
    lo, hi = static_value(low), static_value(high)
    if lo is not None and hi is not None:
        lo_fin, hi_fin = np.isfinite(lo), np.isfinite(hi)
        if np.all(lo_fin) and np.all(hi_fin):
            return tfb.Sigmoid(low=low, high=high, validate_args=validate_args)
        if not np.any(lo_fin) and not np.any(hi_fin):
            return tfb.Identity(validate_args=validate_args)
        if np.all(lo_fin) and not np.any(hi_fin):
            return tfb.Chain([tfb.Shift(low), tfb.Softplus()], validate_args=validate_args)
        if not np.any(lo_fin) and np.all(hi_fin):
            minus = tfb.Scale(-tf.ones_like(high))
            return tfb.Chain([tfb.Shift(high), minus, tfb.Softplus(), minus],
                             validate_args=validate_args)
    return IntervalBijector(low, high, validate_args=validate_args)


def _to_front(x):
    return tf.experimental.numpy.moveaxis(x, -1, 0)


def _to_back(x):
    return tf.experimental.numpy.moveaxis(x, 0, -1)


class TrailingEventBijector(tfb.Bijector):
    """Lift an elementwise bijector with batch shape ``B`` to events of shape ``B + [n]``.

    The trailing event axis is moved to the front before ``inner`` is applied, so
    ``inner``'s parameters (shape ``B``) line up with the batch axes. NaN entries (the
    padding convention of the point-process distributions) pass through unchanged and
    contribute 0 to the log-Jacobian.
    """

    def __init__(self, inner, validate_args=False, name="trailing_event"):
        parameters = dict(locals())
        self._inner = inner
        super().__init__(forward_min_event_ndims=1, validate_args=validate_args,
                         parameters=parameters, name=name, dtype=inner.dtype)

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()

    def _forward(self, y):
        return _to_back(self._inner.forward(_to_front(y)))

    def _inverse(self, x):
        return _to_back(self._inner.inverse(_to_front(x)))

    def _forward_log_det_jacobian(self, y):
        yf = _to_front(y)
        pad = tf.math.is_nan(yf)
        ldj = self._inner.forward_log_det_jacobian(tf.where(pad, tf.zeros_like(yf), yf),
                                                   event_ndims=0)
        ldj = tf.broadcast_to(ldj, tf.shape(yf + tf.zeros_like(ldj)))
        return tf.reduce_sum(tf.where(pad, tf.zeros_like(ldj), ldj), axis=0)
