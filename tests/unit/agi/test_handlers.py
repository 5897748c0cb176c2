"""call-start / call-end on the captured sessions, and on hostile input."""

from __future__ import annotations

import pytest

from cti.agi.handlers import (
    CALL_END,
    CALL_START,
    COUNTY_CODE,
    HANDLERS,
    QUEUE_NAME,
    AgiRequest,
    EndFacts,
    HandlerContext,
    derive_end,
)
from cti.agi.protocol import format_environment, parse_environment, parse_target
from cti.agi.records import RecordRejected
from cti.numbers import NumberPlan
from cti.store.counties import CODE_PATTERN, QUEUE_PATTERN
from tests.unit.agi.traces import (
    GROUND_TRUTH,
    call_variables,
    capture2_sessions,
    channel_lookup,
)

CTX = HandlerContext(node="node-a", plan=NumberPlan())
RECEIVED = 1_795_712_000.0


def _request(env_bytes: bytes, received_at: float = RECEIVED) -> AgiRequest:
    env = parse_environment(env_bytes.split(b"\n\n", 1)[0].split(b"\n"))
    target = parse_target(env.get("network_script"))
    return AgiRequest(target.script, target.params, env, received_at)


def _run(session, calls):
    request = _request(session.env_bytes)
    handler = HANDLERS[request.script]
    lookup = channel_lookup(session, calls)
    pulled = {p: lookup(v) for p, v in handler.missing(request.params).items()}
    return handler.build(request, pulled, CTX)


SESSIONS = capture2_sessions()
CALLS = call_variables(SESSIONS)


@pytest.mark.parametrize(
    "session", [s for s in SESSIONS if s.script in HANDLERS], ids=lambda s: s.name
)
def test_captured_sessions_give_the_ground_truth(session):
    outcome = _run(session, CALLS)
    record = outcome.record
    truth = GROUND_TRUTH[session.uniqueid]
    assert (record.node, record.linkedid, record.uniqueid) == (
        "node-a",
        session.uniqueid,  # inbound: the caller channel's Uniqueid is the Linkedid
        session.uniqueid,
    )
    assert record.caller_number == truth["number"] == record.caller_number_raw
    assert record.caller_name == truth["name"]
    assert record.county == truth["county"]
    assert record.did == {"north": "9615601", "south": "9615602"}[truth["county"]]
    assert record.channel == session.env["agi_channel"]
    epoch_of_channel = float(session.uniqueid.split(".")[0])
    if session.script == "call-start":
        assert record.kind == "call-start"
        assert record.started_at == epoch_of_channel
        assert record.ended_at is None and record.disposition is None
    else:
        assert record.kind == "call-end"
        assert record.disposition == truth["disposition"]
        assert (record.wait_s, record.talk_s) == (truth["wait"], truth["talk"])
        assert record.agent_interface == truth["agent"]
        assert record.hangup_cause == truth["cause"]
        assert record.ended_at == float(CALLS[session.uniqueid]["EPOCH"])
        assert record.ended_at - record.queued_at == int(CALLS[session.uniqueid]["DIALEDTIME"])
        if truth["disposition"] == "answered":
            assert record.answered_at == record.ended_at - truth["talk"]
    # The capture's dialplan put COUNTY/DID in the URL but no queue: none is invented.
    assert record.queue is None
    assert outcome.notes == ()


def test_call_end_reads_only_what_the_request_lacks():
    assert (
        CALL_START.missing({"linkedid": "1", "county": "", "queue": "q", "did": "1", "t": "1"})
        == {}
    )
    assert set(CALL_END.missing({})) >= {"cause", "answered", "dialed", "hold", "member", "t"}


def _env(**overrides: str) -> bytes:
    values = {
        "network": "yes",
        "network_script": "call-start?linkedid=1795711939.2&county=north&queue=county-north"
        "&did=9615601&t=1795711939",
        "request": "agi://127.0.0.1:4573/call-start",
        "channel": "PJSIP/trunk-00000002",
        "uniqueid": "1795711939.2",
        "callerid": "13800138041",
        "calleridname": "Citizen",
        "dnid": "9615601",
    }
    values.update(overrides)
    return format_environment(values)


def test_our_dialplan_needs_no_round_trip():
    request = _request(_env())
    assert CALL_START.missing(request.params) == {}
    record = CALL_START.build(request, {}, CTX).record
    assert (record.county, record.queue, record.did, record.started_at) == (
        "north",
        "county-north",
        "9615601",
        1795711939.0,
    )


HOSTILE_NAMES = [
    'O\'Brien \\"x\\";,\\\\ a\\\\nb',  # as PJSIP stores a quoted-pair display name
    "Robert'); DROP TABLE calls;--",
    "<script>alert(1)</script>",
    '"quoted", with, commas; and semicolons',
    "José 张伟",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_caller_names_are_stored_verbatim(name):
    record = CALL_START.build(_request(_env(calleridname=name)), {}, CTX).record
    assert record.caller_name == name


def test_nul_invalid_utf8_and_10kb_names():
    raw = _env(calleridname="x").replace(b"agi_calleridname: x", b"agi_calleridname: a\0b\xffc")
    assert CALL_START.build(_request(raw), {}, CTX).record.caller_name == "a\ufffdb\ufffdc"
    long = "N" * 10_240
    outcome = CALL_START.build(_request(_env(calleridname=long, callerid="9" * 10_240)), {}, CTX)
    assert outcome.record.caller_name == "N" * 255
    assert outcome.record.caller_number_raw == "9" * 255
    assert outcome.record.caller_number is None  # not a phone number
    assert any("caller_name: cut from 10240 to 255" in n for n in outcome.notes)


def test_caller_number_forms_are_normalised_and_raw_kept():
    for raw, key in [
        ("+8613800138000", "13800138000"),
        ("05515550123", "5515550123"),
        ("anonymous", None),
        ("13800138000", "13800138000"),
    ]:
        record = CALL_START.build(_request(_env(callerid=raw)), {}, CTX).record
        assert (record.caller_number, record.caller_number_raw) == (key, raw)
    record = CALL_START.build(_request(_env(callerid="unknown", calleridname="unknown")), {}, CTX)
    assert record.record.caller_number_raw is None and record.record.caller_name is None


def test_parameters_that_are_not_what_they_claim_are_dropped_with_a_note():
    script = (
        "call-start?linkedid=1.2&county=North%3BDROP&queue=q%20x&did=9615601"
        "&t=yesterday&node=bad%20node"
    )
    outcome = CALL_START.build(_request(_env(network_script=script)), {}, CTX)
    record = outcome.record
    assert (record.county, record.queue, record.node) == (None, None, "node-a")
    assert record.started_at == RECEIVED
    assert len(outcome.notes) == 4


def test_missing_uniqueid_or_malformed_ids_are_rejected():
    raw = _env().replace(b"agi_uniqueid: 1795711939.2\n", b"")
    with pytest.raises(RecordRejected):
        CALL_START.build(_request(raw), {}, CTX)
    with pytest.raises(RecordRejected):
        CALL_START.build(_request(_env(uniqueid="1.2; DROP TABLE calls")), {}, CTX)
    script = "call-start?linkedid=" + "9" * 100
    with pytest.raises(RecordRejected):
        CALL_START.build(_request(_env(network_script=script)), {}, CTX)


def test_linkedid_falls_back_to_the_uniqueid_with_a_note():
    outcome = CALL_START.build(_request(_env(network_script="call-start")), {}, CTX)
    assert outcome.record.linkedid == "1795711939.2"
    assert any("linkedid unknown" in n for n in outcome.notes)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        # capture2 n-answered: ANSWEREDTIME 9, but AgentComplete TalkTime 10 = 12 - 2
        (
            EndFacts(100.0, dialed=12, hold=2, answered_time=9, member="PJSIP/1002"),
            ("answered", 2, 10, 88.0, 90.0),
        ),
        (
            EndFacts(100.0, hold=2, answered_time=9, member="PJSIP/1002"),
            ("answered", 2, 9, None, 91.0),
        ),
        (EndFacts(100.0, dialed=5), ("abandoned", 5, 0, 95.0, None)),
        (EndFacts(100.0, queued_at=40.0), ("abandoned", 60, 0, 40.0, None)),
        (EndFacts(100.0, dialed=300, queue_status="TIMEOUT"), ("timeout", 300, 0, -200.0, None)),
        (EndFacts(100.0, queued_at=99.0, queue_status="JOINEMPTY"), ("timeout", 1, 0, 99.0, None)),
        (
            EndFacts(100.0, dialed=20, hold=3, member="PJSIP/1001", transferred=True),
            ("transferred", 3, 17, 80.0, 83.0),
        ),
        (EndFacts(100.0), ("failed", None, None, None, None)),
    ],
)
def test_derive_end(facts, expected):
    end = derive_end(facts)
    assert (end.disposition, end.wait_s, end.talk_s, end.queued_at, end.answered_at) == expected


def test_patterns_match_the_store():
    assert COUNTY_CODE.pattern == CODE_PATTERN and QUEUE_NAME.pattern == QUEUE_PATTERN
