"""How the writer sorts a batch's payloads by kind without decoding them (``Batch.of``),
and what it does with a payload that does not look like ``to_json``'s."""

from __future__ import annotations

import json

import pytest

from cti.agi.records import CallRecord, RecordRejected
from cti.agi.upsert import Batch, json_array


def _start(lid: str) -> CallRecord:
    return CallRecord("call-start", "n", lid, lid, 1.0, caller_name='Zoë "x", <b>')


def _end(lid: str) -> CallRecord:
    return CallRecord("call-end", "n", lid, lid, 2.0, disposition="answered")


def test_records_as_to_json_writes_them_are_sorted_by_kind_as_they_are():
    payloads = [_start("1.1").to_json(), _end("1.1").to_json(), _start("1.2").to_json()]
    batch = Batch.of(payloads)
    assert batch.starts == [payloads[0], payloads[2]]  # the same bytes, in journal order
    assert batch.ends == [payloads[1]]


def test_a_record_written_otherwise_is_read_and_written_anew():
    record = _end("2.1")
    reordered = json.dumps(dict(reversed(json.loads(record.to_json()).items()))).encode()
    spaced = json.dumps(json.loads(_start("2.2").to_json()), indent=None).encode()
    batch = Batch.of([reordered, spaced])
    assert batch.ends == [record.to_json()]
    assert batch.starts == [_start("2.2").to_json()]


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[]", b'{"kind":"call-middle","node":"n"}', b'{"node":"n"}'],
)
def test_a_payload_that_is_no_call_record_is_refused(payload):
    with pytest.raises(RecordRejected):
        Batch.of([_start("3.1").to_json(), payload])


def test_the_json_array_holds_every_payload_and_refuses_bytes_that_are_not_utf8():
    payloads = [_start("4.1").to_json(), _end("4.1").to_json()]
    assert json.loads(json_array(payloads)) == [json.loads(p) for p in payloads]
    with pytest.raises(UnicodeDecodeError):
        json_array([b'{"caller_name":"\xff"}'])
