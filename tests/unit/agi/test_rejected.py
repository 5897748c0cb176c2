"""rejected.jnl read back and re-queued: hostile lines, all-or-nothing choices, a crash
between the two steps, and rejects arriving while a requeue runs."""

from __future__ import annotations

import json
import multiprocessing
import os

import pytest

from cti.agi import rejected as rejected_module
from cti.agi.cli import printable
from cti.agi.journal import Journal, Position, encode_line
from cti.agi.records import CallRecord
from cti.agi.rejected import MAX_LINE_BYTES, RequeueError, read_rejected, requeue


def _record(i: int, **kw) -> CallRecord:
    return CallRecord("call-end", "node-r", f"1795711939.{i}", f"1795711939.{i}", 1.0, **kw)


def _journaled(journal: Journal) -> list[bytes]:
    out: list[bytes] = []
    position = Position(1, 0)
    while True:
        result = journal.read(position)
        out += [e.payload for e in result.entries]
        if result.end == position:
            return out
        position = result.end


def _hostile(journal: Journal) -> list[bytes]:
    """A rejected.jnl with two good records among every kind of bad line; returns the
    two good payloads."""
    good = [
        _record(1, caller_name="Eve\nagi_x: 1\x1b[31m\u202e", disposition="after_hours"),
        _record(2, caller_name="张伟"),
    ]
    journal.reject(good[0].to_json(), "violates check constraint\nDETAIL: (\x1b[2J, \x00)")
    journal.reject(b"\xff\x00 torn\x1b]0;title\x07", "damaged line (torn by a crash)")
    journal.reject(b'{"not":"a record"}', "unknown record kind None")
    with open(journal.rejected_path, "ab") as handle:
        handle.write(b"garbage \x00\x1b[31m\n")
        handle.write(b"x" * (MAX_LINE_BYTES * 3) + b"\n")
        handle.write(encode_line(json.dumps({"reason": "r", "payload": "\ud800"}).encode()))
        handle.write(encode_line(json.dumps({"reason": "r", "payload": "{}\n{}"}).encode()))
    journal.reject(good[1].to_json(), "value too long for type character varying(16)")
    with open(journal.rejected_path, "ab") as handle:  # a crash in the middle of a reject
        handle.write(encode_line(b'{"reason":"x","payload":"{}"}')[:12])
    return [r.to_json() for r in good]


def test_every_line_is_listed_and_only_records_can_be_requeued(tmp_path):
    journal = Journal(tmp_path)
    good = _hostile(journal)
    lines = read_rejected(journal)
    assert [line.index for line in lines] == list(range(1, 10))
    assert [line.payload for line in lines if line.requeueable] == good
    assert [line.index for line in lines if line.requeueable] == [1, 8]
    assert "DETAIL" in lines[0].reason and lines[0].record.linkedid == "1795711939.1"
    huge = lines[4]
    assert huge.size == MAX_LINE_BYTES * 3 and "longer than any record" in huge.problem
    assert len(huge.preview) <= 200
    problems = {line.index: line.problem for line in lines}
    assert "not JSON" in problems[2] and "not a call record" in problems[3]
    assert "damaged" in problems[4] and "not valid text" in problems[6]
    assert "several lines" in problems[7] and "damaged" in problems[9]
    for line in lines:
        json.dumps(line.as_dict())  # every line can be printed as JSON


def test_requeue_by_index_moves_just_those_and_keeps_the_rest_byte_for_byte(tmp_path):
    journal = Journal(tmp_path)
    good = _hostile(journal)
    before = journal.rejected_path.read_bytes().split(b"\n")
    result = requeue(journal, [8])
    assert [line.index for line in result.requeued] == [8] and result.kept == []
    assert _journaled(journal) == [good[1]]
    after = journal.rejected_path.read_bytes().split(b"\n")
    assert after == before[:7] + before[8:9] + [b""]  # the torn tail got its newline
    assert [line.index for line in read_rejected(journal) if line.requeueable] == [1]


def test_requeue_all_keeps_what_cannot_be_requeued(tmp_path):
    journal = Journal(tmp_path)
    good = _hostile(journal)
    result = requeue(journal)
    assert [line.index for line in result.requeued] == [1, 8]
    assert [line.index for line in result.kept] == [2, 3, 4, 5, 6, 7, 9]
    assert _journaled(journal) == good
    assert journal.rejected_count() == 7
    assert not any(line.requeueable for line in read_rejected(journal))
    assert requeue(journal).requeued == []  # nothing left to do: nothing appended
    assert _journaled(journal) == good


@pytest.mark.parametrize(("indexes", "message"), [([1, 99], "#99"), ([1, 2], "#2: ")])
def test_a_bad_index_requeues_nothing(tmp_path, indexes, message):
    journal = Journal(tmp_path)
    _hostile(journal)
    before = journal.rejected_path.read_bytes()
    with pytest.raises(RequeueError, match=message):
        requeue(journal, indexes)
    assert journal.rejected_path.read_bytes() == before and _journaled(journal) == []


def test_no_rejected_file(tmp_path):
    journal = Journal(tmp_path)
    assert read_rejected(journal) == [] and requeue(journal).requeued == []
    with pytest.raises(RequeueError):
        requeue(journal, [1])
    assert not journal.rejected_path.exists()


def test_a_crash_between_append_and_removal_repeats_a_record_never_loses_it(tmp_path, monkeypatch):
    journal = Journal(tmp_path)
    record = _record(5).to_json()
    journal.reject(record, "county missing")

    def crash(*_):
        raise OSError("power cut")

    monkeypatch.setattr(rejected_module.os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        requeue(journal, [1])
    assert _journaled(journal) == [record] and journal.rejected_count() == 1  # both places
    monkeypatch.undo()
    requeue(journal, [1])
    # In the journal twice (the writer's upserts make that harmless), and gone from here.
    assert _journaled(journal) == [record, record] and journal.rejected_count() == 0


def test_a_torn_reject_is_ended_before_the_next_one(tmp_path):
    journal = Journal(tmp_path)
    journal.reject(_record(1).to_json(), "a")
    with open(journal.rejected_path, "ab") as handle:
        handle.write(b'0123abcd {"reason": ')  # the writer died in the middle of a line
    journal.reject(_record(2).to_json(), "b")
    assert [line.requeueable for line in read_rejected(journal)] == [True, False, True]


def _reject_many(directory: str, start: int, count: int) -> None:
    journal = Journal(directory)
    for i in range(start, start + count):
        journal.reject(_record(i).to_json(), f"reason {i}")
    journal.close()


def test_rejects_written_while_requeues_run_are_neither_lost_nor_doubled(tmp_path):
    """The writer (another process) keeps rejecting records while a person re-queues:
    every record ends up exactly once, in the journal or still in rejected.jnl."""
    journal = Journal(tmp_path)
    context = multiprocessing.get_context("spawn")
    writers = [
        context.Process(target=_reject_many, args=(str(tmp_path), n * 1000, 150)) for n in range(2)
    ]
    for process in writers:
        process.start()
    rounds = 0
    while any(p.is_alive() for p in writers) or rounds == 0:
        requeue(journal)
        rounds += 1
    for process in writers:
        process.join(30)
        assert process.exitcode == 0
    journaled = _journaled(journal)
    left = [line.payload for line in read_rejected(journal)]
    expected = sorted(_record(n * 1000 + i).to_json() for n in range(2) for i in range(150))
    assert sorted(journaled + left) == expected
    assert rounds > 1 and journaled  # the requeues did run alongside


def test_printable_shows_hostile_text_on_one_safe_line():
    assert printable("a\nb\x00c\x1b[2J\u202ed\u2028", 80) == "a\\x0ab\\x00c\\x1b[2J\\u202ed\\u2028"
    assert printable("\U000e0041 张伟", 80) == "\\U000e0041 张伟"
    cut = printable("x" * 10_000_000, 20)
    assert cut == "x" * 17 + "..." and len(printable("\x00" * 50, 20)) == 20
    assert os.linesep not in printable("\r\n" * 5, 100)
