"""Reconciliation: the recordings folder against the index and the calls table.

Walks the folder in a fixed order (sorted day folders, sorted names) and indexes every
audio file through the ``Indexer``; after a complete walk it also reports:

* orphans: files with no call (indexed all the same, flagged by ``call_id IS NULL``);
* calls that should have a recording (they reached MixMonitor) but have none;
* files whose bytes no longer match their checksum (tampering or corruption);
* indexed files that are gone from disk (``missing_at`` is set);
* files that cannot be read as audio (reported, skipped; the scan goes on).

Resumable: the last committed path is kept in a checkpoint file, and ``resume=True``
continues after it. Safe while calls are recorded: a file still being written is
reported as busy and left for the next scan, never indexed half-done nor marked missing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.recordings import names
from cti.recordings.indexer import BATCH, Indexer, Kind, Outcome
from cti.store.calls import Call, Disposition
from cti.store.recordings import Recording

#: Dispositions of calls that ran MixMonitor ([hotline-call] records right after Answer,
#: before Queue): all but ``failed`` (never reached the queue) and calls still running.
RECORDED_DISPOSITIONS = (
    Disposition.ANSWERED.value,
    Disposition.ABANDONED.value,
    Disposition.TIMEOUT.value,
    Disposition.TRANSFERRED.value,
)
#: A call that ended less than this long ago may still have its file being closed.
MISSING_GRACE = timedelta(minutes=5)
REPORT_LIMIT = 1000


def walk(root: Path, below: list[str] | None = None) -> Iterator[str]:
    """Relative paths of audio files under ``root`` (or under the folders ``below``), in
    sorted order; symlinks are not followed (a link cannot pull a file in from outside)."""
    root = root.resolve()

    def visit(folder: Path, prefix: str) -> Iterator[str]:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            rel = f"{prefix}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                yield from visit(Path(entry.path), rel + "/")
            elif entry.is_file(follow_symlinks=False) and names.is_audio(entry.name):
                yield rel

    for sub in below or [""]:
        folder = root / sub if sub else root
        yield from visit(folder, f"{sub}/" if sub else "")


@dataclass
class ReconcileReport:
    scanned: int = 0
    indexed: int = 0
    updated: int = 0
    busy: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    changed: list[tuple[str, str]] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    calls_without_recording: list[tuple[str, str]] = field(default_factory=list)
    complete: bool = False

    def add(self, outcome: Outcome) -> None:
        self.scanned += 1
        if outcome.kind is Kind.INDEXED:
            self.indexed += 1
        elif outcome.kind is Kind.UPDATED:
            self.updated += 1
        elif outcome.kind is Kind.BUSY:
            self.busy.append(outcome.relpath)
        elif outcome.kind is Kind.FAILED:
            self.failed.append((outcome.relpath, outcome.detail))
        elif outcome.kind is Kind.CHANGED:
            self.changed.append((outcome.relpath, outcome.detail))
        if outcome.orphan:
            self.orphans.append(outcome.relpath)

    def lines(self) -> list[str]:
        out = [
            f"scanned {self.scanned} files: {self.indexed} new, {self.updated} re-verified, "
            f"{len(self.busy)} still being written, {len(self.failed)} unreadable, "
            f"{len(self.changed)} changed"
        ]
        sections = [
            ("unreadable (skipped)", [f"{p}: {why}" for p, why in self.failed]),
            ("CHECKSUM CHANGED (tampering or corruption)", [f"{p}: {d}" for p, d in self.changed]),
            ("orphans (no call; indexed and flagged)", self.orphans),
            ("indexed but missing on disk", self.missing_files),
            (
                "calls with no recording",
                [f"node={n} linkedid={lid}" for n, lid in self.calls_without_recording],
            ),
            ("still being written (next scan)", self.busy),
        ]
        for title, items in sections:
            if items:
                out.append(f"{title}: {len(items)}")
                out += [f"  {item}" for item in items[:50]]
                if len(items) > 50:
                    out.append(f"  ... and {len(items) - 50} more")
        if not self.complete:
            out.append("scan interrupted: run again with --resume to continue")
        return out


class Checkpoint:
    """The last path whose batch was committed, in a small JSON file (atomic replace)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> str | None:
        try:
            return json.loads(self.path.read_text())["after"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, after: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"after": after, "at": datetime.now(UTC).isoformat()}))
        tmp.replace(self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


Progress = Callable[[int, int], None]


async def reconcile(
    indexer: Indexer,
    session_factory: async_sessionmaker[AsyncSession],
    *,
    checkpoint: Checkpoint | None = None,
    resume: bool = False,
    progress: Progress | None = None,
    stop_after: int | None = None,
) -> ReconcileReport:
    """Scan the whole folder (see the module docstring). ``stop_after`` ends the scan after
    that many files, as an interruption would (for tests and for bounded runs)."""
    report = ReconcileReport()
    after = checkpoint.load() if (checkpoint and resume) else None
    paths = [p for p in walk(indexer.root) if after is None or p > after]
    total = len(paths)
    if progress:
        progress(0, total)
    done = 0
    for start in range(0, total, BATCH):
        if stop_after is not None and done >= stop_after:
            return report
        batch = paths[start : start + BATCH]
        if stop_after is not None:
            batch = batch[: stop_after - done]
        for outcome in await indexer.index_paths(batch):
            report.add(outcome)
        done += len(batch)
        if checkpoint:
            checkpoint.save(batch[-1])
        if progress:
            progress(done, total)
    if stop_after is not None and done < total:
        return report
    async with session_factory() as db:
        report.missing_files = await mark_missing(db, indexer.root, seen=None)
        report.calls_without_recording = await calls_without_recording(db)
        await db.commit()
    if checkpoint:
        checkpoint.clear()
    report.complete = True
    return report


async def mark_missing(db: AsyncSession, root: Path, seen: set[str] | None) -> list[str]:
    """Flag indexed, unpurged files that are no longer on disk; returns their paths."""
    missing: list[tuple[int, str]] = []
    result = await db.stream(
        select(Recording.id, Recording.path).where(
            Recording.purged_at.is_(None), Recording.missing_at.is_(None)
        )
    )
    async for rid, path in result:
        if seen is not None and path in seen:
            continue
        try:
            exists_on_disk = names.resolve_inside(root, path).is_file()
        except names.OutsideRoot:
            exists_on_disk = False
        if not exists_on_disk:
            missing.append((rid, path))
    if missing:
        await db.execute(
            update(Recording)
            .where(Recording.id.in_([rid for rid, _ in missing]))
            .values(missing_at=datetime.now(UTC))
        )
    return [path for _, path in missing]


async def calls_without_recording(
    db: AsyncSession, limit: int = REPORT_LIMIT
) -> list[tuple[str, str]]:
    """Ended calls that ran MixMonitor but have no indexed recording, newest first."""
    cutoff = datetime.now(UTC) - MISSING_GRACE
    rows = await db.execute(
        select(Call.node, Call.linkedid)
        .where(
            Call.disposition.in_(RECORDED_DISPOSITIONS),
            Call.ended_at < cutoff,
            ~exists().where(and_(Recording.call_id == Call.id)),
        )
        .order_by(Call.ended_at.desc())
        .limit(limit)
    )
    return [(node, linkedid) for node, linkedid in rows]
