"""``cti recordings reconcile`` and ``purge``: the scan's report, resuming an interrupted
scan, retention with legal hold; the CLI as an operator runs it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from cti.recordings.indexer import Indexer
from cti.recordings.reconcile import Checkpoint, reconcile
from cti.recordings.retention import purge
from cti.store.calls import Call
from cti.store.recordings import Complaint, Recording
from tests.integration.recordings.conftest import add_call, age, file_capture

DAY = "20261126"
NORTH = "north-13800138000-1795710920.0.wav"


@pytest.fixture
async def scene(traces_dir, tmp_path, rec_factory):
    """A folder with 12 good files (some without a call), garbage, a file being written, and
    a call whose recording never arrived."""
    async with rec_factory() as db:
        await db.execute(delete(Complaint))
        await db.execute(delete(Recording))
        await db.execute(delete(Call))
        await db.commit()
    root = tmp_path / "rec"
    for i in range(12):
        uid = f"17957200{i:02d}.{i}"
        file_capture(traces_dir, root, NORTH, f"{DAY}/{uid}.wav")
        if i % 3:
            await add_call(rec_factory, uid)
    (root / DAY / "1795720100.1.wav").write_bytes(b"garbage")
    age(root / DAY / "1795720100.1.wav")
    (root / DAY / "notes.txt").write_text("not audio: ignored")
    (root / "20261127").mkdir()
    (root / "20261127" / "1795800000.1.wav").write_bytes(
        (root / DAY / "1795720000.0.wav").read_bytes()
    )
    lost = await add_call(
        rec_factory,
        "1795720200.9",
        ended_at=datetime.now(UTC) - timedelta(hours=1),
        started_at=datetime.now(UTC) - timedelta(hours=1, minutes=2),
    )
    await add_call(rec_factory, "1795720300.9", disposition="failed")  # never recorded
    return root, lost


async def test_reconcile_reports_everything(scene, tmp_path, rec_factory):
    root, _ = scene
    seen: list[tuple[int, int]] = []
    indexer = Indexer(root, rec_factory)
    try:
        report = await reconcile(indexer, rec_factory, progress=lambda d, t: seen.append((d, t)))
    finally:
        indexer.close()
    assert report.complete
    assert report.scanned == 14 and report.indexed == 12
    assert report.failed == [(f"{DAY}/1795720100.1.wav", "not a RIFF/WAVE file")]
    assert report.busy == ["20261127/1795800000.1.wav"]  # just written
    assert sorted(report.orphans) == [f"{DAY}/17957200{i:02d}.{i}.wav" for i in (0, 3, 6, 9)]
    assert report.calls_without_recording == [("asterisk", "1795720200.9")]
    assert seen[0] == (0, 14) and seen[-1] == (14, 14)
    text = "\n".join(report.lines())
    assert "orphans (no call; indexed and flagged): 4" in text
    assert "calls with no recording: 1" in text

    # A file deleted and another corrupted after indexing show up on the next scan.
    (root / DAY / "1795720001.1.wav").unlink()
    target = root / DAY / "1795720002.2.wav"
    data = bytearray(target.read_bytes())
    data[100] ^= 1
    target.write_bytes(bytes(data))
    age(target)
    indexer = Indexer(root, rec_factory)
    try:
        report = await reconcile(indexer, rec_factory)
    finally:
        indexer.close()
    assert report.missing_files == [f"{DAY}/1795720001.1.wav"]
    assert [p for p, _ in report.changed] == [f"{DAY}/1795720002.2.wav"]
    async with rec_factory() as db:
        gone = await db.scalar(select(Recording).where(Recording.path == f"{DAY}/1795720001.1.wav"))
        assert gone.missing_at is not None


async def test_an_interrupted_scan_resumes_where_it_stopped(scene, tmp_path, rec_factory):
    root, _ = scene
    checkpoint = Checkpoint(tmp_path / "cp.json")
    indexer = Indexer(root, rec_factory)
    try:
        first = await reconcile(indexer, rec_factory, checkpoint=checkpoint, stop_after=5)
        assert not first.complete and first.scanned == 5
        assert checkpoint.load() == f"{DAY}/1795720004.4.wav"
        second = await reconcile(indexer, rec_factory, checkpoint=checkpoint, resume=True)
    finally:
        indexer.close()
    assert second.complete and second.scanned == 9  # only what was left
    assert checkpoint.load() is None
    async with rec_factory() as db:
        paths = set((await db.scalars(select(Recording.path))).all())
    assert len(paths) == 12


async def test_purge_keeps_legal_holds(scene, rec_factory):
    root, _ = scene
    indexer = Indexer(root, rec_factory)
    try:
        await reconcile(indexer, rec_factory)
    finally:
        indexer.close()
    async with rec_factory() as db:
        await db.execute(
            update(Recording).values(started_at=datetime.now(UTC) - timedelta(days=40))
        )
        rows = (await db.scalars(select(Recording).order_by(Recording.path))).all()
        held_flag, complaint_open, complaint_closed = rows[0], rows[1], rows[2]
        await db.execute(
            update(Recording).where(Recording.id == held_flag.id).values(legal_hold=True)
        )
        db.add(Complaint(recording_id=complaint_open.id, reason="citizen disputes"))
        db.add(
            Complaint(recording_id=complaint_closed.id, reason="done", closed_at=datetime.now(UTC))
        )
        await db.commit()
        dry = await purge(db, root, 30, dry_run=True)
        await db.commit()
    assert dry.held == 2 and len(dry.purged) == 10
    assert all((root / p).exists() for p in dry.purged)

    async with rec_factory() as db:
        assert (await purge(db, root, 41)).purged == []  # none that old
        report = await purge(db, root, 30)
        await db.commit()
    assert len(report.purged) == 10 and report.held == 2
    assert complaint_closed.path in report.purged
    for kept in (held_flag.path, complaint_open.path):
        assert (root / kept).exists() and kept not in report.purged
    assert not (root / complaint_closed.path).exists()
    async with rec_factory() as db:
        purged = (await db.scalars(select(Recording).where(Recording.purged_at.is_not(None)))).all()
        assert len(purged) == 10
        with pytest.raises(ValueError):
            await purge(db, root, 0)


async def test_cli_reconcile_index_and_purge(scene, tmp_path, rec_url, rec_factory):
    root, _ = scene
    env = dict(os.environ)
    env.update(
        CTI_DATABASE_URL=rec_url,
        CTI_DATA_DIR=str(tmp_path / "data"),
        CTI_RECORDINGS_DIR=str(root),
        CTI_LOG_JSON="false",
    )

    def cti(*args):
        return subprocess.run(
            [sys.executable, "-m", "cti.cli", "recordings", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = await asyncio.to_thread(cti, "reconcile")
    assert done.returncode == 1  # one unreadable file
    assert "scanned 14 files: 12 new" in done.stdout
    assert "[##############################] 14/14 files" in done.stderr
    assert f"{DAY}/1795720100.1.wav: not a RIFF/WAVE file" in done.stdout

    done = await asyncio.to_thread(
        cti, "index", str(root / DAY / "1795720000.0.wav"), "/etc/passwd"
    )
    assert done.returncode == 1
    assert "updated" in done.stdout and "orphan" in done.stdout
    assert "not inside the recordings folder" in done.stdout

    # The purge counts days from the real clock, and the files are named for a fixed day, so
    # the recordings' age is set relative to now: an hour old, then three days old.
    async def age_all(age):
        async with rec_factory() as db:
            await db.execute(update(Recording).values(started_at=datetime.now(UTC) - age))
            await db.commit()

    await age_all(timedelta(hours=1))
    done = await asyncio.to_thread(cti, "purge", "--older-than", "1", "--dry-run")
    assert done.returncode == 0 and "would remove 0 recordings" in done.stdout
    await age_all(timedelta(days=3))
    done = await asyncio.to_thread(cti, "purge", "--older-than", "1", "--dry-run")
    assert done.returncode == 0 and "would remove 12 recordings" in done.stdout
    assert (root / DAY / "1795720000.0.wav").exists()
    done = await asyncio.to_thread(cti, "purge", "--older-than", "0")
    assert done.returncode == 2 and "at least 1 day" in done.stderr
