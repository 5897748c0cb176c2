"""After-hours calls (voicemail, callback request) end with their action as disposition.

The dialplan (asterisk_conf/extensions.conf, [hotline-after-hours]) passes
``afterhours=<action>`` to both requests; everything else about these calls is an
ordinary call-start / call-end.
"""

from __future__ import annotations

import pytest

from cti.agi.handlers import CALL_END, AgiRequest, EndFacts, HandlerContext, derive_end
from cti.agi.protocol import parse_environment
from cti.numbers import NumberPlan

CTX = HandlerContext(node="node-a", plan=NumberPlan())
T0 = 1_795_712_000.0


def _end(params: dict[str, str], callerid: str = "13800138041") -> AgiRequest:
    env = parse_environment(
        [
            b"agi_network: yes",
            b"agi_network_script: call-end",
            b"agi_uniqueid: 1795712000.42",
            b"agi_channel: PJSIP/trunk-00000042",
            f"agi_callerid: {callerid}".encode(),
            b"agi_calleridname: Ann",
        ]
    )
    return AgiRequest("call-end", params, env, T0 + 20)


COMMON = {
    "linkedid": "1795712000.42",
    "county": "north",
    "queue": "county-north",
    "did": "9615601",
    "node": "",
    "started": str(T0),
    "queued": "",
    "cause": "16",
    "answered": "",
    "dialed": "",
    "hold": "",
    "member": "",
    "queuestatus": "",
    "blindxfer": "",
    "attxfer": "",
    "t": str(T0 + 20),
}


@pytest.mark.parametrize("action", ["voicemail", "callback"])
def test_an_after_hours_call_ends_with_its_action_and_no_wait_or_talk(action):
    request = _end({**COMMON, "afterhours": action})
    assert CALL_END.missing(request.params) == {}  # the dialplan sends all: no round trip
    outcome = CALL_END.build(request, {}, CTX)
    record = outcome.record
    assert record.disposition == action
    assert (record.wait_s, record.talk_s, record.queued_at, record.answered_at) == (
        None,
        None,
        None,
        None,
    )
    assert record.caller_number == "13800138041" and record.county == "north"
    assert record.ended_at == T0 + 20 and outcome.notes == ()


def test_an_open_county_call_is_unchanged_by_an_empty_afterhours():
    request = _end({**COMMON, "afterhours": "", "queued": str(T0 + 1), "dialed": "19"})
    assert CALL_END.build(request, {}, CTX).record.disposition == "abandoned"


@pytest.mark.parametrize(
    "hostile",
    ["queue", "VOICEMAIL", "callback,1", "callback\nx", "voicemail;DROP TABLE calls", "x" * 5000],
)
def test_an_unknown_afterhours_value_is_dropped_with_a_note_and_the_call_still_logged(hostile):
    """Tried: another action name, wrong case, an added argument, a newline, SQL, 5,000
    characters. None becomes a disposition; the end is derived as for any call."""
    request = _end({**COMMON, "afterhours": hostile})
    outcome = CALL_END.build(request, {}, CTX)
    assert outcome.record.disposition == "failed"  # never reached a queue
    assert any(note.startswith("afterhours: dropped malformed value") for note in outcome.notes)


def test_a_dialplan_that_does_not_send_it_has_it_read_from_the_channel():
    params = {k: v for k, v in COMMON.items()}
    request = _end(params)
    assert CALL_END.missing(request.params) == {"afterhours": "CTI_AFTER_HOURS"}
    outcome = CALL_END.build(request, {"afterhours": "callback"}, CTX)
    assert outcome.record.disposition == "callback"


def test_after_hours_wins_over_queue_facts():
    """A closed county's caller never joins a queue, whatever stray variables say."""
    facts = EndFacts(ended_at=T0, member="PJSIP/1001", dialed=10, after_hours="voicemail")
    assert derive_end(facts).disposition == "voicemail"
