"""The journal: durable appends, ordered reads, torn lines, several appending processes."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import stat
import threading

import pytest

from cti.agi import journal as journal_module
from cti.agi.groupcommit import CommitterStopped, GroupCommitter
from cti.agi.journal import Journal, JournalError, Position, decode_line, encode_line


def _payloads(n: int, tag: str = "r") -> list[bytes]:
    return [json.dumps({"i": i, "tag": tag}).encode() for i in range(n)]


def _read_all(journal: Journal, start: Position | None = None) -> tuple[list[bytes], Position]:
    position = start or journal.load_checkpoint()
    out: list[bytes] = []
    while True:
        result = journal.read(position, max_entries=7)
        out += [e.payload for e in result.entries]
        if result.end == position:
            return out, position
        position = result.end


def test_line_framing():
    line = encode_line(b'{"a":1}')
    assert line == b'%08x {"a":1}\n' % __import__("zlib").crc32(b'{"a":1}')
    assert decode_line(line[:-1]) == b'{"a":1}'
    assert decode_line(line[:-3]) is None  # torn
    assert decode_line(b"zzzzzzzz x") is None
    with pytest.raises(ValueError):
        encode_line(b"a\nb")


def test_append_then_read_in_order_and_checkpoint(tmp_path):
    journal = Journal(tmp_path)
    journal.append(_payloads(3, "a"))
    journal.append(_payloads(2, "b"))
    payloads, end = _read_all(journal)
    assert payloads == _payloads(3, "a") + _payloads(2, "b")
    journal.save_checkpoint(end)
    assert Journal(tmp_path).load_checkpoint() == end
    assert _read_all(journal)[0] == []
    journal.append(_payloads(1, "c"))
    assert _read_all(journal)[0] == _payloads(1, "c")
    assert journal.backlog_bytes(end) == len(encode_line(_payloads(1, "c")[0]))


def test_torn_tail_is_ended_and_skipped_not_merged(tmp_path):
    journal = Journal(tmp_path)
    journal.append(_payloads(2, "ok"))
    path = journal.segment_path(1)
    with open(path, "ab") as handle:  # a crash in the middle of a write
        handle.write(encode_line(b'{"i":99,"tag":"torn"}')[:15])
    # The reader does not hand out the torn piece (it may still be being written).
    assert _read_all(journal)[0] == _payloads(2, "ok")
    journal2 = Journal(tmp_path)  # the restarted process
    journal2.append(_payloads(1, "after"))
    assert journal2.torn_lines_ended == 1
    result = journal2.read(Position(1, 0))
    assert [e.payload for e in result.entries] == _payloads(2, "ok") + _payloads(1, "after")
    assert len(result.corrupt) == 1
    assert result.corrupt[0][1] == encode_line(b'{"i":99,"tag":"torn"}')[:15]


def test_rotation_release_and_reading_across_segments(tmp_path):
    journal = Journal(tmp_path, segment_bytes=60)  # ~2 records per segment
    for i in range(10):
        journal.append(_payloads(1, f"s{i}"))
    assert len(journal.segments()) > 3
    payloads, end = _read_all(journal)
    assert payloads == [p for i in range(10) for p in _payloads(1, f"s{i}")]
    assert end.segment == journal.segments()[-1]
    journal.save_checkpoint(end)
    removed = journal.release_before(end)
    assert removed >= 3 and journal.segments() == [end.segment]
    journal.append(_payloads(1, "late"))
    assert _read_all(journal, end)[0] == _payloads(1, "late")


def test_reader_skips_a_segment_released_under_it(tmp_path):
    journal = Journal(tmp_path, segment_bytes=90)  # 3 records of 31 bytes per segment
    for i in range(4):
        journal.append(_payloads(1, f"x{i}"))
    assert journal.segments() == [1, 2]
    journal.segment_path(1).unlink()
    payloads, _ = _read_all(journal, Position(1, 0))
    assert payloads == _payloads(1, "x3")


def test_a_segment_released_after_the_snapshot_is_skipped_not_an_error(tmp_path, monkeypatch):
    # `cti agi journal status` reads from the checkpoint it loaded while the writer goes
    # on: the writer may delete a segment it has committed between the reader's snapshot
    # of the segments and its opening them.
    journal = Journal(tmp_path, segment_bytes=90)
    for i in range(4):
        journal.append(_payloads(1, f"x{i}"))
    assert journal.segments() == [1, 2]
    real_snapshot = Journal._snapshot

    def snapshot_then_release(self: Journal, first: int) -> dict[int, int]:
        sizes = real_snapshot(self, first)
        self.segment_path(1).unlink()  # the writer, right after
        return sizes

    monkeypatch.setattr(Journal, "_snapshot", snapshot_then_release)
    result = journal.read(Position(1, 0))
    assert [e.payload for e in result.entries] == _payloads(1, "x3")
    assert result.end == Position(2, len(encode_line(_payloads(1, "x3")[0])))


def test_an_append_never_waits_for_a_reader_checking_its_lines(tmp_path, monkeypatch):
    # The reader is the writer process: niced, it may be descheduled in the middle of a
    # batch. An append answers Asterisk: it must not wait until the reader has checked
    # its lines, only for the reader's snapshot of the segment sizes.
    reader, appender = Journal(tmp_path), Journal(tmp_path)  # two processes' objects
    appender.append(_payloads(2, "old"))
    inside, release = threading.Event(), threading.Event()
    real_decode = journal_module.decode_line

    def slow_decode(line: bytes) -> bytes | None:
        inside.set()
        release.wait(30)
        return real_decode(line)

    monkeypatch.setattr(journal_module, "decode_line", slow_decode)
    results: list[list[bytes]] = []
    thread = threading.Thread(
        target=lambda: results.append([e.payload for e in reader.read(Position(1, 0)).entries])
    )
    thread.start()
    try:
        assert inside.wait(30)
        appended = threading.Thread(target=appender.append, args=(_payloads(1, "new"),))
        appended.start()
        appended.join(30)
        assert not appended.is_alive(), "the append waited for the reader"
    finally:
        release.set()
        thread.join(30)
    # The read returns what its snapshot held: complete lines, none of the later append.
    assert results == [_payloads(2, "old")]
    monkeypatch.undo()
    assert _read_all(reader)[0] == _payloads(2, "old") + _payloads(1, "new")


def _append_many(directory: str, tag: str, count: int) -> None:
    journal = Journal(directory, segment_bytes=4096)
    for i in range(count):
        journal.append([json.dumps({"tag": tag, "i": i}).encode()])
    journal.close()


def test_several_processes_append_at_once_without_losing_or_mixing_lines(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(tmp_path), f"p{n}", 150)) for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    journal = Journal(tmp_path, segment_bytes=4096)
    result_payloads, _ = _read_all(journal, Position(1, 0))
    records = [json.loads(p) for p in result_payloads]
    assert len(records) == 600
    for n in range(4):  # each process's records are all there, in its own order
        assert [r["i"] for r in records if r["tag"] == f"p{n}"] == list(range(150))
    assert len(journal.segments()) > 1


def test_writer_lock_is_exclusive_across_processes(tmp_path):
    first = Journal(tmp_path)
    assert first.try_lock_writer()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        assert pool.apply(_can_lock, (str(tmp_path),)) is False
        first.unlock_writer()
        assert pool.apply(_can_lock, (str(tmp_path),)) is True


def _can_lock(directory: str) -> bool:
    journal = Journal(directory)
    try:
        return journal.try_lock_writer()
    finally:
        journal.close()


def test_rejects_are_kept(tmp_path):
    journal = Journal(tmp_path)
    old_umask = os.umask(0o027)  # a service's usual umask: it must not narrow the mode
    try:
        journal.reject(b'{"x":1}', "value too long")
    finally:
        os.umask(old_umask)
    # Shared like the segments: the FastAGI server and the scripts' user both add to it.
    assert stat.S_IMODE(journal.rejected_path.stat().st_mode) == 0o660
    journal.reject(b"\xff torn", "damaged")
    assert journal.rejected_count() == 2
    lines = journal.rejected_path.read_bytes().splitlines()
    assert json.loads(decode_line(lines[0])) == {"reason": "value too long", "payload": '{"x":1}'}


def test_damaged_checkpoint_is_an_error_not_a_silent_restart(tmp_path):
    journal = Journal(tmp_path)
    journal.checkpoint_path.write_text("{nope")
    with pytest.raises(JournalError):
        journal.load_checkpoint()


def test_unwritable_folder_is_a_journal_error(tmp_path):
    if os.geteuid() == 0:
        target = tmp_path / "file"
        target.write_text("x")
        with pytest.raises(JournalError):
            Journal(target / "sub")
    else:
        tmp_path.chmod(0o500)
        with pytest.raises(JournalError):
            Journal(tmp_path / "sub")


async def test_group_commit_batches_concurrent_appends(tmp_path):
    journal = Journal(tmp_path)
    woken = []
    committer = GroupCommitter(journal, on_commit=lambda: woken.append(1))
    await committer.start()
    await asyncio.gather(*(committer.append(p) for p in _payloads(200)))
    await committer.stop()
    assert committer.records == 200
    assert committer.groups < 200  # several records per fdatasync
    assert sorted(_read_all(journal)[0]) == sorted(_payloads(200))
    with pytest.raises(CommitterStopped):
        await committer.append(b"{}")


async def test_group_commit_failure_fails_only_that_group(tmp_path):
    journal = Journal(tmp_path)
    committer = GroupCommitter(journal)
    await committer.start()
    original = journal.append
    calls = []

    def failing(payloads):
        calls.append(len(payloads))
        if len(calls) == 1:
            raise JournalError("disk full")
        return original(payloads)

    journal.append = failing  # type: ignore[method-assign]
    with pytest.raises(JournalError):
        await committer.append(b'{"first":1}')
    await committer.append(b'{"second":1}')
    await committer.stop()
    assert _read_all(journal)[0] == [b'{"second":1}']
