"""``cti serve --role recordings``: keeps the index current while calls are recorded.

Two triggers:

* The hangup path. Asterisk sends no MixMonitorStop when a call simply ends (the
  MixMonitor thread closes the file right after the hangup), so the trigger is the AMI
  side's ``call_ended`` on the bus channel ``calls`` (``cti.ami.relay``). The file is
  ``<day>/<Uniqueid>.wav`` where the caller's Uniqueid is the call's Linkedid
  (``asterisk_conf/extensions.conf``); the service indexes exactly that file once it has
  settled (``after_hangup_s``, the indexer's "finished" rule), without walking a folder.
* A scan, every ``interval_s``, of the day folders of today and yesterday (UTC, the
  dialplan's STRFTIME is the server's clock): files that are new, changed in size/mtime,
  or still orphans (their call row may have arrived since). It catches what the hangup
  path missed (the AMI listener down, a transfer's second leg, a late file).

A file still being written is skipped until it is finished. The full folder is
reconciled by ``cti recordings reconcile`` (cron).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.bus import CALLS_CHANNEL, Bus, Subscription
from cti.recordings.files import SETTLE_S
from cti.recordings.indexer import Indexer, Kind
from cti.recordings.reconcile import walk
from cti.service import Health
from cti.store.recordings import Recording

log = logging.getLogger(__name__)


#: An Asterisk Uniqueid/Linkedid (``1795710920.0``; with a system name prefix when
#: ``systemname`` is set). Anything else on the bus is not turned into a path.
LINKEDID = re.compile(r"^(?:[A-Za-z0-9_-]{1,40}-)?[0-9]{1,20}\.[0-9]{1,10}$")


def hangup_paths(linkedid: str, now: datetime) -> list[str]:
    """Pure: where the recording of an ended call can be (relative to the root); nothing
    for a value that is not a Linkedid, so no bus message can name another path."""
    if not LINKEDID.fullmatch(linkedid):
        return []
    return [f"{day}/{linkedid}.wav" for day in recent_folders(now)]


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
        bus: Bus | None = None,
        settle_s: float = SETTLE_S,
        after_hangup_s: float | None = None,
    ) -> None:
        self.root = root
        self.session_factory = session_factory
        self.interval_s = interval_s
        self.bus = bus
        #: After a hangup, MixMonitor closes the file; once it has settled it is indexed.
        self.after_hangup_s = settle_s + 1.0 if after_hangup_s is None else after_hangup_s
        self.indexer = Indexer(root, session_factory, settle_s=settle_s)
        self._task: asyncio.Task[None] | None = None
        self._follower: asyncio.Task[None] | None = None
        self._hangups: set[asyncio.Task[None]] = set()
        self.indexed_on_hangup = 0
        self.scans = 0
        self.indexed = 0
        self.failures = 0
        self.last_error: str | None = None
        self.last_scan_at: datetime | None = None

    async def start(self) -> None:
        if self.bus is not None:
            subscription = await self.bus.subscribe(CALLS_CHANNEL)
            self._follower = asyncio.create_task(
                self._follow_hangups(subscription), name="recordings-hangups"
            )
        self._task = asyncio.create_task(self._run(), name="recordings-scan")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, self._follower, *self._hangups) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.indexer.close()

    async def _follow_hangups(self, subscription: Subscription) -> None:
        try:
            async for message in subscription:
                linkedid = message.get("linkedid")
                if message.get("type") != "call_ended" or not isinstance(linkedid, str):
                    continue
                task = asyncio.create_task(self._index_after_hangup(linkedid))
                self._hangups.add(task)
                task.add_done_callback(self._hangups.discard)
        finally:
            subscription.close()

    async def _index_after_hangup(self, linkedid: str) -> None:
        """Index the ended call's recording once MixMonitor has closed it and it settled;
        a call without a recording (abandoned before MixMonitor) finds no file: nothing."""
        if not hangup_paths(linkedid, datetime.now(UTC)):
            log.warning("call_ended with a malformed linkedid ignored: %r", linkedid[:80])
            return
        await asyncio.sleep(self.after_hangup_s)
        candidates = hangup_paths(linkedid, datetime.now(UTC))
        paths = await asyncio.to_thread(
            lambda: [p for p in candidates if (self.root / p).is_file()]
        )
        if not paths:
            return
        try:
            outcomes = await self.indexer.index_paths(paths)
        except Exception:  # the periodic scan retries; never let one call end the follower
            log.exception("indexing after hangup failed", extra={"linkedid": linkedid})
            return
        done = sum(o.kind is Kind.INDEXED for o in outcomes)
        self.indexed += done
        self.indexed_on_hangup += done
        self.failures += sum(o.kind is Kind.FAILED for o in outcomes)

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
                "indexed_on_hangup": self.indexed_on_hangup,
                "failures": self.failures,
                "last_scan_at": self.last_scan_at.isoformat() if self.last_scan_at else None,
                "last_error": self.last_error,
            },
        )

    def metrics(self) -> list[str]:
        return [
            "# HELP cti_recordings_indexed_total Recordings indexed live (hangup path and scan).",
            "# TYPE cti_recordings_indexed_total counter",
            f"cti_recordings_indexed_total {self.indexed}",
            "# HELP cti_recordings_unreadable_total Files the live scan could not read as audio.",
            "# TYPE cti_recordings_unreadable_total counter",
            f"cti_recordings_unreadable_total {self.failures}",
        ]
