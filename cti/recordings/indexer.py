"""Index recording files: header facts, SHA-256, the call (and so the ticket) they belong to.

Idempotent: a file is one row keyed by its relative path, written again with the same
values on every pass. A file whose bytes no longer hash to the stored SHA-256 keeps its
original facts (they are the evidence) and is flagged ``checksum_changed_at``. A file that
is still being written is skipped (``busy``) and picked up by a later pass.

Files are read and hashed in worker threads (hashlib releases the GIL), and each batch is
written to Postgres in a few statements, so indexing runs close to the disk's read+hash rate.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.recordings import names
from cti.recordings.files import (
    ABANDONED_AFTER_S,
    SETTLE_S,
    FileChanging,
    FileFacts,
    Readiness,
    read_file,
    readiness,
)
from cti.recordings.probe import ProbeError
from cti.store.calls import Call
from cti.store.recordings import Recording

log = logging.getLogger(__name__)
BATCH = 200


class Kind(StrEnum):
    INDEXED = "indexed"  # new row
    UPDATED = "updated"  # existing row, same bytes (metadata / call link refreshed)
    BUSY = "busy"  # still being written
    FAILED = "failed"  # not readable as audio, or gone: reported, skipped
    CHANGED = "changed"  # the bytes no longer match the stored SHA-256


@dataclass(frozen=True, slots=True)
class Outcome:
    relpath: str
    kind: Kind
    detail: str = ""
    recording_id: int | None = None
    orphan: bool = False


@dataclass(frozen=True, slots=True)
class CallRow:
    id: int
    linkedid: str
    uniqueid: str
    started_at: datetime | None
    caller_number: str
    did: str | None
    county_id: int | None
    agent_id: int | None
    agent_interface: str | None
    disposition: str
    updated_at: datetime


CALL_COLUMNS = (
    Call.id,
    Call.linkedid,
    Call.uniqueid,
    Call.started_at,
    Call.caller_number,
    Call.did,
    Call.county_id,
    Call.agent_id,
    Call.agent_interface,
    Call.disposition,
    Call.updated_at,
)


def pick_call(info: names.NameInfo, calls: Iterable[CallRow]) -> CallRow | None:
    """Pure: the call a file named ``info`` belongs to. Uniqueids repeat after an Asterisk
    restart and across nodes, so among the calls whose Linkedid or Uniqueid matches, the
    most specific name wins, then the call that started closest to the Uniqueid's epoch."""
    best: tuple[int, float, int] | None = None
    chosen = None
    for call in calls:
        ranks = [
            rank
            for rank, candidate in enumerate(info.candidates)
            if candidate in (call.linkedid, call.uniqueid)
        ]
        if not ranks:
            continue
        distance = (
            abs(call.started_at.timestamp() - info.epoch)
            if call.started_at is not None and info.epoch is not None
            else 1e12
        )
        key = (ranks[0], distance, call.id)
        if best is None or key < best:
            best, chosen = key, call
    return chosen


def call_fields(call: CallRow | None, info: names.NameInfo, mtime: datetime) -> dict[str, Any]:
    """Pure: the search columns a recording copies from its call (or guesses for an orphan)."""
    if call is None:
        return {
            "call_id": None,
            "started_at": names.epoch_time(info.epoch) or mtime,
            "caller_number": "",
            "did": None,
            "county_id": None,
            "agent_id": None,
            "agent_interface": None,
            "disposition": None,
            "call_synced_at": None,
        }
    return {
        "call_id": call.id,
        "started_at": call.started_at or names.epoch_time(info.epoch) or mtime,
        "caller_number": call.caller_number,
        "did": call.did,
        "county_id": call.county_id,
        "agent_id": call.agent_id,
        "agent_interface": call.agent_interface,
        "disposition": call.disposition,
        "call_synced_at": call.updated_at,
    }


async def find_calls(db: AsyncSession, infos: Sequence[names.NameInfo]) -> list[CallRow]:
    candidates = sorted({c for info in infos for c in info.candidates})
    if not candidates:
        return []
    rows = await db.execute(
        select(*CALL_COLUMNS).where(
            or_(Call.linkedid.in_(candidates), Call.uniqueid.in_(candidates))
        )
    )
    return [CallRow(*row) for row in rows]


_UPDATE_SAME = (
    update(Recording.__table__)
    .where(Recording.__table__.c.id == bindparam("rid"))
    .values(
        {
            name: bindparam(name)
            for name in (
                "uniqueid",
                "format",
                "codec",
                "sample_rate",
                "channels",
                "duration_ms",
                "size_bytes",
                "mtime",
                "problem",
                "verified_at",
                "missing_at",
                *call_fields(None, names.NameInfo(None, (), None, None), datetime.now(UTC)),
            )
        }
    )
)


class Indexer:
    """Indexes files under ``root`` into ``recordings`` (see the module docstring)."""

    def __init__(
        self,
        root: Path,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        settle_s: float = SETTLE_S,
        abandoned_after_s: float = ABANDONED_AFTER_S,
        workers: int | None = None,
    ) -> None:
        self.root = root.resolve()
        self.session_factory = session_factory
        self.settle_s = settle_s
        self.abandoned_after_s = abandoned_after_s
        self.workers = workers or min(8, (os.cpu_count() or 2))
        self._pool: ThreadPoolExecutor | None = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="rec-index")
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def relpath(self, path: Path | str) -> str:
        return names.relative_path(self.root, Path(path))

    async def index_paths(self, relpaths: Sequence[str]) -> list[Outcome]:
        """Index (or re-verify) these files; returns one outcome per path, in order."""
        outcomes: list[Outcome] = []
        for start in range(0, len(relpaths), BATCH):
            outcomes += await self._batch(list(relpaths[start : start + BATCH]))
        return outcomes

    async def _read_all(self, relpaths: list[str]) -> list[FileFacts | Outcome]:
        loop = asyncio.get_running_loop()
        pool = self._executor()

        def one(relpath: str) -> FileFacts | Outcome:
            try:
                names.resolve_inside(self.root, relpath)
                return read_file(self.root, relpath)
            except FileChanging:
                return Outcome(relpath, Kind.BUSY, "written to while it was read")
            except ProbeError as exc:
                return Outcome(relpath, Kind.FAILED, str(exc))
            except names.OutsideRoot as exc:
                return Outcome(relpath, Kind.FAILED, str(exc))
            except OSError as exc:
                return Outcome(relpath, Kind.FAILED, f"cannot read: {exc.strerror or exc}")

        return list(await asyncio.gather(*(loop.run_in_executor(pool, one, p) for p in relpaths)))

    async def _batch(self, relpaths: list[str]) -> list[Outcome]:
        read = await self._read_all(relpaths)
        now = time.time()
        results: dict[str, Outcome] = {}
        ready: list[FileFacts] = []
        for item in read:
            if isinstance(item, Outcome):
                results[item.relpath] = item
                continue
            state = readiness(
                item.info, now - item.mtime.timestamp(), self.settle_s, self.abandoned_after_s
            )
            if state is Readiness.BUSY:
                results[item.relpath] = Outcome(item.relpath, Kind.BUSY, "still being written")
            else:
                ready.append(item)
        for outcome in results.values():
            if outcome.kind is Kind.FAILED:
                log.warning(
                    "recording not indexed",
                    extra={"path": outcome.relpath, "reason": outcome.detail},
                )
        if ready:
            async with self.session_factory() as db:
                for outcome in await self._write(db, ready):
                    results[outcome.relpath] = outcome
                await db.commit()
        return [results[p] for p in relpaths]

    async def _write(self, db: AsyncSession, files: list[FileFacts]) -> list[Outcome]:
        infos = {f.relpath: names.parse_name(f.relpath) for f in files}
        calls = await find_calls(db, list(infos.values()))
        existing = {
            row.path: row
            for row in await db.execute(
                select(Recording.id, Recording.path, Recording.sha256).where(
                    Recording.path.in_([f.relpath for f in files])
                )
            )
        }
        now = datetime.now(UTC)
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        changed: list[int] = []
        outcomes: list[Outcome] = []
        for facts in files:
            info = infos[facts.relpath]
            call = pick_call(info, calls)
            values = {
                "uniqueid": info.uniqueid,
                "format": facts.info.format,
                "codec": facts.info.codec,
                "sample_rate": facts.info.sample_rate,
                "channels": facts.info.channels,
                "duration_ms": facts.info.duration_ms,
                "size_bytes": facts.size,
                "mtime": facts.mtime,
                "problem": facts.info.problem,
                "verified_at": now,
                "missing_at": None,
                **call_fields(call, info, facts.mtime),
            }
            row = existing.get(facts.relpath)
            if row is None:
                inserts.append({"path": facts.relpath, "sha256": facts.sha256, **values})
                outcomes.append(Outcome(facts.relpath, Kind.INDEXED, orphan=call is None))
            elif row.sha256 == facts.sha256:
                updates.append({"rid": row.id, **values})
                outcomes.append(
                    Outcome(facts.relpath, Kind.UPDATED, recording_id=row.id, orphan=call is None)
                )
            else:
                changed.append(row.id)
                outcomes.append(
                    Outcome(
                        facts.relpath,
                        Kind.CHANGED,
                        f"SHA-256 was {row.sha256}, is now {facts.sha256}",
                        recording_id=row.id,
                    )
                )
        if inserts:
            # ON CONFLICT: another scanner (the service and a manual reconcile) may have
            # inserted the same file meanwhile; its row is as good as ours.
            stmt = insert(Recording).on_conflict_do_nothing(index_elements=["path"])
            await db.execute(stmt, inserts)
            ids = dict(
                (
                    await db.execute(
                        select(Recording.path, Recording.id).where(
                            Recording.path.in_([r["path"] for r in inserts])
                        )
                    )
                ).all()
            )
            outcomes = [
                Outcome(o.relpath, o.kind, o.detail, ids.get(o.relpath), o.orphan)
                if o.kind is Kind.INDEXED
                else o
                for o in outcomes
            ]
        if updates:
            await db.execute(_UPDATE_SAME, updates)
        if changed:
            await db.execute(
                update(Recording)
                .where(Recording.id.in_(changed), Recording.checksum_changed_at.is_(None))
                .values(checksum_changed_at=now)
            )
        for o in outcomes:
            if o.kind is Kind.CHANGED:
                log.error(
                    "recording checksum changed", extra={"path": o.relpath, "detail": o.detail}
                )
        return outcomes


async def index_file(indexer: Indexer, path: Path | str) -> Outcome:
    """Index one file given by an absolute path or one relative to the recordings root."""
    try:
        relpath = indexer.relpath(path)
    except names.OutsideRoot as exc:
        return Outcome(str(path), Kind.FAILED, str(exc))
    (outcome,) = await indexer.index_paths([relpath])
    return outcome
