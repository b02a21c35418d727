"""Derived quantities: functions of the parameters recorded with the draws.

A user often reports a function of the parameters (a signal fraction's yield, a
half-life from a rate, a difference of group effects) and wants its posterior summary,
ESS and interval beside the parameters' own, in the same DataTree.  ``derived`` is
evaluated once on all draws after sampling, not inside the sampler's compiled loop, so it
costs nothing per gradient and may use any TensorFlow or NumPy code.
"""
import collections.abc

import numpy as np

from bayesquad._tf import tf

__all__ = ["DERIVED_ATTR", "add_derived", "derived_names"]

#: DataTree attribute listing the posterior variables that ``derived`` added (comma-separated):
#: functions of the parameters, not parameters (a simulator is not given them)
DERIVED_ATTR = "derived_variables"


def add_derived(posterior, derived):
    """``posterior`` (``{name: [C, S, *shape]}`` numpy arrays) with ``derived``'s outputs.

    Parameters
    ----------
    posterior : dict
        Constrained draws by variable name, leading axes (chain, draw).
    derived : callable or None
        ``derived(values) -> {name: array}``; ``values`` maps each variable to a float
        tensor of shape ``[C, S, *shape]``, and every output must keep the leading
        ``[C, S]`` axes (write it as the model writes its own functions: broadcasting over
        leading axes, e.g. ``{"half_life": tf.math.log(2.0) / values["lam"]}``).

    Raises
    ------
    TypeError
        ``derived`` is not callable or does not return a dict of numeric arrays.
    ValueError
        ``derived`` fails on the draws, drops the (chain, draw) axes, or reuses a
        variable's name.
    """
    if derived is None:
        return posterior
    if not callable(derived):
        raise TypeError(f"derived must be a function values -> dict of arrays, got "
                        f"{type(derived).__name__}")
    first = next(iter(posterior.values()))
    lead = tuple(first.shape[:2])
    example = {k: tuple(v.shape) for k, v in list(posterior.items())[:2]}
    try:
        out = derived({k: tf.constant(v) for k, v in posterior.items()})
    except Exception as err:
        raise ValueError(
            f"derived failed on the posterior draws ({type(err).__name__}: {err}); it "
            f"receives every variable with leading (chain, draw) axes, e.g. shapes "
            f"{example}, and must broadcast over them") from err
    if not isinstance(out, collections.abc.Mapping):
        raise TypeError(f"derived must return a dict of name -> array, got "
                        f"{type(out).__name__}")
    added = {}
    for name, value in out.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"derived's output names must be non-empty strings, got "
                            f"{name!r}")
        if name in posterior:
            raise ValueError(f"derived returns {name!r}, which is already a variable of the "
                             f"model; give the derived quantity another name")
        arr = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"derived[{name!r}] is not numeric (dtype {arr.dtype})")
        if tuple(arr.shape[:2]) != lead:
            raise ValueError(
                f"derived[{name!r}] has shape {arr.shape}, not leading (chain, draw) axes "
                f"{lead}: compute it elementwise over the draws (e.g. index the last axes, "
                f"values['beta'][..., 0]) instead of reducing over them")
        added[name] = arr
    return {**posterior, **added}


def derived_names(posterior, parameter_names):
    """The posterior variables that are not parameters, as the attribute's text."""
    return ",".join(n for n in posterior if n not in set(parameter_names))
