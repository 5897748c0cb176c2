"""``cti serve --role recordings``: keeps the index current while calls are recorded.

Trigger choice: Asterisk sends no MixMonitorStop when a call simply ends (the file is
closed by the MixMonitor thread after the hangup), and domain events reach the bus only
as screen-pop messages. So the service does not wait for an event: every ``interval_s``
it scans the day folders of today and yesterday (UTC, the dialplan's STRFTIME is the
server's clock), indexing files that are new, changed in size/mtime, or still orphans
(their call row may have arrived since). A file still being written is skipped until it
is finished. The full folder is reconciled by ``cti recordings reconcile`` (cron).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.recordings.indexer import Indexer, Kind
from cti.recordings.reconcile import walk
from cti.service import Health
from cti.store.recordings import Recording

log = logging.getLogger(__name__)


def recent_folders(now: datetime) -> list[str]:
    """Pure: the day folders a live scan looks at (yesterday covers calls across midnight)."""
    return [f"{now - timedelta(days=1):%Y%m%d}", f"{now:%Y%m%d}"]


class RecordingsService:
    name = "recordings"

    def __init__(
        self,
        root: Path,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        interval_s: float = 15.0,
    ) -> None:
        self.root = root
        self.session_factory = session_factory
        self.interval_s = interval_s
        self.indexer = Indexer(root, session_factory)
        self._task: asyncio.Task[None] | None = None
        self.scans = 0
        self.indexed = 0
        self.failures = 0
        self.last_error: str | None = None
        self.last_scan_at: datetime | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="recordings-scan")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.indexer.close()

    async def _run(self) -> None:
        while True:
            try:
                await self.scan_once()
                self.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bad scan must not end the service
                self.last_error = str(exc)[:200]
                log.exception("recordings scan failed")
            await asyncio.sleep(self.interval_s)

    async def scan_once(self) -> int:
        """Index what changed in the recent day folders; returns how many were indexed."""
        folders = [f for f in recent_folders(datetime.now(UTC)) if (self.root / f).is_dir()]
        paths = await asyncio.to_thread(lambda: list(walk(self.root, folders)))
        if not paths:
            self.scans += 1
            return 0
        async with self.session_factory() as db:
            known = {
                path: (size, mtime, call_id)
                for path, size, mtime, call_id in await db.execute(
                    select(
                        Recording.path, Recording.size_bytes, Recording.mtime, Recording.call_id
                    ).where(Recording.path.in_(paths))
                )
            }

        def todo() -> list[str]:
            out = []
            for path in paths:
                seen = known.get(path)
                if seen is None or seen[2] is None:
                    out.append(path)
                    continue
                try:
                    st = os.stat(self.root / path)
                except OSError:
                    continue
                if st.st_size != seen[0] or abs(st.st_mtime - seen[1].timestamp()) > 1e-3:
                    out.append(path)
            return out

        work = await asyncio.to_thread(todo)
        outcomes = await self.indexer.index_paths(work) if work else []
        done = sum(o.kind is Kind.INDEXED for o in outcomes)
        self.indexed += done
        self.failures += sum(o.kind is Kind.FAILED for o in outcomes)
        self.scans += 1
        self.last_scan_at = datetime.now(UTC)
        return done

    def health(self) -> Health:
        return Health(
            ok=self.last_error is None,
            detail={
                "scans": self.scans,
                "indexed": self.indexed,
                "failures": self.failures,
                "last_scan_at": self.last_scan_at.isoformat() if self.last_scan_at else None,
                "last_error": self.last_error,
            },
        )

    def metrics(self) -> list[str]:
        return [
            "# HELP cti_recordings_indexed_total Recordings indexed by the live scan.",
            "# TYPE cti_recordings_indexed_total counter",
            f"cti_recordings_indexed_total {self.indexed}",
            "# HELP cti_recordings_unreadable_total Files the live scan could not read as audio.",
            "# TYPE cti_recordings_unreadable_total counter",
            f"cti_recordings_unreadable_total {self.failures}",
        ]
