"""Python's cyclic garbage collector kept off the objects that exist before a fit.

Importing TensorFlow and TensorFlow Probability leaves ~430,000 objects that the cyclic
collector examines in every full (oldest-generation) collection: 0.18-0.25 s each on the
project's machine. A first fit allocates enough to trigger one such collection, in its
MAP or its trace (W2: one of 0.17-0.25 s in every first run of 3.8-5 s, measured with
``gc.callbacks``). Those objects are module-level state that lives as long
as the process; examining them finds no garbage.

:func:`heap_frozen` moves them to the collector's permanent generation (``gc.freeze``,
O(1)) for the duration of a fit and back afterwards (``gc.unfreeze``, O(1)): the fit's own
objects are collected as usual, nothing is exempt after the fit, and garbage that existed
before it is collected by the next full collection after it.
"""
import contextlib
import functools
import gc
import threading

__all__ = ["heap_frozen", "with_heap_frozen"]

_LOCK = threading.Lock()
_state = {"depth": 0, "ours": False}
# The interpreter freezes a few hundred objects of its own at start-up (375 in CPython
# 3.12); a count above this one at a fit's start means someone else froze objects since.
_FROZEN_AT_IMPORT = gc.get_freeze_count()


@contextlib.contextmanager
def heap_frozen():
    """Freeze the objects that exist now for the duration of the ``with`` block.

    Re-entrant and thread-safe: nested or concurrent fits freeze once, and the last one
    to finish unfreezes.

    Notes
    -----
    ``gc.unfreeze`` returns every frozen object to the collector, not only ours. A process
    that froze objects itself after importing bayesquad (e.g. a server before forking) is
    therefore left alone: nothing is frozen or unfrozen for it. Objects frozen before the
    import (the interpreter's own start-up objects among them) are unfrozen after the
    first fit, which costs them nothing but a place in the collector's oldest generation.
    """
    with _LOCK:
        if _state["depth"] == 0:
            _state["ours"] = gc.get_freeze_count() <= _FROZEN_AT_IMPORT
            if _state["ours"]:
                gc.freeze()
        _state["depth"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _state["depth"] -= 1
            if _state["depth"] == 0 and _state["ours"]:
                gc.unfreeze()
                _state["ours"] = False


def with_heap_frozen(fn):
    """``fn`` run inside :func:`heap_frozen`."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with heap_frozen():
            return fn(*args, **kwargs)
    return wrapper
