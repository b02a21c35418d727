"""The integrals' status codes of a model at a point: the walk to every distribution that
reports ``quadrature_status()``, through wrappers and mixture components."""
from bayesquad._tf import tf
from bayesquad.inference import _model

__all__ = ["status_tensors"]


def _static_rank(shape):
    size = tf.get_static_value(tf.size(shape))
    return None if size is None else int(size)


def _sample_dims_first(dist, x):
    """Rearrange the value of ``tfd.Sample(inner, sample_shape)`` for ``inner``.

    ``x`` is ``[lead..., sample..., event...]`` with ``lead`` the trailing part of the
    batch; ``inner`` needs ``[sample..., 1..., lead..., event...]`` so that the sample dims
    sit left of (and do not collide with) its batch, e.g. the batch of posterior draws.
    """
    inner = dist.distribution
    s_rank = _static_rank(dist.sample_shape)
    e_rank = inner.event_shape.rank
    b_rank = inner.batch_shape.rank
    rank = x.shape.rank
    if not s_rank or None in (e_rank, b_rank, rank):
        return x
    l_rank = rank - s_rank - e_rank
    if l_rank < 0:
        return x
    perm = (list(range(l_rank, l_rank + s_rank)) + list(range(l_rank))
            + list(range(l_rank + s_rank, rank)))
    x = tf.transpose(x, perm)
    shape = tf.shape(x)
    ones = tf.ones([max(0, b_rank - l_rank)], tf.int32)
    return tf.reshape(x, tf.concat([shape[:s_rank], ones, shape[s_rank:]], 0))


def status_tensors(model, layout, obs, z):
    """Flat list of int32 status tensors of every distribution that reports one."""
    values = dict(zip(layout.names, tf.nest.flatten(_model.constrain(model, layout, obs, z))))
    values.update(obs)
    dists, _ = model.sample_distributions(seed=(0, 0), **values)
    by_name = _model._by_name(model, dists)  # pylint: disable=protected-access  (same layer)
    out = []
    for name, dist in by_name.items():
        out.extend(_statuses_within(dist, tf.convert_to_tensor(values[name])))
    return out


def _statuses_within(dist, x):
    """Statuses of ``dist`` or of the integral-defined distributions it is built from.

    Walks ``Independent``/``Sample`` wrappers and mixture components (``tfd.Mixture``'s
    ``components``, ``MixtureSameFamily``'s ``components_distribution``), where W1's
    normalised shapes live.
    """
    fn = getattr(dist, "quadrature_status", None)
    if fn is not None:
        # the one protocol (distributions._mixins.QuadratureStatusMixin): pass the value;
        # a distribution whose integrals do not depend on it ignores it
        status = fn(x)
        return [tf.reshape(tf.cast(status, tf.int32), [-1])]  # counts only: order is moot
    if isinstance(dist, _model._WRAPPERS[1]):  # pylint: disable=protected-access
        return _statuses_within(dist.distribution, _sample_dims_first(dist, x))
    if hasattr(dist, "distribution"):
        return _statuses_within(dist.distribution, x)
    out = []
    for component in getattr(dist, "components", None) or ():
        out.extend(_statuses_within(component, x))
    inner = getattr(dist, "components_distribution", None)
    if inner is not None:
        # the components' batch has one more axis than x: statuses are counts, so the
        # value-dependent ones see x broadcast against it
        out.extend(_statuses_within(inner, x[..., None]))
    return out
