"""The ``--role recordings`` live scan: new files in today's folder get indexed, files
still being written wait, and an orphan is linked once its call row arrives."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from sqlalchemy import select

from cti.recordings.service import RecordingsService, recent_folders
from cti.store.recordings import Recording
from tests.integration.recordings.conftest import add_call, file_capture

NORTH = "north-13800138000-1795710920.0.wav"


def test_recent_folders():
    assert recent_folders(datetime(2026, 3, 1, 0, 5, tzinfo=UTC)) == ["20260228", "20260301"]


async def test_live_scan(traces_dir, tmp_path, rec_factory):
    root = tmp_path / "rec"
    today = f"{datetime.now(UTC):%Y%m%d}"
    uid = f"{int(datetime.now(UTC).timestamp())}.{secrets.randbelow(10**6)}"
    file_capture(traces_dir, root, NORTH, f"{today}/{uid}.wav")
    busy = root / today / "1795000000.1.wav"
    busy.write_bytes((root / today / f"{uid}.wav").read_bytes())  # just written
    file_capture(traces_dir, root, NORTH, "20000101/1795000000.2.wav")  # old day: not scanned
    service = RecordingsService(root, rec_factory)
    try:
        assert await service.scan_once() == 1
        assert service.health().ok and service.health().detail["indexed"] == 1
        assert await service.scan_once() == 0  # nothing new; orphan re-checked, still orphan
        call_id = await add_call(rec_factory, uid)
        await service.scan_once()
    finally:
        await service.stop()
    async with rec_factory() as db:
        rows = {
            r.path: r
            for r in (
                await db.scalars(select(Recording).where(Recording.path.like(f"{today}/%")))
            ).all()
        }
    assert set(rows) == {f"{today}/{uid}.wav"}
    assert rows[f"{today}/{uid}.wav"].call_id == call_id
    assert "cti_recordings_indexed_total 1" in service.metrics()
