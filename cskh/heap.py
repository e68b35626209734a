"""The gateway's long-lived heap and Python's cyclic garbage collector.

A gateway process holds about 800,000 objects once it has started (Rasa's model and domain,
TensorFlow, the KB, FastAPI), and nearly all of them live as long as the process. Python's oldest
generation holds them, so each full collection walks all of them: measured under saturation, one
or two full collections per worker every 45 s, 370–450 ms each, with the worker's event loop (and
every message it was handling) stopped meanwhile. `gc.freeze()` moves the objects alive at the end
of start-up into a permanent generation the collector does not walk; objects made later are
collected as before, and objects freed by reference counting (most of them) are freed as before.

A model switch replaces the engine, so the old one's objects become garbage; some of it is held in
reference cycles, which only the collector frees. `refreeze` unfreezes, collects once (one pause
of the old length, once per switch) and freezes what is left: the new engine.
`PauseWatch` times every collection into `cskh_gc_pause_seconds` (by generation) on /metrics, so
a deployment sees these pauses; `scripts/bench_gc_freeze.py` reads them there under load, with and
without the freeze.
"""
from __future__ import annotations

import gc
import logging
import time
from typing import Dict, List, Tuple

log = logging.getLogger(__name__)


def freeze(enabled: bool = True) -> int:
    """Collect, then put every object alive now out of the collector's reach; the number frozen
    (0 when not enabled)."""
    if not enabled:
        return 0
    gc.collect()
    gc.freeze()
    count = gc.get_freeze_count()
    log.info("garbage collector: %d objects alive after start-up frozen", count)
    return count


def refreeze(enabled: bool = True) -> int:
    """After a model switch: let the collector see everything again, collect the old engine's
    cycles, and freeze what is alive (0 when not enabled)."""
    if not enabled:
        return 0
    gc.unfreeze()
    return freeze()


def thaw(enabled: bool = True) -> None:
    """At shutdown: give the frozen objects back to the collector, so an app built and stopped
    inside a longer-lived process (tests, an embedding program) can be freed."""
    if enabled:
        gc.unfreeze()


class PauseWatch:
    """Times each garbage-collector run of this process. The collector's callback only appends to a
    list (a metric's lock taken inside a collection that began while the same thread held it would
    deadlock); `flush`, from the event loop every second, moves the figures into the histogram."""

    def __init__(self) -> None:
        self.pending: List[Tuple[int, float]] = []
        self._started = 0.0

    def _callback(self, phase: str, info: Dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pending.append((info["generation"], time.perf_counter() - self._started))

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def remove(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    async def flush(self) -> int:
        """Record the runs timed since the last flush; how many."""
        from cskh.metrics import GC_PAUSES

        pending, self.pending = self.pending, []
        for generation, seconds in pending:
            GC_PAUSES.labels(generation=str(generation)).observe(seconds)
        return len(pending)
