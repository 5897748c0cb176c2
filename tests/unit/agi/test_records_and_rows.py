"""Records (sanitising, JSON) and the row rules: any order, any repetition, one row."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.agi.records import CallRecord, RecordRejected, clean_text
from cti.agi.rows import END_FIELDS, START_FIELDS, apply, normalised


def test_clean_text():
    assert clean_text(None, 5) == (None, False)
    assert clean_text("a\0b", 5) == ("a\ufffdb", False)
    assert clean_text("abcdef", 5) == ("abcde", True)
    assert clean_text("'; DROP--\n<b>", 50) == ("'; DROP--\n<b>", False)


def test_record_json_round_trip_keeps_hostile_text():
    record = CallRecord(
        kind="call-start",
        node="n",
        linkedid="1.2",
        uniqueid="1.2",
        received_at=1.5,
        caller_name='a"b\\c\nd\u2028e 张',
        started_at=1795711939.0,
    )
    line = record.to_json()
    assert b"\n" not in line
    assert CallRecord.from_json(line) == record


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"[]", b'{"kind":"nope"}', b'{"kind":"call-start","node":"n"}']
)
def test_from_json_rejects_anything_else(raw):
    with pytest.raises(RecordRejected):
        CallRecord.from_json(raw)


def test_record_refuses_unstorable_text_and_maps_empty_to_none():
    with pytest.raises(RecordRejected):
        CallRecord("call-start", "n", "1", "1", 0.0, caller_name="a\0b")
    with pytest.raises(RecordRejected):
        CallRecord("call-start", "n", "1", "1", 0.0, did="1" * 33)
    with pytest.raises(RecordRejected):
        CallRecord("call-start", "n", "1", "1", float("nan"))
    assert CallRecord("call-start", "n", "1", "1", 0.0, caller_name="").caller_name is None


# --- the row rules, as a property (batching: tests/integration/agi/test_upsert_rules.py) ---

_text = st.sampled_from([None, "a", "b"])


@st.composite
def records(draw):
    kind = draw(st.sampled_from(["call-start", "call-end"]))
    linkedid = draw(st.sampled_from(["1.1", "1.2"]))
    start = {name: draw(_text) for name in START_FIELDS if name not in ("uniqueid", "started_at")}
    fields = dict(
        kind=kind,
        node="n",
        linkedid=linkedid,
        uniqueid=linkedid,
        received_at=0.0,
        started_at=draw(st.sampled_from([None, 1.0, 2.0])),
        **start,
    )
    if kind == "call-end":
        fields.update(
            ended_at=draw(st.sampled_from([None, 5.0, 6.0])),
            wait_s=draw(st.sampled_from([None, 1, 2])),
            disposition=draw(st.sampled_from(["answered", "abandoned"])),
            agent_interface=draw(_text),
        )
    return CallRecord(**fields)


def _sequential(recs):
    rows = {}
    for record in recs:
        rows[record.key] = apply(rows.get(record.key), record)
    return {k: normalised(v) for k, v in rows.items()}


@settings(max_examples=300, deadline=None)
@given(st.lists(records(), max_size=10), st.integers(0, 10), st.integers(0, 10))
def test_replaying_a_prefix_again_changes_nothing(recs, start, stop):
    # A crash after the commit and before the checkpoint replays a batch.
    lo, hi = sorted((start % (len(recs) + 1), stop % (len(recs) + 1)))
    assert _sequential(recs[:hi] + recs[lo:hi] + recs[hi:]) == _sequential(recs)


def test_start_and_end_commute_and_end_only_fills_gaps():
    start = CallRecord(
        "call-start", "n", "1.1", "1.1", 0.0, caller_name="Ann", queue="q1", started_at=10.0
    )
    end = CallRecord(
        "call-end",
        "n",
        "1.1",
        "1.1",
        0.0,
        caller_name="Ann (end)",
        did="9",
        started_at=11.0,
        ended_at=20.0,
        disposition="answered",
        wait_s=2,
    )
    one = normalised(apply(apply(None, start), end))
    two = normalised(apply(apply(None, end), start))
    assert one == two
    assert one["caller_name"] == "Ann" and one["started_at"] == 10.0  # the start's own
    assert one["did"] == "9"  # a gap the end filled
    assert one["disposition"] == "answered" and one["wait_s"] == 2
    assert normalised(apply(None, start))["disposition"] == "in_progress"
    assert set(one) == {*START_FIELDS, *END_FIELDS}
