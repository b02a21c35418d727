"""PSIS-LOO per log-likelihood variable, computed once per array and shared.

``diagnose`` and the report both need LOO; ArviZ 1.3 runs PSIS observation by observation in
Python (W1's 20,000 events: several seconds), so the result is kept for the few most recent
arrays, keyed by the array object itself (held, so its id cannot be reused).
"""
import collections
import warnings

__all__ = ["loo"]

_RECENT = collections.OrderedDict()
_KEEP = 4


def loo(datatree, var):
    """``arviz.loo(datatree, pointwise=True, var_name=var)``, warnings silenced, cached."""
    import arviz as az  # pylint: disable=import-outside-toplevel
    values = datatree.log_likelihood[var].values
    key = (id(values), values.shape, var)
    hit = _RECENT.get(key)
    if hit is not None and hit[0] is values:
        _RECENT.move_to_end(key)
        return hit[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the verdict reports what the warnings say
        result = az.loo(datatree, pointwise=True, var_name=var)
    _RECENT[key] = (values, result)
    while len(_RECENT) > _KEEP:
        _RECENT.popitem(last=False)
    return result
