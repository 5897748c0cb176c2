"""The ``--role recordings`` live scan: new files in today's folder get indexed, files
still being written wait, and an orphan is linked once its call row arrives."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from cti.bus import InMemoryBus
from cti.recordings.service import RecordingsService, hangup_paths, recent_folders
from cti.store.recordings import Recording
from tests.integration.recordings.conftest import add_call, file_capture

NORTH = "north-13800138000-1795710920.0.wav"


def test_recent_folders():
    assert recent_folders(datetime(2026, 3, 1, 0, 5, tzinfo=UTC)) == ["20260228", "20260301"]


async def test_live_scan(traces_dir, tmp_path, rec_factory):
    root = tmp_path / "rec"
    now = datetime.now(UTC)  # read once: the folder's day and the uid's time must agree
    today = f"{now:%Y%m%d}"
    uid = f"{int(now.timestamp())}.{secrets.randbelow(10**6)}"
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


@pytest.mark.parametrize(
    "linkedid",
    [
        "../../etc/passwd",
        "1795710920.0/../../x",
        "1795710920.0\n",
        "1795710920.0.wav",
        "",
        "1" * 25 + ".0",
        "pbx1-../1795710920.0",
        "1795710920",
    ],
)
def test_a_hangup_message_cannot_name_another_path(linkedid):
    # Bus messages are data: only an Asterisk Linkedid becomes <day>/<linkedid>.wav.
    assert hangup_paths(linkedid, datetime(2026, 3, 1, tzinfo=UTC)) == []


def test_hangup_paths_of_a_linkedid():
    now = datetime(2026, 3, 1, 0, 5, tzinfo=UTC)
    assert hangup_paths("1795710920.0", now) == [
        "20260228/1795710920.0.wav",
        "20260301/1795710920.0.wav",
    ]
    assert hangup_paths("pbx-2-1795710920.12", now)[1] == "20260301/pbx-2-1795710920.12.wav"


async def test_call_ended_on_the_bus_indexes_that_calls_recording(
    traces_dir, tmp_path, rec_factory
):
    """The hangup path: the AMI side says a call ended; its file is indexed without
    waiting for the next scan (which is an hour away here), and only that file."""
    root = tmp_path / "rec"
    now = datetime.now(UTC)  # read once: the folder's day and the uid's time must agree
    today = f"{now:%Y%m%d}"
    uid = f"{int(now.timestamp())}.{secrets.randbelow(10**6)}"
    other = f"{int(now.timestamp())}.{secrets.randbelow(10**6) + 10**6}"
    (root / today).mkdir(parents=True)
    bus = InMemoryBus()
    service = RecordingsService(root, rec_factory, bus=bus, interval_s=3600, after_hangup_s=0.0)
    await service.start()
    try:
        await until(lambda: service.scans >= 1)  # the start-up scan found nothing
        file_capture(traces_dir, root, NORTH, f"{today}/{uid}.wav")
        file_capture(traces_dir, root, NORTH, f"{today}/{other}.wav")  # no hangup for it
        await bus.publish("calls", {"type": "call_ended", "node": "asterisk", "linkedid": uid})
        await bus.publish("calls", {"type": "call_ended", "linkedid": "../../etc/passwd"})
        await bus.publish("calls", {"type": "call_ended", "linkedid": 1795710920})
        await until(lambda: service.indexed_on_hangup >= 1)
    finally:
        await service.stop()
    wanted = [f"{today}/{uid}.wav", f"{today}/{other}.wav"]
    async with rec_factory() as db:  # (the module's database holds other tests' rows)
        paths = set(await db.scalars(select(Recording.path).where(Recording.path.in_(wanted))))
    assert paths == {f"{today}/{uid}.wav"}
    assert service.indexed_on_hangup == 1 and service.scans == 1


async def until(condition, wait: float = 10.0) -> None:
    async with asyncio.timeout(wait):
        while not condition():  # noqa: ASYNC110  (polls the service's counters)
            await asyncio.sleep(0.01)
