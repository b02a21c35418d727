"""Python's cyclic garbage collector kept off the heap that exists at the first fit.

Importing TensorFlow and TensorFlow Probability leaves ~430,000 objects that the cyclic
collector examines in every full (oldest-generation) collection: 0.18-0.25 s each on the
project's machine. A first fit allocates enough to trigger one such collection, in its
MAP or its trace (W2: one of 0.17-0.25 s in every first run of 3.8-5 s, measured with
``gc.callbacks``). Those objects are module-level state that lives as long as the
process; examining them finds no garbage.

:func:`freeze_existing_heap` moves them to the collector's permanent generation
(``gc.freeze``, O(1)) once per process, when the first fit starts. Later collections
examine only what was made since, the fits' own objects included.

Freezing once, not around every fit, is deliberate. A freeze undone after each fit
(``gc.unfreeze``) would freeze again, at the next fit's start, the garbage the last fit
left: in a loop of fits (simulation-based calibration) no full collection would ever
examine it, and memory would grow with every fit.
"""
import functools
import gc
import os
import threading

__all__ = ["FREEZE_VARIABLE", "freeze_existing_heap", "with_heap_frozen"]

#: Set to ``0`` to leave the garbage collector alone.
FREEZE_VARIABLE = "BAYESQUAD_GC_FREEZE"

_LOCK = threading.Lock()
_done = [False]


def freeze_existing_heap():
    """Freeze every object that exists now, the first time a fit asks; True if it froze.

    Notes
    -----
    Frozen objects are still freed by reference counting; only reference cycles among
    them are never collected. Such a cycle that already existed at the first fit, or
    that an object of that time joins and later leaves unreachable, stays in memory.
    Objects made after the first fit are collected as usual. ``BAYESQUAD_GC_FREEZE=0``
    turns the freeze off.
    """
    with _LOCK:
        if _done[0]:
            return False
        _done[0] = True
        if os.environ.get(FREEZE_VARIABLE, "1").strip() == "0":
            return False
        gc.freeze()
        return True


def with_heap_frozen(fn):
    """``fn`` run after :func:`freeze_existing_heap`."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        freeze_existing_heap()
        return fn(*args, **kwargs)
    return wrapper
