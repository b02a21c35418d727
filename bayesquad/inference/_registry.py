"""Which model produced a DataTree, for ``diagnose(dt)`` right after a fit.

A model object cannot be stored in a DataTree's attrs (they must serialise to netCDF), so
each fit writes a random ``bayesquad_run_id`` attr and this module keeps a weak reference to
the model under that id.  The entry dies with the model; a DataTree read back from disk has
no entry, and callers must then pass the model explicitly.
"""
import uuid
import weakref

__all__ = ["register", "lookup"]

_MODELS = {}


def register(model):
    """Remember ``model`` weakly; return the id to store in the DataTree's attrs."""
    run_id = uuid.uuid4().hex
    try:
        ref = weakref.ref(model, lambda _, key=run_id: _MODELS.pop(key, None))
    except TypeError:  # not weak-referenceable: keep nothing rather than leak the model
        return run_id
    _MODELS[run_id] = ref
    return run_id


def lookup(datatree):
    """The live model that produced ``datatree``, or None."""
    run_id = getattr(datatree, "attrs", {}).get("bayesquad_run_id")
    ref = _MODELS.get(run_id)
    return ref() if ref is not None else None
