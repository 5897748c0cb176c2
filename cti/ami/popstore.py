"""The AMI side's record of the pops it made (``cti.store.screen_pops``), written behind
the screen-pop path so that a pop never waits for it.

``PopRecord.put(message)`` / ``delete(pop_id)`` only queue; one writer task sends what has
piled up in one statement (the last state of each pop), at most one every ``batch_s``
(20 ms), so 100 calls/s -- four changes per call -- cost 50 writes per second at most, not
400. ``restore(node)`` reads back what was still ringing or in
call when this process last stopped (``ScreenPop`` reconciles it with Asterisk's state).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.store import screen_pops

log = logging.getLogger(__name__)

_FAILURES = (SQLAlchemyError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


class PopRecord:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        retry_s: float = 1.0,
        batch_s: float = 0.02,
    ) -> None:
        self.session_factory = session_factory
        self.retry_s = retry_s
        self.batch_s = batch_s
        #: pop_id -> the latest ``pop`` message, or None to delete; insertion-ordered.
        self._pending: dict[str, dict[str, Any] | None] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._busy = False
        self.writes = 0
        self.failures = 0

    def put(self, message: dict[str, Any]) -> None:
        """Record the pop (its state is ``message["pop"]["state"]``)."""
        self._pending.pop(message["pop_id"], None)
        self._pending[message["pop_id"]] = message
        self._kick()

    def delete(self, pop_id: str) -> None:
        """Forget the pop (withdrawn: nobody should see it again)."""
        self._pending.pop(pop_id, None)
        self._pending[pop_id] = None
        self._kick()

    def _kick(self) -> None:
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write_loop(), name="pop-record")

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            # Let the changes of the next few ms join this write (the record matters only
            # after a restart; the pops themselves never wait for it).
            await asyncio.sleep(self.batch_s)
            self._wake.clear()
            batch, self._pending = self._pending, {}
            if not batch:
                continue
            puts = [m for m in batch.values() if m is not None]
            deletes = [k for k, m in batch.items() if m is None]
            self._busy = True
            try:
                await screen_pops.write(self.session_factory, puts, deletes, datetime.now(UTC))
                self.writes += 1
            except _FAILURES:
                # Keep the batch (newer changes win) and try again: a pop lost here would
                # only matter after a restart, but it would matter then.
                self.failures += 1
                log.exception("screen-pop record not written; retrying")
                self._pending = {**batch, **self._pending}
                await asyncio.sleep(self.retry_s)
                self._wake.set()
            finally:
                self._busy = False

    async def restore(self, node: str) -> list[dict[str, Any]]:
        """The ``pop`` messages of ``node`` still ringing or in call (oldest first); empty
        when the database cannot be read (the pops then start afresh)."""
        try:
            return await screen_pops.open_on_node(self.session_factory, node)
        except _FAILURES:
            log.exception("screen-pops of %s not restored", node)
            return []

    async def flush(self, within: float = 5.0) -> None:
        """Wait until what was queued is written (tests, shutdown)."""
        deadline = asyncio.get_running_loop().time() + within
        while (self._pending or self._busy) and self._task and not self._task.done():
            if asyncio.get_running_loop().time() > deadline:
                return
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
