"""The fits' frozen heap: objects older than a fit are exempt from the cyclic collector
during it, and only during it."""
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


@pytest.fixture(autouse=True)
def _collector_as_found():
    if gc.get_freeze_count() > _heap._FROZEN_AT_IMPORT:  # pylint: disable=protected-access
        pytest.skip("objects were frozen by someone else in this process")
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()


def test_older_garbage_waits_for_the_fit_to_end_newer_garbage_does_not():
    gc.disable()  # no automatic collection between making the cycle and freezing it
    old = _garbage_cycle()
    with _heap.heap_frozen():
        assert gc.get_freeze_count() > 0
        new = _garbage_cycle()
        gc.collect()
        assert old() is not None  # frozen: the collector does not look at it
        assert new() is None  # the fit's own garbage is collected as usual
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert old() is None


def test_negative_control_without_the_freeze_older_garbage_is_collected():
    gc.disable()
    old = _garbage_cycle()
    gc.collect()
    assert old() is None


def test_nested_and_reentered_scopes_unfreeze_once_at_the_outermost_end():
    with _heap.heap_frozen():
        outer = gc.get_freeze_count()
        with _heap.heap_frozen():
            assert gc.get_freeze_count() >= outer
        assert gc.get_freeze_count() >= outer  # the inner end does not unfreeze
    assert gc.get_freeze_count() == 0


def test_an_unfreeze_by_the_scope_is_not_done_for_someone_elses_freeze():
    gc.freeze()
    theirs = gc.get_freeze_count()
    with _heap.heap_frozen():
        assert gc.get_freeze_count() == theirs
    assert gc.get_freeze_count() == theirs  # still frozen: not ours to undo


def test_the_scope_ends_on_an_exception():
    with pytest.raises(RuntimeError):
        with _heap.heap_frozen():
            raise RuntimeError("boom")
    assert gc.get_freeze_count() == 0


def test_the_decorator_runs_its_function_in_the_scope():
    seen = []
    _heap.with_heap_frozen(lambda: seen.append(gc.get_freeze_count()))()
    assert seen[0] > 0 and gc.get_freeze_count() == 0


@pytest.mark.parametrize("fit", [sample, find_map, find_map_batch, fit_vi])
def test_every_fit_is_decorated(fit):
    assert fit.__code__.co_qualname == "with_heap_frozen.<locals>.wrapper"
    assert fit.__wrapped__.__name__ == fit.__name__
