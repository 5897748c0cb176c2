"""Drains the journal into Postgres: in order, in batches, exactly once in the table.

Each batch is one transaction: the journal's payloads, as they are, go to Postgres as
one JSON array, and the statements of ``cti.agi.upsert`` apply them (call-start parts,
then call-end parts, then the callback requests of the calls it ended as such). The
checkpoint moves only after the commit, so a crash between the two replays the batch,
which the upserts (and the requests' unique call) make harmless.

When Postgres is down or slow, the batch is retried with a capped exponential backoff
and the journal keeps growing; nothing is dropped. A record Postgres refuses for good
(a constraint it breaks, a value it cannot store, not a call record at all) is isolated
by splitting the batch and kept in ``rejected.jnl`` with the reason, so one bad record
cannot stop the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from cti.agi.journal import Entry, Journal, Position
from cti.agi.records import CallRecord, RecordRejected
from cti.agi.upsert import BadRecords, Batch, apply_batch

log = logging.getLogger("cti.agi.writer")


@dataclass(frozen=True, slots=True)
class WriterOptions:
    batch_size: int = 500
    #: How often to look for records appended by other processes (classic scripts).
    poll_interval: float = 0.25
    #: After a commit, wait this long for more records unless a full batch is waiting:
    #: one transaction per 10 ms at most, not one per fsync group. What a batch costs
    #: Postgres comes in one burst that takes a core for its duration, and the answers
    #: to Asterisk wait for a core meanwhile: since batches got cheap (JSON statements,
    #: a kept connection, a lazy checkpoint), 10 ms gave a lower p99 than 30 ms in 12
    #: of 12 alternating rounds (medians 6.97 vs 8.72 and 6.68 vs 8.09 ms), for the same
    #: requests/s and 0-40 us more drain CPU per request; 5 ms cost much more CPU, 100 ms
    #: a higher p99 (bench/bench_agi_ab.py; docs/performance.md).
    linger: float = 0.01
    #: How far the checkpoint on disk may lag the commits. It is saved (fsync'd twice) at
    #: most this often, when the writer finds nothing more to do, before it releases a
    #: segment and when it stops; a crash in between replays what was committed since,
    #: which the upserts make harmless. Saved after every batch it cost ~10 us of CPU per
    #: record (docs/performance.md).
    checkpoint_interval: float = 0.5
    #: A batch that takes longer than this is abandoned and retried (hung connection).
    batch_timeout: float = 30.0
    backoff_initial: float = 0.1
    backoff_max: float = 5.0
    #: How often to try again for the writer lock when another process holds it.
    lock_retry: float = 1.0


class PermanentFailure(Exception):
    """These records can never be written: Postgres refuses them (constraint, value out
    of range) or they are not call records."""


#: SQLSTATE classes that say "this data", not "this connection": 22 data exception,
#: 23 integrity constraint violation. Everything else (08 connection, 53 resources, 57
#: shutdown, 40 rollback, 42 missing table during a migration...) is worth retrying.
PERMANENT_SQLSTATE_CLASSES = ("22", "23")


def is_permanent(exc: BaseException) -> bool:
    """Whether retrying the same records can never succeed."""
    if isinstance(exc, (BadRecords, RecordRejected, UnicodeDecodeError)):
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in PERMANENT_SQLSTATE_CLASSES


async def upsert_payloads(connection: Any, payloads: Sequence[bytes]) -> None:
    """Apply journal payloads (in journal order) to ``calls`` on an asyncpg connection,
    in a transaction of its own (``cti.agi.upsert``)."""
    batch = Batch.of(payloads)
    async with connection.transaction():
        await apply_batch(connection.fetchrow, batch)


def refusal_reason(payload: bytes, exc: BaseException) -> str:
    """Why one record was refused, for rejected.jnl: what ``CallRecord`` says is wrong
    with it if anything (its checks name the field), else Postgres's message."""
    try:
        CallRecord.from_json(payload)
    except RecordRejected as rejected:
        return str(rejected)
    return str(exc)[:300]


@dataclass(slots=True)
class WriterStats:
    committed: int = 0
    batches: int = 0
    failures: int = 0
    rejected: int = 0
    corrupt_lines: int = 0
    last_error: str | None = None
    last_commit_at: float | None = None
    failing_since: float | None = None
    holds_lock: bool = False


#: How long a stopping writer waits for its cancelled batch to finish.
STOP_GRACE = 2.0


async def _discard(conn: AsyncConnection, *, invalidate: bool) -> None:
    """Close a pooled connection: back to the pool, or (``invalidate``) for good."""
    with contextlib.suppress(Exception):
        if invalidate:
            await conn.invalidate()
        await conn.close()


def _consume_result(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not warn about it


class JournalWriter:
    """The one task that moves records from the journal to Postgres."""

    def __init__(
        self,
        journal: Journal,
        session_factory: async_sessionmaker[AsyncSession],
        options: WriterOptions | None = None,
    ) -> None:
        self.journal = journal
        self.session_factory = session_factory
        self.options = options or WriterOptions()
        self.stats = WriterStats()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._position: Position | None = None
        #: The pooled connection kept between batches, and its asyncpg object.
        self._held: tuple[AsyncConnection, Any] | None = None
        #: The position in checkpoint.json, and when it was saved (monotonic).
        self._saved: Position | None = None
        self._saved_at = 0.0
        #: Called after every batch and every failed attempt (the writer process reports
        #: its counters to its parent through it).
        self.on_batch: Callable[[], None] | None = None
        #: Called when a look at the journal found nothing to commit (the writer
        #: process writes its pending status then).
        self.on_idle: Callable[[], None] | None = None

    @property
    def position(self) -> Position | None:
        """Where the next batch starts (None until the writer has read its checkpoint)."""
        return self._position

    def wake(self) -> None:
        """New records were appended (called by the group committer)."""
        self._wake.set()

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="agi-journal-writer")

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._release()
        if self.stats.holds_lock and self._position != self._saved:
            with contextlib.suppress(Exception):  # the next writer replays from the last one
                self.journal.save_checkpoint(self._position)  # type: ignore[arg-type]
        self.journal.unlock_writer()
        self.stats.holds_lock = False

    async def _run(self) -> None:
        while not self._stopping.is_set():
            if await asyncio.to_thread(self.journal.try_lock_writer):
                break
            log.warning("another process drains this journal; waiting for its lock")
            await self._sleep(self.options.lock_retry)
        self.stats.holds_lock = True
        await self._load_checkpoint()
        backoff = self.options.backoff_initial
        while not self._stopping.is_set():
            try:
                moved = await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Postgres down, network cut, timeout: retry
                self._failed(exc)
                # A plain sleep: new records must not cut the backoff short, or a down
                # database would be hammered once per appended group.
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.options.backoff_max)
                continue
            backoff = self.options.backoff_initial
            if moved == 0:
                await self._release()
                await self._sleep(self.options.poll_interval)
            elif moved < self.options.batch_size:
                await asyncio.sleep(self.options.linger)

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    def _failed(self, exc: BaseException) -> None:
        self.stats.failures += 1
        message = f"{type(exc).__name__}: {exc}"[:500]
        if self.stats.failing_since is None:
            self.stats.failing_since = time.time()
            log.error(
                "cannot write calls to Postgres; journal keeps them", extra={"error": message}
            )
        self.stats.last_error = message
        if self.on_batch is not None:
            self.on_batch()

    async def drain_once(self) -> int:
        """Commit the next batch; returns how many journal lines it consumed (0: none)."""
        if self._position is None:
            await self._load_checkpoint()
        start = self._position
        result = await asyncio.to_thread(
            self.journal.read, start, max_entries=self.options.batch_size
        )
        entries = result.entries
        committed = await self._commit(entries) if entries else 0
        # Only after the commit: a failed batch is retried whole, and must not leave
        # its damaged lines in rejected.jnl twice.
        for position, line in result.corrupt:
            self.stats.corrupt_lines += 1
            log.warning("damaged journal line skipped", extra={"position": str(position)})
            await asyncio.to_thread(self.journal.reject, line, "damaged line (torn by a crash)")
        if result.end != start:
            self._position = result.end
            if result.end.segment != start.segment:
                await self._save_checkpoint()  # before the segments it passed are deleted
                await asyncio.to_thread(self.journal.release_before, result.end)
            elif time.monotonic() - self._saved_at >= self.options.checkpoint_interval:
                await self._save_checkpoint()
        if entries:
            # Records Postgres refused went to rejected.jnl: counted there, not here.
            self.stats.committed += committed
            self.stats.batches += 1
            self.stats.last_commit_at = time.time()
            if self.stats.failing_since is not None:
                log.info("writing calls to Postgres again")
            self.stats.failing_since = None
        if self.on_batch is not None and result.end != start:
            self.on_batch()
        moved = len(result.entries) + len(result.corrupt)
        if moved == 0:
            if self._position != self._saved:
                await self._save_checkpoint()
            if self.on_idle is not None:
                self.on_idle()
        return moved

    async def _load_checkpoint(self) -> None:
        position = await asyncio.to_thread(self.journal.load_checkpoint)
        # As good as just saved: the interval counts from here (not from boot).
        self._position, self._saved, self._saved_at = position, position, time.monotonic()

    async def _save_checkpoint(self) -> None:
        position = self._position
        assert position is not None
        await asyncio.to_thread(self.journal.save_checkpoint, position)
        self._saved, self._saved_at = position, time.monotonic()

    async def _commit(self, entries: Sequence[Entry]) -> int:
        """Commit ``entries``; returns how many are in Postgres (the others, refused for
        good, are in rejected.jnl)."""
        try:
            await self._transaction([e.payload for e in entries])
        except PermanentFailure as exc:
            if len(entries) == 1:
                payload = entries[0].payload
                reason = refusal_reason(payload, exc.__cause__ or exc)
                self.stats.rejected += 1
                log.error(
                    "Postgres refuses a call record; kept in rejected.jnl",
                    extra={"position": str(entries[0].position), "error": reason},
                )
                await asyncio.to_thread(self.journal.reject, payload, reason)
                return 0
            middle = len(entries) // 2  # find the bad record(s); the rest commit
            return await self._commit(entries[:middle]) + await self._commit(entries[middle:])
        return len(entries)

    async def _transaction(self, payloads: list[bytes]) -> None:
        # In a task of its own: a connection that hangs (a stopped Postgres, a silent
        # network) is abandoned after batch_timeout instead of hanging the writer; even
        # its rollback may hang, so the task is not waited for after the cancel.
        task = asyncio.create_task(self._upsert(payloads))
        try:
            done, _ = await asyncio.wait({task}, timeout=self.options.batch_timeout)
        except asyncio.CancelledError:
            # The writer is stopping mid-batch: cancel the batch too (it rolls back and
            # the journal replays it) instead of leaving it to outlive the event loop,
            # and give it a moment to hand its connection back.
            task.cancel()
            task.add_done_callback(_consume_result)
            with contextlib.suppress(BaseException):
                await asyncio.wait({task}, timeout=STOP_GRACE)
            raise
        if not done:
            task.cancel()
            task.add_done_callback(_consume_result)
            raise TimeoutError(f"batch not committed within {self.options.batch_timeout} s")
        task.result()

    async def _upsert(self, payloads: list[bytes]) -> None:
        """The batch on the asyncpg object of a pooled connection, which the writer keeps
        between batches while there is work (``_release``): the statements are plain SQL
        with ``$n`` parameters, run without SQLAlchemy's execution path, and a busy writer
        does not check a connection out of the pool and back in for every batch."""
        held = self._held
        if held is None:
            engine = self.session_factory.kw.get("bind")
            if not isinstance(engine, AsyncEngine) or engine.dialect.driver != "asyncpg":
                raise TypeError("the journal writer needs a postgresql+asyncpg engine")
            conn = await engine.connect()
            try:
                raw = (await conn.get_raw_connection()).driver_connection
            except BaseException:
                await _discard(conn, invalidate=True)
                raise
            held = self._held = (conn, raw)
        conn, raw = held
        try:
            await upsert_payloads(raw, payloads)
        except BaseException as exc:
            if isinstance(exc, Exception) and is_permanent(exc):
                # The transaction rolled back; the connection is fine.
                raise PermanentFailure(str(exc)[:300]) from exc
            # Lost, hung or cancelled (stop, batch timeout) mid-batch: the connection's
            # state is unknown, so it is closed rather than returned to the pool.
            self._held = None
            await _discard(conn, invalidate=True)
            raise

    async def _release(self) -> None:
        """Hand the kept connection back to the pool (nothing to do for now, stopping)."""
        held, self._held = self._held, None
        if held is not None:
            await _discard(held[0], invalidate=False)

    async def drain_all(self) -> int:
        """Commit everything in the journal now (CLI, tests); returns records committed."""
        total = 0
        while True:
            before = self.stats.committed
            moved = await self.drain_once()
            total += self.stats.committed - before
            if moved == 0:
                await self._release()
                return total
