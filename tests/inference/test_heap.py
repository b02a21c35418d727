"""The heap frozen at the first fit: older objects exempt from the cyclic collector, newer
ones (every fit's own garbage included) collected as usual."""
import gc
import weakref

import pytest

from bayesquad.inference import _heap, find_map, find_map_batch, fit_vi, sample


class _Node:
    """A reference cycle's member that can be weakly referenced."""


def _garbage_cycle():
    """A weak reference to an unreachable reference cycle (alive until collected)."""
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture()
def first_fit(monkeypatch):
    """As if no fit had run in this process yet; the collector as found afterwards."""
    monkeypatch.setattr(_heap, "_done", [False])
    monkeypatch.delenv(_heap.FREEZE_VARIABLE, raising=False)
    enabled = gc.isenabled()
    gc.disable()  # no automatic collection between making a cycle and the assertions
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()


def test_the_first_fit_freezes_what_exists_and_only_that(first_fit):
    old = _garbage_cycle()
    assert _heap.freeze_existing_heap() is True
    assert gc.get_freeze_count() > 0
    gc.collect()
    assert old() is not None  # frozen: the collector does not look at it
    new = _garbage_cycle()
    gc.collect()
    assert new() is None  # made after the freeze: collected as usual
    assert _heap.freeze_existing_heap() is False  # once per process


def test_negative_control_without_the_freeze_the_older_garbage_is_collected(first_fit):
    old = _garbage_cycle()
    gc.collect()
    assert old() is None


def test_a_loop_of_fits_leaves_no_garbage_behind(first_fit):
    """Each fit's garbage is collected during the next fit; a freeze undone and redone
    around every fit (the negative control) would keep it forever."""
    def fit_body():  # a full collection during the fit, and garbage left behind
        gc.collect()
        return _garbage_cycle()

    fit = _heap.with_heap_frozen(fit_body)
    left = [fit() for _ in range(3)]
    assert [ref() for ref in left[:-1]] == [None, None]

    gc.unfreeze()
    control = []
    for _ in range(3):
        gc.freeze()
        control.append(fit_body())
        gc.unfreeze()
    assert all(ref() is not None for ref in control[:-1])


def test_the_freeze_can_be_turned_off(first_fit, monkeypatch):
    monkeypatch.setenv(_heap.FREEZE_VARIABLE, "0")
    before = gc.get_freeze_count()
    assert _heap.freeze_existing_heap() is False
    assert gc.get_freeze_count() == before


@pytest.mark.parametrize("fit", [sample, find_map, find_map_batch, fit_vi])
def test_every_fit_is_decorated(fit):
    assert fit.__code__.co_qualname == "with_heap_frozen.<locals>.wrapper"
    assert fit.__wrapped__.__name__ == fit.__name__
