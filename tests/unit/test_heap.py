"""cskh.heap: the start-up heap frozen out of full collections, refrozen after a model switch, and
every collector run timed into cskh_gc_pause_seconds."""
import asyncio
import gc
import weakref

import pytest

from cskh import heap, metrics


class Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def cycle() -> "weakref.ref[Node]":
    return weakref.ref(Node())


def test_freeze_puts_what_is_alive_out_of_the_collectors_reach():
    node = Node()
    ref = weakref.ref(node)
    frozen = heap.freeze(True)
    assert frozen == gc.get_freeze_count() and frozen > 1000
    del node  # garbage now, but frozen: a full collection does not look at it
    gc.collect()
    assert ref() is not None
    later = cycle()  # made after the freeze: collected as usual
    gc.collect()
    assert later() is None


def test_refreeze_collects_the_garbage_of_a_switch_and_freezes_the_rest():
    node = Node()
    ref = weakref.ref(node)
    heap.freeze(True)
    del node  # an old engine's cycle, dropped after the freeze
    kept = Node()
    assert heap.refreeze(True) > 0
    assert ref() is None
    assert gc.get_freeze_count() > 0 and kept.me is kept


def test_thaw_gives_the_frozen_objects_back_at_shutdown():
    node = Node()
    ref = weakref.ref(node)
    heap.freeze(True)
    del node
    heap.thaw(True)
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert ref() is None


def test_disabled_does_nothing():
    node = Node()
    ref = weakref.ref(node)
    assert heap.freeze(False) == 0 and heap.refreeze(False) == 0
    heap.thaw(False)
    assert gc.get_freeze_count() == 0
    del node
    gc.collect()
    assert ref() is None


def test_every_collection_is_timed_into_the_histogram_by_generation():
    watch = heap.PauseWatch()
    before = {g: metrics.sample("cskh_gc_pause_seconds_count", {"generation": g}, metrics.REGISTRY) for g in "02"}
    watch.install()
    watch.install()  # idempotent: one callback
    try:
        gc.collect(0)
        gc.collect(2)
    finally:
        watch.remove()
    assert [g for g, _ in watch.pending] == [0, 2]
    assert all(0 <= seconds < 5 for _, seconds in watch.pending)
    assert asyncio.run(watch.flush()) == 2 and watch.pending == []
    for g in "02":
        assert metrics.sample("cskh_gc_pause_seconds_count", {"generation": g}, metrics.REGISTRY) == before[g] + 1
    gc.collect()  # removed: no longer timed
    assert watch.pending == []
