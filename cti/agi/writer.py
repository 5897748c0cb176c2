"""Drains the journal into Postgres: in order, in batches, exactly once in the table.

Each batch is one transaction of at most two upserts (call-start parts, then call-end
parts; see ``cti.agi.rows`` for the rules), plus the callback requests of the calls it
ended as such. The checkpoint moves only after the commit, so a crash between the two
replays the batch, which the upserts (and the requests' unique call) make harmless.

When Postgres is down or slow, the batch is retried with a capped exponential backoff
and the journal keeps growing; nothing is dropped. A record Postgres refuses for good
(a constraint it breaks) is isolated by splitting the batch and kept in
``rejected.jnl`` with the reason, so one bad record cannot stop the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cti.agi.journal import Entry, Journal, Position
from cti.agi.records import CallRecord, RecordRejected
from cti.agi.rows import END_FIELDS, START_FIELDS, Folded, fold
from cti.store.calls import Call
from cti.store.counties import County
from cti.store.users import User

log = logging.getLogger("cti.agi.writer")
CALLS = Call.__table__


@dataclass(frozen=True, slots=True)
class WriterOptions:
    batch_size: int = 500
    #: How often to look for records appended by other processes (classic scripts).
    poll_interval: float = 0.25
    #: After a commit, wait this long for more records unless a full batch is waiting:
    #: one transaction per 30 ms at most, not one per fsync group. Each batch is two
    #: statements (unnest), so a batch of a few dozen records is a short slice of
    #: Postgres's time; 10 ms cost more per record (bench/bench_agi.py: writer 196 ->
    #: 168 us of CPU per request, Postgres 73 -> 59 us) for no gain in the answers' p99.
    linger: float = 0.03
    #: How long county and agent look-ups are reused before they are read again.
    lookup_ttl: float = 30.0
    #: A batch that takes longer than this is abandoned and retried (hung connection).
    batch_timeout: float = 30.0
    backoff_initial: float = 0.1
    backoff_max: float = 5.0
    #: How often to try again for the writer lock when another process holds it.
    lock_retry: float = 1.0


class PermanentFailure(Exception):
    """Postgres refuses these records for good (constraint, value out of range)."""


#: SQLSTATE classes that say "this data", not "this connection": 22 data exception,
#: 23 integrity constraint violation. Everything else (08 connection, 53 resources, 57
#: shutdown, 40 rollback, 42 missing table during a migration...) is worth retrying.
#: The class is read from the error itself: SQLAlchemy's asyncpg adapter does not map
#: every data error to DataError (a value too long arrives as a plain DBAPIError).
PERMANENT_SQLSTATE_CLASSES = ("22", "23")


def is_permanent(exc: BaseException) -> bool:
    """Whether retrying the same records can never succeed."""
    if not isinstance(exc, DBAPIError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in PERMANENT_SQLSTATE_CLASSES


def _ts(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


_TIME_FIELDS = {"started_at", "ended_at", "queued_at", "answered_at"}


def _column_values(part: dict[str, object], names: Sequence[str], lookups: Lookups) -> dict:
    out: dict[str, object] = {}
    for name in names:
        value = part[name]
        if name in _TIME_FIELDS:
            value = _ts(value)  # type: ignore[arg-type]
        if name == "county":
            county = lookups.counties.get(value) if value else None  # type: ignore[arg-type]
            out["county_id"] = county[0] if county else None
            continue
        out[name] = value
    if "queue" in names and out.get("queue") is None:
        county = lookups.counties.get(part.get("county"))  # type: ignore[arg-type]
        out["queue"] = county[1] if county else None  # the county's queue by default
    if "caller_number" in names and out.get("caller_number") is None:
        out["caller_number"] = ""
    if "agent_interface" in names:
        iface = out.get("agent_interface")
        out["agent_id"] = lookups.agents.get(iface) if iface else None  # type: ignore[arg-type]
    return out


@dataclass(slots=True)
class Lookups:
    """Reference data a batch needs: county code -> (id, queue), interface -> user id."""

    counties: dict[str, tuple[int, str]]
    agents: dict[str, int]


_START_COLUMNS = [c for c in START_FIELDS if c != "county"] + ["county_id"]
_END_COLUMNS = [*END_FIELDS, "agent_id"]
_START_INSERT = ["node", "linkedid", "direction", "disposition", *_START_COLUMNS]
_END_INSERT = ["node", "linkedid", "direction", *_START_COLUMNS, *_END_COLUMNS]


#: The array type each column's values are sent as (``unnest($n::<type>[])``). Text goes
#: into the varchar columns by assignment, which refuses (SQLSTATE 22001) what is too long
#: instead of cutting it, as a plain INSERT does.
_ARRAY_TYPES = {
    "county_id": "int4",
    "agent_id": "int4",
    "wait_s": "int4",
    "talk_s": "int4",
    "hangup_cause": "int4",
    "started_at": "timestamptz",
    "ended_at": "timestamptz",
    "queued_at": "timestamptz",
    "answered_at": "timestamptz",
}


def _upsert_sql(insert: list[str], updates: list[str]) -> str:
    """One INSERT ... SELECT FROM unnest(...) ON CONFLICT (node, linkedid) DO UPDATE: a
    whole batch in one statement, each column's values one array parameter.

    One execution per batch, not one per row (``executemany``): Postgres plans and runs
    it once, and the driver encodes a few arrays (bench/bench_agi.py: the writer's and
    Postgres's CPU per record fell by about half). ``fold`` gives each call at most one
    row per statement, which ON CONFLICT DO UPDATE requires. Plain SQL run through the
    driver: the column names are the constants above, every value is a parameter.
    """
    columns = ", ".join(insert)
    arrays = ", ".join(
        f"${n}::{_ARRAY_TYPES.get(c, 'text')}[]" for n, c in enumerate(insert, start=1)
    )
    conflict = f"ON CONFLICT (node, linkedid) DO UPDATE SET {', '.join(updates)}"
    # Identifiers are this module's constants; every value is a $n parameter.
    return f"INSERT INTO calls ({columns}) SELECT * FROM unnest({arrays}) {conflict}"  # noqa: S608


#: call-start parts: their non-null start fields win.
START_UPSERT = _upsert_sql(
    _START_INSERT,
    [
        *(
            f"{c} = COALESCE(EXCLUDED.{c}, calls.{c})"
            for c in _START_COLUMNS
            if c != "caller_number"
        ),
        "caller_number = COALESCE(NULLIF(EXCLUDED.caller_number, ''), calls.caller_number)",
        "updated_at = now()",
    ],
)
#: call-end parts: their end fields replace, their start fields only fill gaps.
END_UPSERT = _upsert_sql(
    _END_INSERT,
    [
        *(
            f"{c} = COALESCE(calls.{c}, EXCLUDED.{c})"
            for c in _START_COLUMNS
            if c != "caller_number"
        ),
        "caller_number = COALESCE(NULLIF(calls.caller_number, ''), EXCLUDED.caller_number)",
        *(f"{c} = EXCLUDED.{c}" for c in _END_COLUMNS),
        "updated_at = now()",
    ],
)


#: After the end upsert, in the same transaction: a call whose end says "callback" (the
#: county was closed) gets its callback request. ``call_id`` is unique and a request is
#: never touched again here, so a replayed batch changes nothing, and an agent's work on
#: the request survives a late duplicate of the call's end. A withheld number cannot be
#: called back: such a request starts as "unreachable" (kept, so the call is accounted for).
CALLBACK_INSERT = (
    "INSERT INTO callback_requests "
    "(call_id, county_id, number, requested_at, status, attempts) "
    "SELECT c.id, c.county_id, c.caller_number, COALESCE(c.started_at, c.ended_at, now()), "
    "CASE WHEN c.caller_number = '' THEN 'unreachable' ELSE 'open' END, 0 "
    "FROM calls AS c JOIN unnest($1::text[], $2::text[]) AS k(node, linkedid) "
    "ON c.node = k.node AND c.linkedid = k.linkedid "
    "WHERE c.disposition = 'callback' "
    "ON CONFLICT (call_id) DO NOTHING"
)


def _callback_keys(folded: Sequence[Folded]) -> tuple[list[str], list[str]] | None:
    """(nodes, linkedids) of the calls this batch ended as callback requests, or None."""
    keys = [
        (e.node, e.linkedid)
        for e in folded
        if e.end is not None and e.end.get("disposition") == "callback"
    ]
    if not keys:
        return None
    nodes, linkedids = zip(*keys, strict=True)
    return list(nodes), list(linkedids)


_COUNTIES_SQL = (
    f"SELECT {County.code.key}, {County.id.key}, {County.queue_name.key} "  # noqa: S608
    f"FROM {County.__tablename__} WHERE {County.code.key} = ANY($1::text[])"
)
_AGENTS_SQL = (
    f"SELECT {User.interface.key}, {User.id.key} FROM {User.__tablename__} "  # noqa: S608
    f"WHERE {User.interface.key} = ANY($1::text[])"
)


class LookupCache:
    """County code -> (id, queue) and agent interface -> user id, read from Postgres and
    reused for ``ttl`` seconds (misses included: an interface with no user is not
    looked up again for every batch)."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._counties: dict[str, tuple[float, tuple[int, str] | None]] = {}
        self._agents: dict[str, tuple[float, int | None]] = {}

    async def resolve(self, session: AsyncSession | Any, folded: Sequence[Folded]) -> Lookups:
        """``session``: an ``AsyncSession``, or an asyncpg connection (the writer's path)."""
        raw = not isinstance(session, AsyncSession)
        now = time.monotonic()
        codes: set[str] = set()
        interfaces: set[str] = set()
        for entry in folded:
            for part in (entry.start, entry.end):
                if part is None:
                    continue
                if part.get("county"):
                    codes.add(part["county"])  # type: ignore[arg-type]
                if part.get("agent_interface"):
                    interfaces.add(part["agent_interface"])  # type: ignore[arg-type]
        stale = {c for c in codes if now - self._counties.get(c, (-1e18, None))[0] > self.ttl}
        if stale:
            if raw:
                rows = await session.fetch(_COUNTIES_SQL, list(stale))
            else:
                rows = await session.execute(
                    select(County.code, County.id, County.queue_name).where(County.code.in_(stale))
                )
            found = {code: (cid, queue) for code, cid, queue in rows}
            for code in stale:
                self._counties[code] = (now, found.get(code))
        stale = {i for i in interfaces if now - self._agents.get(i, (-1e18, None))[0] > self.ttl}
        if stale:
            if raw:
                rows = await session.fetch(_AGENTS_SQL, list(stale))
            else:
                rows = await session.execute(
                    select(User.interface, User.id).where(User.interface.in_(stale))
                )
            found_agents = {iface: uid for iface, uid in rows}
            for iface in stale:
                self._agents[iface] = (now, found_agents.get(iface))
        counties = {c: v for c in codes if (v := self._counties[c][1]) is not None}
        agents = {i: v for i in interfaces if (v := self._agents[i][1]) is not None}
        return Lookups(counties, agents)


def _columns(
    folded: Sequence[Folded], lookups: Lookups
) -> tuple[tuple[list, ...] | None, tuple[list, ...] | None]:
    """The two statements' parameters: one list per column (None: no such rows)."""
    starts = []
    ends = []
    for e in folded:
        key = {"node": e.node, "linkedid": e.linkedid, "direction": e.direction}
        if e.start is not None:
            row = {
                **key,
                "disposition": "in_progress",
                **_column_values(e.start, START_FIELDS, lookups),
            }
            starts.append(tuple(row[c] for c in _START_INSERT))
        if e.end is not None:
            row = {
                **key,
                **_column_values(e.end, START_FIELDS, lookups),
                **_column_values(e.end, END_FIELDS, lookups),
            }
            ends.append(tuple(row[c] for c in _END_INSERT))
    # rows -> one list per column
    return (
        tuple(map(list, zip(*starts, strict=True))) if starts else None,
        tuple(map(list, zip(*ends, strict=True))) if ends else None,
    )


async def upsert_records(
    session: AsyncSession, records: Sequence[CallRecord], cache: LookupCache | None = None
) -> None:
    """Apply ``records`` (in journal order) to ``calls`` in the session's transaction."""
    folded = fold(records)
    lookups = await (cache or LookupCache(ttl=0)).resolve(session, folded)
    starts, ends = _columns(folded, lookups)
    connection = await session.connection()
    if starts:
        await connection.exec_driver_sql(START_UPSERT, starts)
    if ends:
        await connection.exec_driver_sql(END_UPSERT, ends)
    if callbacks := _callback_keys(folded):
        await connection.exec_driver_sql(CALLBACK_INSERT, callbacks)


async def upsert_records_raw(
    connection: Any, records: Sequence[CallRecord], cache: LookupCache
) -> None:
    """``upsert_records`` on an asyncpg connection, in a transaction of its own."""
    folded = fold(records)
    lookups = await cache.resolve(connection, folded)
    starts, ends = _columns(folded, lookups)
    callbacks = _callback_keys(folded)
    async with connection.transaction():
        if starts:
            await connection.execute(START_UPSERT, *starts)
        if ends:
            await connection.execute(END_UPSERT, *ends)
        if callbacks:
            await connection.execute(CALLBACK_INSERT, *callbacks)


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
        self._lookups = LookupCache(self.options.lookup_ttl)
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
        self.journal.unlock_writer()
        self.stats.holds_lock = False

    async def _run(self) -> None:
        while not self._stopping.is_set():
            if await asyncio.to_thread(self.journal.try_lock_writer):
                break
            log.warning("another process drains this journal; waiting for its lock")
            await self._sleep(self.options.lock_retry)
        self.stats.holds_lock = True
        self._position = await asyncio.to_thread(self.journal.load_checkpoint)
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
            self._position = await asyncio.to_thread(self.journal.load_checkpoint)
        start = self._position
        result = await asyncio.to_thread(
            self.journal.read, start, max_entries=self.options.batch_size
        )
        records: list[CallRecord] = []
        entries: list[Entry] = []
        unreadable: list[tuple[bytes, str]] = []
        for entry in result.entries:
            try:
                records.append(CallRecord.from_json(entry.payload))
                entries.append(entry)
            except RecordRejected as exc:
                unreadable.append((entry.payload, str(exc)))
        committed = await self._commit(records, entries) if records else 0
        # Only after the commit: a failed batch is retried whole, and must not leave
        # its damaged lines in rejected.jnl twice.
        for position, line in result.corrupt:
            self.stats.corrupt_lines += 1
            log.warning("damaged journal line skipped", extra={"position": str(position)})
            await asyncio.to_thread(self.journal.reject, line, "damaged line (torn by a crash)")
        for payload, reason in unreadable:
            self.stats.rejected += 1
            await asyncio.to_thread(self.journal.reject, payload, reason)
        if result.end != start:
            await asyncio.to_thread(self.journal.save_checkpoint, result.end)
            self._position = result.end
            if result.end.segment != start.segment:
                await asyncio.to_thread(self.journal.release_before, result.end)
        if records:
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
        if moved == 0 and self.on_idle is not None:
            self.on_idle()
        return moved

    async def _commit(self, records: list[CallRecord], entries: list[Entry]) -> int:
        """Commit ``records``; returns how many are in Postgres (the others, refused for
        good, are in rejected.jnl)."""
        try:
            await self._transaction(records)
        except PermanentFailure as exc:
            if len(records) == 1:
                self.stats.rejected += 1
                log.error(
                    "Postgres refuses a call record; kept in rejected.jnl",
                    extra={"linkedid": records[0].linkedid, "error": str(exc)},
                )
                await asyncio.to_thread(self.journal.reject, entries[0].payload, str(exc))
                return 0
            middle = len(records) // 2  # find the bad record(s); the rest commit
            return await self._commit(records[:middle], entries[:middle]) + await self._commit(
                records[middle:], entries[middle:]
            )
        return len(records)

    async def _transaction(self, records: list[CallRecord]) -> None:
        # In a task of its own: a connection that hangs (a stopped Postgres, a silent
        # network) is abandoned after batch_timeout instead of hanging the writer; even
        # its rollback may hang, so the task is not waited for after the cancel.
        task = asyncio.create_task(self._upsert(records))
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

    async def _upsert(self, records: list[CallRecord]) -> None:
        engine = self.session_factory.kw.get("bind")
        if isinstance(engine, AsyncEngine) and engine.dialect.driver == "asyncpg":
            await self._upsert_raw(engine, records)
            return
        async with self.session_factory() as session:
            try:
                async with session.begin():
                    await upsert_records(session, records, self._lookups)
            except DBAPIError as exc:
                if is_permanent(exc):
                    raise PermanentFailure(str(exc.orig)[:300]) from exc
                raise

    async def _upsert_raw(self, engine: AsyncEngine, records: list[CallRecord]) -> None:
        """The batch on the pooled connection's asyncpg object, without an ORM session
        or SQLAlchemy's execution path (bench/bench_agi.py: ~0.4 ms less CPU per batch
        for the session and ~0.2 ms per statement). Same transaction, same statements."""
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            try:
                await upsert_records_raw(raw, records, self._lookups)
            except asyncpg.PostgresError as exc:
                if exc.sqlstate and exc.sqlstate[:2] in PERMANENT_SQLSTATE_CLASSES:
                    raise PermanentFailure(str(exc)[:300]) from exc
                raise
            except BaseException:
                # Lost, hung or cancelled mid-batch: the connection's state is unknown,
                # so it is closed rather than returned to the pool.
                with contextlib.suppress(Exception):
                    await conn.invalidate()
                raise

    async def drain_all(self) -> int:
        """Commit everything in the journal now (CLI, tests); returns records committed."""
        total = 0
        while True:
            before = self.stats.committed
            moved = await self.drain_once()
            total += self.stats.committed - before
            if moved == 0:
                return total
