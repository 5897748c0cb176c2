"""Calls the hotline places ([revisit]: the backend's Originate) are logged as outbound.

The requests are built from the dialplan's own text (asterisk_conf/extensions.conf), with
the channel variables filled in as the captured Originate follow-up shows them
(shared/asterisk-traces/ami-originate-followup.txt: the agent's channel PJSIP/1001-00000006
runs the dialplan, its Uniqueid is the Linkedid, its caller ID is the hotline's, and at
the end Dial() has set DIALSTATUS=ANSWER, ANSWEREDTIME=4, DIALEDTIME=6).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cti.agi.handlers import (
    CALL_END,
    CALL_START,
    AgiRequest,
    EndFacts,
    HandlerContext,
    derive_end,
)
from cti.agi.protocol import parse_environment, parse_target
from cti.agi.records import CallRecord, RecordRejected
from cti.numbers import NumberPlan

CTX = HandlerContext(node="node-a", plan=NumberPlan())
DIALPLAN = (Path(__file__).resolve().parents[3] / "asterisk_conf" / "extensions.conf").read_text()
T0 = 1_795_710_973.0
#: What the channel holds when [revisit] and its hangup handler run (the capture's call).
CHANNEL_VARS = {
    "CHANNEL(linkedid)": "1795710973.6",
    "NUMBER": "13800138000",
    "CTI_NODE": "",
    "CTI_STARTED": str(int(T0)),
    "EPOCH": str(int(T0) + 7),
    "HANGUPCAUSE": "16",
    "ANSWEREDTIME": "4",
    "DIALEDTIME": "6",
    "DIALSTATUS": "ANSWER",
}


def _line(pattern: str) -> str:
    match = re.search(pattern, DIALPLAN, re.M)
    assert match, pattern
    return match.group(1)


def _expand(text: str, variables: dict[str, str]) -> str:
    """Asterisk's substitution for what these lines use: ${VAR}, ${URIENCODE(${VAR})}."""
    text = re.sub(r"\$\{URIENCODE\(\$\{([^}]+)\}\)\}", lambda m: variables[m.group(1)], text)
    return re.sub(r"\$\{([A-Za-z_()]+)\}", lambda m: variables[m.group(1)], text)


def _revisit_queries(variables: dict[str, str]) -> tuple[str, str]:
    """The call-start and call-end queries [revisit] and its hangup handler send."""
    common = _expand(_line(r"^ same => n,Set\(CTI_COMMON=(.*direction=outbound.*)\)$"), variables)
    start = _line(r"^ same => n,Gosub\(cti-agi,s,1\(call-start,\$\{CTI_COMMON\}(&t=[^)]*)\)\)$")
    end = _line(r"^exten => outbound,1,Gosub\(cti-agi,s,1\(call-end,\$\{CTI_COMMON\}(.*)\)\)$")
    return common + _expand(start, variables), common + _expand(end, variables)


def _request(script: str, query: str, channel: str = "PJSIP/1001-00000006") -> AgiRequest:
    env = parse_environment(
        [
            b"agi_network: yes",
            f"agi_network_script: {script}?{query}".encode(),
            b"agi_uniqueid: 1795710973.6",
            f"agi_channel: {channel}".encode(),
            b"agi_callerid: 9615601",  # the hotline's number, not the citizen's
            b"agi_calleridname: Hotline follow-up",
            b"agi_context: revisit",
            b"agi_extension: 13800138000",
        ]
    )
    target = parse_target(env.get("network_script"))
    return AgiRequest(target.script, target.params, env, T0 + 8)


def test_the_revisit_dialplan_sends_every_parameter_so_nothing_is_read_back():
    start, end = _revisit_queries(CHANNEL_VARS)
    assert CALL_START.missing(_request("call-start", start).params) == {}
    assert CALL_END.missing(_request("call-end", end).params) == {}
    # The hangup handler is pushed before call-start, like a citizen's call's.
    revisit = DIALPLAN[DIALPLAN.index("[revisit]") :]
    assert revisit.index("hangup_handler_push)=cti-call-end,outbound,1") < revisit.index(
        "call-start,"
    )
    # A refused number is refused before anything is logged or recorded.
    assert revisit.index("?refuse)") < revisit.index("CTI_COMMON=")


def test_a_revisit_call_is_logged_outbound_with_the_citizens_number_and_the_agent():
    start_q, end_q = _revisit_queries(CHANNEL_VARS)
    start = CALL_START.build(_request("call-start", start_q), {}, CTX)
    end = CALL_END.build(_request("call-end", end_q), {}, CTX)
    assert start.notes == () and end.notes == ()
    for record in (start.record, end.record):
        assert record.direction == "outbound" and record.call_direction == "outbound"
        assert (record.linkedid, record.uniqueid) == ("1795710973.6", "1795710973.6")
        # The citizen's number, not the caller ID of the agent's channel (the hotline's).
        assert (record.caller_number, record.caller_number_raw) == ("13800138000",) * 2
        assert record.caller_name is None and record.did is None and record.county is None
    assert start.record.started_at == T0
    e = end.record
    assert (e.disposition, e.talk_s, e.wait_s, e.hangup_cause) == ("answered", 4, 2, 16)
    assert e.answered_at == T0 + 7 - 4 and e.ended_at == T0 + 7
    assert e.agent_interface == "PJSIP/1001"  # who placed it: users.interface
    # In the journal and back: the direction survives, an inbound record carries none.
    assert CallRecord.from_json(e.to_json()).direction == "outbound"
    assert start.record.call_direction == e.call_direction == "outbound"


@pytest.mark.parametrize(
    ("status", "dialed", "disposition", "wait", "talk"),
    [
        ("NOANSWER", "60", "timeout", 60, 0),  # nobody picked up within Dial's 60 s
        ("CANCEL", "12", "abandoned", 12, 0),  # the agent gave up while it rang
        ("BUSY", "3", "failed", 3, 0),
        ("CONGESTION", "0", "failed", 0, 0),
        ("CHANUNAVAIL", "", "failed", None, None),
        ("", "", "failed", None, None),  # the agent hung up before Dial() ran
    ],
)
def test_an_unanswered_revisit_call_gets_the_disposition_dial_reports(
    status, dialed, disposition, wait, talk
):
    variables = {**CHANNEL_VARS, "DIALSTATUS": status, "DIALEDTIME": dialed, "ANSWEREDTIME": ""}
    _, end_q = _revisit_queries(variables)
    record = CALL_END.build(_request("call-end", end_q), {}, CTX).record
    assert (record.disposition, record.wait_s, record.talk_s) == (disposition, wait, talk)
    assert record.answered_at is None and record.agent_interface == "PJSIP/1001"


def test_outbound_end_facts_are_pure():
    facts = EndFacts(ended_at=T0, outbound=True, dial_status="ANSWER", answered_time=30, dialed=41)
    end = derive_end(facts)
    assert (end.disposition, end.wait_s, end.talk_s, end.answered_at) == (
        "answered",
        11,
        30,
        T0 - 30,
    )
    # A member or a queue status never turn an outbound call into a queue outcome.
    queued = EndFacts(ended_at=T0, outbound=True, dial_status="NOANSWER", queue_status="TIMEOUT")
    assert derive_end(queued).disposition == "timeout"


@pytest.mark.parametrize(
    ("direction", "expected", "noted"),
    [("inbound", None, False), ("", None, False), ("OUTBOUND", None, True), ("out;x", None, True)],
)
def test_a_direction_other_than_outbound_is_a_citizens_call(direction, expected, noted):
    start_q, _ = _revisit_queries(CHANNEL_VARS)
    query = start_q.replace("direction=outbound", f"direction={direction}")
    outcome = CALL_START.build(_request("call-start", query), {}, CTX)
    assert outcome.record.direction is expected
    # Taken as a citizen's call: the caller is the channel's caller ID.
    assert outcome.record.caller_number == "9615601"
    assert any("direction" in note for note in outcome.notes) is noted


@pytest.mark.parametrize(
    "hostile",
    ["138001380001,2", "1380013800\n0", "${SHELL(id)}", "+8613800138000", "1" * 40, "13800'0"],
)
def test_a_dialled_number_that_is_not_digits_is_dropped_with_a_note(hostile):
    # The dialplan refuses such an Exten before logging; the server does not trust that.
    query = _revisit_queries(CHANNEL_VARS)[0].replace("number=13800138000", "number=")
    request = _request("call-start", query)
    request = AgiRequest(request.script, {**request.params, "number": hostile}, request.env, T0)
    outcome = CALL_START.build(request, {}, CTX)
    assert outcome.record.caller_number is None and outcome.record.caller_number_raw is None
    assert any(note.startswith("number: dropped") for note in outcome.notes)


@pytest.mark.parametrize(
    "channel", ["Local/1001@agents-00000001;1", "PJSIP/1001", "PJSIP/x y-0001", "garbage"]
)
def test_an_agent_channel_that_names_no_endpoint_leaves_the_agent_unknown(channel):
    _, end_q = _revisit_queries(CHANNEL_VARS)
    record = CALL_END.build(_request("call-end", end_q, channel=channel), {}, CTX).record
    assert record.agent_interface is None and record.disposition == "answered"


def test_a_journal_record_with_an_unknown_direction_is_refused():
    good = CALL_START.build(_request("call-start", _revisit_queries(CHANNEL_VARS)[0]), {}, CTX)
    raw = good.record.to_json().replace(b'"outbound"', b'"sideways"')
    with pytest.raises(RecordRejected):
        CallRecord.from_json(raw)
    inbound = good.record.to_json().replace(b'"outbound"', b'"inbound"')
    assert CallRecord.from_json(inbound).direction is None
