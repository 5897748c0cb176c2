"""Garbage collection that does not stall the event loop as long-lived objects pile up.

CPython's full (generation 2) collection traverses every tracked object not frozen, and
starts once the objects that reached generation 2 since the last one outnumber a quarter
of those it kept then. An open agent WebSocket holds ~250 such objects (27 suspended
coroutines: the ASGI stack down to the hub), so 2,000 sockets are ~500,000 objects, and
a full collection over them stopped the loop for 300-500 ms -- every pop of that moment
late by as much -- while they connected and again later, during calls.

``Heap`` freezes what survives: the heap the process built before it serves (modules,
models, templates) at start, and after every full collection what that collection kept
(``gc.freeze``: moved to the permanent generation, never traversed again). So a full
collection traverses only what reached generation 2 since the previous one, and its pause
follows the rate at which long-lived objects are made, not how many there are. A full
collection may also run after ``full_after`` collections of generation 1 instead of
CPython's 10, so that even a burst of them (sockets connecting: ~300 a second here) is
traversed in smaller pieces: the same work, in shorter pauses.

The price: a frozen object that later becomes garbage *in a cycle* is not freed, since
the collector no longer looks at it (garbage without cycles is freed by reference
counting as always). ``thaw()`` gives it back -- unfreeze and one full collection of the
whole heap, one long pause -- every ``thaw_every_s`` (6 h by default); the number of
objects it freed is logged and kept in ``last_thaw_freed`` (what froze and then died in a
cycle since the previous thaw).

After each freeze ``Heap`` collects once more, over the heap the freeze just emptied (the
*rebase*): CPython's count of what the last full collection kept then is what is still in
view, not the frozen heap, so the next full collection comes after a few collections of
generation 1 instead of waiting for a quarter of the frozen count. These collections of
its own (rebase, thaw) are generation-2 collections too; ``own_collection_running()``
tells a probe that counts full collections to leave them out.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

#: Collections a Heap started itself that are running now (the collector is one per
#: process, so the flag is too).
_own_running = 0


def own_collection_running() -> bool:
    """Whether the collection running now is a Heap's own (its rebase or thaw), not one
    CPython's thresholds started: for ``gc.callbacks`` that count or time the latter."""
    return _own_running > 0


@contextlib.contextmanager
def _own_collection() -> Iterator[None]:
    global _own_running
    _own_running += 1
    try:
        yield
    finally:
        _own_running -= 1


@dataclass
class Heap:
    """``start()`` in the process's lifespan once everything is built; ``stop()`` at the
    end. ``collector`` is the ``gc`` module (tests pass a fake)."""

    thaw_every_s: float | None = 6 * 3600.0
    full_after: int = 4
    collector: Any = gc
    clock: Callable[[], float] = time.monotonic
    #: Full collections seen since start (each followed by a freeze).
    full_collections: int = 0
    last_thaw_freed: int | None = None
    last_thaw_ms: float | None = None
    _task: asyncio.Task[None] | None = field(default=None, repr=False)
    _installed: bool = field(default=False, repr=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    _rebase_due: bool = field(default=False, repr=False)
    _threshold: tuple[int, int, int] | None = field(default=None, repr=False)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._threshold = young, middle, _full = self.collector.get_threshold()
        self.collector.set_threshold(young, middle, self.full_after)
        self.collector.collect()
        self.collector.freeze()
        self._rebase()
        if not self._installed:
            self.collector.callbacks.append(self._on_collection)
            self._installed = True
        if self.thaw_every_s and self._task is None:
            self._task = asyncio.create_task(self._thaw_loop(), name="heap-thaw")

    async def stop(self) -> None:
        if self._installed:
            self.collector.callbacks.remove(self._on_collection)
            self._installed = False
        if self._threshold is not None:
            self.collector.set_threshold(*self._threshold)
            self._threshold = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _on_collection(self, phase: str, info: dict[str, int]) -> None:
        """A full collection just ended: what it kept is alive now; freeze it (the younger
        generations are empty at this point, so nothing unexamined is frozen)."""
        if phase != "stop" or info.get("generation") != 2 or own_collection_running():
            return
        self.full_collections += 1
        self.collector.freeze()
        if not self._rebase_due and self._loop is not None and not self._loop.is_closed():
            self._rebase_due = True
            # gc.collect() is refused inside a collection: right after it, on the loop
            # (threadsafe: the collection may have run in a worker thread).
            self._loop.call_soon_threadsafe(self._rebase)

    def _rebase(self) -> None:
        """Collect once more, over the (just emptied) unfrozen heap, so that CPython's
        count of long-lived objects is what is still in view, not what was just frozen.
        Otherwise the next full collection waits until a quarter of the *frozen* count has
        reached generation 2 -- 100,000+ objects at 2,000 sockets -- and traverses them
        all in one pause; with the count rebased, it runs every ``full_after`` collections
        of generation 1 over what reached generation 2 since, a few ms each."""
        self._rebase_due = False
        with _own_collection():  # not one to freeze after or count
            self.collector.collect()

    def thaw(self) -> int:
        """Unfreeze everything and collect it once (one long pause); freeze what is left.
        Returns the number of unreachable objects found."""
        started = self.clock()
        with _own_collection():
            self.collector.unfreeze()
            freed = self.collector.collect()
            self.collector.freeze()
        self._rebase()
        self.last_thaw_freed = freed
        self.last_thaw_ms = (self.clock() - started) * 1000
        log.info("heap thawed: %d unreachable objects freed in %.0f ms", freed, self.last_thaw_ms)
        return freed

    async def _thaw_loop(self) -> None:
        assert self.thaw_every_s
        while True:
            await asyncio.sleep(self.thaw_every_s)
            self.thaw()
