"""A revisit call, end to end: the requests [revisit] and its hangup handler send, over
TCP to the FastAGI service, through the journal and the writer into ``calls``."""

from __future__ import annotations

from cti.agi.protocol import format_environment
from tests.integration.agi.conftest import rows_for, wait_for
from tests.integration.agi.traffic import deliver
from tests.unit.agi.test_outbound import CHANNEL_VARS, _revisit_queries


def _environment(script: str, query: str) -> bytes:
    """As Asterisk 22 sends it for the agent's channel the Originate created."""
    return format_environment(
        {
            "network": "yes",
            "network_script": f"{script}?{query}",
            "request": f"agi://127.0.0.1:4573/{script}?{query}",
            "channel": "PJSIP/1001-00000006",
            "language": "en",
            "type": "PJSIP",
            "uniqueid": "1795710973.6",
            "version": "22.10.1",
            "callerid": "9615601",
            "calleridname": "Hotline follow-up",
            "dnid": "unknown",
            "rdnis": "unknown",
            "context": "revisit",
            "extension": "13800138000",
            "priority": "6",
            "enhanced": "0.0",
            "accountcode": "",
            "threadid": "140079777580736",
        }
    )


async def test_a_revisit_call_lands_once_as_outbound(make_service, session_factory, seeded, node):
    service = await make_service()
    start, end = _revisit_queries(CHANNEL_VARS)
    await deliver(service.port, _environment("call-end", end))  # the end overtakes the start
    await deliver(service.port, _environment("call-start", start))
    await deliver(service.port, _environment("call-end", end))  # and the dialplan's retry

    async def landed() -> bool:
        rows = await rows_for(session_factory, node)
        call = rows.get("1795710973.6")
        return call is not None and call.started_at is not None and call.ended_at is not None

    await wait_for(landed)
    rows = await rows_for(session_factory, node)
    assert list(rows) == ["1795710973.6"]
    call = rows["1795710973.6"]
    assert (call.direction, call.caller_number, call.caller_name) == (
        "outbound",
        "13800138000",
        None,
    )
    assert (call.disposition, call.talk_s, call.wait_s, call.hangup_cause) == (
        "answered",
        4,
        2,
        16,
    )
    assert call.channel == "PJSIP/1001-00000006" and call.did is None
