"""Compiled functions cached per model, so a second fit of the same model skips tracing.

Compiled functions take the observed data as arguments, so new data of the same shape
reuses them.  The quadrature core's reference settings are part of every key: integrals
traced inside ``bayesquad.quadrature.reference_settings`` differ from the others.
"""
import weakref

__all__ = ["cached", "lookup", "reference_settings_now"]

_CACHE = weakref.WeakKeyDictionary()


def reference_settings_now():
    """The active reference settings of the quadrature core, or None."""
    from bayesquad.quadrature import current_reference  # pylint: disable=import-outside-toplevel
    return current_reference()


def _full_key(key):
    from bayesquad.distributions import plans  # pylint: disable=import-outside-toplevel
    return (key, reference_settings_now(), plans.active_key())


def lookup(model, key):
    """What :func:`cached` holds for ``(model, key)`` in the current settings, or None
    (nothing is built or stored)."""
    try:
        return _CACHE.get(model, {}).get(_full_key(key))
    except TypeError:
        return None


def cached(model, key, build):
    """``build()`` once per ``(model, key, reference settings, quadrature plans in force)``;
    models die with their cache."""
    key = _full_key(key)
    try:
        per_model = _CACHE.setdefault(model, {})
    except TypeError:  # unhashable or not weak-referenceable model: no caching
        return build()
    if key not in per_model:
        per_model[key] = build()
    return per_model[key]
