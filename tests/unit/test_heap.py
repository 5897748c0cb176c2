"""``cti.heap.Heap``: what survives a full collection is frozen, thaw gives back cycles."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from cti.heap import Heap, own_collection_running


class FakeCollector:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.callbacks: list = []
        self.threshold = (700, 10, 10)

    def get_threshold(self) -> tuple[int, int, int]:
        return self.threshold

    def set_threshold(self, *values: int) -> None:
        self.threshold = values

    def collect(self) -> int:
        self.calls.append("collect")
        for callback in list(self.callbacks):  # a real collect() reports itself too
            callback("start", {"generation": 2})
            callback("stop", {"generation": 2, "collected": 7})
        return 7

    def freeze(self) -> None:
        self.calls.append("freeze")

    def unfreeze(self) -> None:
        self.calls.append("unfreeze")

    def collected(self, generation: int, phase: str = "stop") -> None:
        for callback in list(self.callbacks):
            callback(phase, {"generation": generation})


async def test_start_freezes_the_built_heap_and_each_full_collections_survivors():
    gc = FakeCollector()
    heap = Heap(collector=gc, thaw_every_s=None)
    await heap.start()
    # Frozen, then collected once more over the emptied heap: CPython's count of
    # long-lived objects is rebased to what is still in view.
    assert gc.calls == ["collect", "freeze", "collect"]
    assert gc.threshold == (700, 10, 4)  # full collections may come sooner, each smaller
    gc.calls.clear()
    gc.collected(0)
    gc.collected(1)
    gc.collected(2, phase="start")
    assert gc.calls == []  # young collections and a starting full one freeze nothing
    gc.collected(2)
    assert gc.calls == ["freeze"] and heap.full_collections == 1
    gc.collected(2)  # a second one before the loop ran: one rebase for both
    assert gc.calls == ["freeze", "freeze"]
    await asyncio.sleep(0)  # the rebase runs on the loop, after the collection
    assert gc.calls == ["freeze", "freeze", "collect"] and heap.full_collections == 2
    await heap.stop()
    assert gc.callbacks == [] and gc.threshold == (700, 10, 10)  # thresholds restored
    gc.collected(2)
    assert gc.calls == ["freeze", "freeze", "collect"]  # stopped: no more freezing


async def test_thaw_collects_the_whole_heap_once_and_freezes_what_is_left():
    gc = FakeCollector()
    ticks = iter([10.0, 10.25])
    heap = Heap(collector=gc, thaw_every_s=None, clock=lambda: next(ticks))
    await heap.start()
    gc.calls.clear()
    assert heap.thaw() == 7
    # Its own full collection does not freeze halfway: one freeze, after it.
    assert gc.calls == ["unfreeze", "collect", "freeze", "collect"]  # then rebased
    assert heap.last_thaw_freed == 7 and heap.last_thaw_ms == 250.0
    await heap.stop()


_REAL = """
import asyncio, gc
from cti.heap import Heap

class Node:
    def __init__(self):
        self.me = self  # a cycle: only the collector frees it

async def main():
    heap = Heap(thaw_every_s=None)
    await heap.start()
    kept = [Node() for _ in range(1000)]
    gc.collect()  # a full collection: the 1,000 survivors are frozen now
    before = gc.get_freeze_count()
    del kept  # ... and die in cycles the collector no longer sees
    hidden = gc.collect()
    freed = heap.thaw()
    await heap.stop()
    print(before >= 1000, hidden < 1000, freed >= 1000)

asyncio.run(main())
"""


def test_with_the_real_collector_frozen_cycles_wait_for_the_thaw():
    out = subprocess.run([sys.executable, "-c", _REAL], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True"]


async def test_a_probe_can_tell_the_heaps_own_collections_from_cpythons():
    """The rebase and the thaw are generation-2 collections; a probe that counts full
    collections (the bench's) asks ``own_collection_running`` and sees only the one
    CPython's thresholds started."""
    gc = FakeCollector()
    seen: list[tuple[str, bool]] = []
    gc.callbacks.append(lambda phase, info: seen.append((phase, own_collection_running())))
    heap = Heap(collector=gc, thaw_every_s=None)
    await heap.start()  # its first collect() is CPython's kind (the start's), then a rebase
    assert seen == [("start", False), ("stop", False), ("start", True), ("stop", True)]
    seen.clear()
    gc.collected(2)  # CPython's full collection, then the rebase on the loop
    await asyncio.sleep(0)
    assert seen == [("stop", False), ("start", True), ("stop", True)]
    seen.clear()
    heap.thaw()  # its collect() and the rebase after it
    assert seen == [("start", True), ("stop", True), ("start", True), ("stop", True)]
    assert not own_collection_running()
    await heap.stop()
