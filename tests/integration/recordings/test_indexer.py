"""Indexing the real MixMonitor files from the capture, and the files that go wrong:
unreadable, truncated, still being written, changed after indexing, deleted."""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from cti.recordings.indexer import Indexer, Kind, index_file
from cti.store.recordings import Recording
from tests.integration.recordings.conftest import CAPTURED, add_call, age, file_capture

DAY = "20261126"


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "recordings"
    r.mkdir()
    return r


async def _rows(factory) -> dict[str, Recording]:
    async with factory() as db:
        return {r.path: r for r in (await db.scalars(select(Recording))).all()}


async def _clear(factory) -> None:
    from sqlalchemy import delete

    async with factory() as db:
        await db.execute(delete(Recording))
        await db.commit()


async def test_captured_files_are_indexed_with_their_calls(traces_dir, root, rec_factory):
    await _clear(rec_factory)
    # call (a) is on file; the abandoned call (b) and the follow-up (d) have no call row.
    north = await add_call(rec_factory, "1795710920.0", agent_interface="PJSIP/1001")
    for name in CAPTURED:
        file_capture(traces_dir, root, name, f"{DAY}/{name}")
    indexer = Indexer(root, rec_factory)
    try:
        outcomes = await indexer.index_paths(sorted(f"{DAY}/{n}" for n in CAPTURED))
        assert [o.kind for o in outcomes] == [Kind.INDEXED] * 3
        rows = await _rows(rec_factory)
        for name, (uniqueid, size, duration) in CAPTURED.items():
            row = rows[f"{DAY}/{name}"]
            data = (traces_dir / "recordings" / name).read_bytes()
            assert (row.uniqueid, row.size_bytes, row.duration_ms) == (uniqueid, size, duration)
            assert (row.format, row.codec, row.sample_rate, row.channels) == (
                "wav",
                "pcm_s16le",
                8000,
                1,
            )
            assert row.sha256 == hashlib.sha256(data).hexdigest()
            assert row.problem is None and row.checksum_changed_at is None
        north_row = rows[f"{DAY}/north-13800138000-1795710920.0.wav"]
        assert north_row.call_id == north
        assert north_row.caller_number == "13800138000" and north_row.did == "9615601"
        assert north_row.agent_interface == "PJSIP/1001"
        assert north_row.started_at == datetime.fromtimestamp(1795710920, UTC)
        # orphans are indexed all the same, with the Uniqueid's time as their start
        south = rows[f"{DAY}/south-13900139000-1795710933.2.wav"]
        assert south.call_id is None
        assert south.started_at == datetime.fromtimestamp(1795710933, UTC)

        # Idempotent: a second pass changes nothing but re-verifies.
        again = await indexer.index_paths(sorted(f"{DAY}/{n}" for n in CAPTURED))
        assert [o.kind for o in again] == [Kind.UPDATED] * 3
        async with rec_factory() as db:
            assert await db.scalar(select(func.count()).select_from(Recording)) == 3

        # The call row of (b) arrives late: the next pass links the orphan.
        late = await add_call(rec_factory, "1795710933.2", disposition="abandoned")
        (outcome,) = await indexer.index_paths([f"{DAY}/south-13900139000-1795710933.2.wav"])
        assert outcome.kind is Kind.UPDATED and not outcome.orphan
        assert (await _rows(rec_factory))[
            f"{DAY}/south-13900139000-1795710933.2.wav"
        ].call_id == late
    finally:
        indexer.close()


async def test_production_name_and_a_uniqueid_repeated_after_a_restart(
    traces_dir, root, rec_factory
):
    """Uniqueids restart with Asterisk (capture2): the call closest in time wins."""
    await _clear(rec_factory)
    uid = "1795799000.7"
    await add_call(rec_factory, uid, node="other-node", started_at=datetime(2026, 1, 1, tzinfo=UTC))
    right = await add_call(rec_factory, uid, node="asterisk")
    file_capture(traces_dir, root, "north-13800138000-1795710920.0.wav", f"{DAY}/{uid}.wav")
    indexer = Indexer(root, rec_factory)
    try:
        outcome = await index_file(indexer, root / DAY / f"{uid}.wav")
    finally:
        indexer.close()
    assert outcome.kind is Kind.INDEXED and not outcome.orphan
    assert (await _rows(rec_factory))[f"{DAY}/{uid}.wav"].call_id == right


async def test_bad_files_are_reported_and_never_stop_the_batch(traces_dir, root, rec_factory):
    await _clear(rec_factory)
    good = file_capture(
        traces_dir, root, "north-13800138000-1795710920.0.wav", f"{DAY}/1795700001.1.wav"
    )
    (root / DAY / "1795700002.2.wav").write_bytes(b"this is not audio at all")
    (root / DAY / "1795700003.3.wav").write_bytes(good.read_bytes()[:30])  # header cut
    (root / DAY / "1795700004.4.wav").write_bytes(b"")  # empty
    (root / DAY / "1795700005.5.mp3").write_bytes(b"ID3garbage" * 10)  # ffprobe refuses
    truncated = root / DAY / "1795700006.6.wav"
    truncated.write_bytes(good.read_bytes()[:20044])  # audio cut short after the header
    for p in (root / DAY).iterdir():
        age(p)
    indexer = Indexer(root, rec_factory)
    try:
        outcomes = {
            o.relpath.split("/")[-1]: o
            for o in await indexer.index_paths(
                sorted(f"{DAY}/{p.name}" for p in (root / DAY).iterdir())
                + [f"{DAY}/1795700009.9.wav", "../../etc/passwd"]
            )
        }
    finally:
        indexer.close()
    assert outcomes["1795700001.1.wav"].kind is Kind.INDEXED
    for name, why in [
        ("1795700002.2.wav", "not a RIFF"),
        ("1795700003.3.wav", "no data chunk"),
        ("1795700004.4.wav", "empty file"),
        ("1795700005.5.mp3", "ffprobe"),
        ("1795700009.9.wav", "cannot read"),  # does not exist
        ("passwd", "refusing path"),
    ]:
        assert outcomes[name].kind is Kind.FAILED, name
        assert why in outcomes[name].detail, (name, outcomes[name].detail)
    # truncated audio is indexed, with the problem noted and the duration it really has
    assert outcomes["1795700006.6.wav"].kind is Kind.INDEXED
    row = (await _rows(rec_factory))[f"{DAY}/1795700006.6.wav"]
    assert row.duration_ms == 1250 and row.problem.startswith("truncated")
    assert set(await _rows(rec_factory)) == {f"{DAY}/1795700001.1.wav", f"{DAY}/1795700006.6.wav"}


async def test_a_file_being_written_is_not_indexed_half_done(traces_dir, root, rec_factory):
    await _clear(rec_factory)
    path = file_capture(
        traces_dir, root, "north-13800138000-1795710920.0.wav", f"{DAY}/1795710999.1.wav"
    )
    data = bytearray(path.read_bytes()[:50044])
    struct.pack_into("<I", data, 4, 0)  # what MixMonitor leaves until it closes the file
    struct.pack_into("<I", data, 40, 0)
    path.write_bytes(bytes(data))  # fresh mtime: being written
    indexer = Indexer(root, rec_factory)
    try:
        (outcome,) = await indexer.index_paths([f"{DAY}/1795710999.1.wav"])
        assert outcome.kind is Kind.BUSY
        age(path, 60)  # quiet for a minute but the header still says "open": still busy
        (outcome,) = await indexer.index_paths([f"{DAY}/1795710999.1.wav"])
        assert outcome.kind is Kind.BUSY
        assert await _rows(rec_factory) == {}
        # Asterisk finishes: full file, real header
        file_capture(
            traces_dir, root, "north-13800138000-1795710920.0.wav", f"{DAY}/1795710999.1.wav"
        )
        (outcome,) = await indexer.index_paths([f"{DAY}/1795710999.1.wav"])
        assert outcome.kind is Kind.INDEXED
        assert (await _rows(rec_factory))[f"{DAY}/1795710999.1.wav"].duration_ms == 6020
    finally:
        indexer.close()


async def test_a_file_abandoned_unfinalised_is_indexed_with_its_problem(
    traces_dir, root, rec_factory
):
    await _clear(rec_factory)
    path = file_capture(
        traces_dir, root, "north-13800138000-1795710920.0.wav", f"{DAY}/1795710998.1.wav"
    )
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, 40, 0)
    path.write_bytes(bytes(data))
    age(path, 3600)  # Asterisk died an hour ago
    indexer = Indexer(root, rec_factory)
    try:
        (outcome,) = await indexer.index_paths([f"{DAY}/1795710998.1.wav"])
    finally:
        indexer.close()
    assert outcome.kind is Kind.INDEXED
    row = (await _rows(rec_factory))[f"{DAY}/1795710998.1.wav"]
    assert row.duration_ms == 6020 and "not finalised" in row.problem


async def test_changed_bytes_keep_the_original_checksum_and_are_flagged(
    traces_dir, root, rec_factory
):
    await _clear(rec_factory)
    path = file_capture(
        traces_dir, root, "north-13800138000-1795710920.0.wav", f"{DAY}/1795710997.1.wav"
    )
    original = hashlib.sha256(path.read_bytes()).hexdigest()
    indexer = Indexer(root, rec_factory)
    try:
        await indexer.index_paths([f"{DAY}/1795710997.1.wav"])
        data = bytearray(path.read_bytes())
        data[5000] ^= 0xFF  # one flipped byte, same size
        path.write_bytes(bytes(data))
        age(path)
        (outcome,) = await indexer.index_paths([f"{DAY}/1795710997.1.wav"])
    finally:
        indexer.close()
    assert outcome.kind is Kind.CHANGED and original in outcome.detail
    row = (await _rows(rec_factory))[f"{DAY}/1795710997.1.wav"]
    assert row.sha256 == original and row.checksum_changed_at is not None


async def test_index_file_refuses_paths_outside_the_root(tmp_path, root, rec_factory):
    outside = tmp_path / "outside.wav"
    outside.write_bytes(b"RIFF")
    indexer = Indexer(root, rec_factory)
    try:
        outcome = await index_file(indexer, outside)
    finally:
        indexer.close()
    assert outcome.kind is Kind.FAILED and "not inside" in outcome.detail
