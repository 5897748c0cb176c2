"""Real SIP calls through a real Asterisk 22 running the project's ``asterisk_conf/``,
logged by the real backend (``cti serve``): for each scenario the call row (one per
Linkedid), the recording, the frames each agent's browser socket received, and
Asterisk's log.

The phones are SIPp (``sipp.py``); what each does is set by the caller's number
(``conftest._rules``). Scenarios run in file order in one Asterisk; each restores what
it changed (a pause, the routing).
"""

from __future__ import annotations

import asyncio

import pytest

from tests.live import pbx
from tests.live.conftest import DIDS, RING_TIMEOUT, RINGING_ABANDON, Live

pytestmark = pytest.mark.live
if reason := pbx.missing():  # one line for the whole suite, not one per scenario
    pytest.skip(f"live suite skipped: {reason}", allow_module_level=True)


async def test_answered_by_the_first_agent(live: Live):
    caller = live.caller("1390001")
    await live.call([(caller, DIDS["north"])], hold_ms=30000)
    call = await live.ended_call(caller)
    assert call.disposition == "answered"
    assert call.direction == "inbound"
    assert call.did == DIDS["north"] and call.queue == "county-north"
    assert call.agent_interface in ("PJSIP/1001", "PJSIP/1002")
    assert call.linkedid == call.uniqueid
    answerer = call.agent_interface.removeprefix("PJSIP/")
    frames = await live.frames_settled(call.linkedid)
    assert frames == {answerer: ["pop", "answered", "ended"]}
    recording = await live.recording_of(call)
    assert recording.uniqueid == call.linkedid
    live.no_errors()


async def test_ring_timeout_moves_to_the_next_agent(live: Live):
    # 1002 is paused until 1001 rings, so 1001 is the first agent rung; then 1001 is paused
    # (its ring goes on: app_queue does not cut a ringing member it pauses) so that the
    # queue cannot ring it again (rrmemory did, once the scenarios before had moved its
    # round-robin position: another 17 s). 1001's phone never answers this caller
    # (conftest._rules); the queue gives up on it after its timeout (queues.conf:
    # timeout=15, retry=2) and rings 1002, who answers.
    caller = live.caller(RING_TIMEOUT)
    # Both agents out of the last scenario's wrap-up (queues.conf wrapuptime=5).
    await asyncio.sleep(6)
    live.pause("1002", "county-north")
    try:
        placed = asyncio.create_task(live.call([(caller, DIDS["north"])], hold_ms=60000))
        try:
            await live.wait_pop("1001", caller)
        finally:
            live.pause("1002", "county-north", paused=False)
        live.pause("1001", "county-north")
        await placed
    finally:
        live.pause("1001", "county-north", paused=False)
    call = await live.ended_call(caller)
    assert call.disposition == "answered"
    assert call.agent_interface == "PJSIP/1002"
    assert call.queue == "county-north" and call.did == DIDS["north"]
    frames = await live.frames_settled(call.linkedid)
    assert frames == {"1001": ["pop", "withdraw"], "1002": ["pop", "answered", "ended"]}
    assert live.frame(call.linkedid, "1001", "withdraw")["reason"] == "ring_timeout"
    assert 15 <= call.wait_s <= 25, call.wait_s  # one 15 s ring, the 2 s retry, 1002's ring
    recording = await live.recording_of(call)
    assert recording.uniqueid == call.linkedid
    live.no_errors()


async def test_abandoned_in_queue(live: Live):
    # East's only agent is paused: the caller waits in the queue, unrung, and hangs up.
    caller = live.caller("1390004")
    live.pause("3001", "county-east")
    try:
        await live.call([(caller, DIDS["east"])], hold_ms=4000)
    finally:
        live.pause("3001", "county-east", paused=False)
    call = await live.ended_call(caller)
    assert call.disposition == "abandoned"
    assert call.agent_interface is None and call.answered_at is None
    assert call.queue == "county-east" and call.did == DIDS["east"]
    assert 3 <= call.wait_s <= 6, call.wait_s
    await asyncio.sleep(0.5)
    assert live.frames_for(call.linkedid) == {}  # nobody rang, nobody popped
    await live.recording_of(call)
    live.no_errors()


async def test_abandoned_while_ringing(live: Live):
    # South's agent rings (never answers this caller); the caller gives up after 5 s.
    caller = live.caller(RINGING_ABANDON)
    await live.call([(caller, DIDS["south"])], hold_ms=5000)
    call = await live.ended_call(caller)
    assert call.disposition == "abandoned"
    assert call.agent_interface is None and call.answered_at is None
    assert call.queue == "county-south"
    frames = await live.frames_settled(call.linkedid, last="withdraw")
    assert frames == {"2001": ["pop", "withdraw"]}
    assert live.frame(call.linkedid, "2001", "withdraw")["reason"] == "caller_hangup"
    await live.recording_of(call)
    live.no_errors()


async def test_a_routing_change_applied_by_the_cli_routes_the_next_call(live: Live):
    import yaml

    exported = live.backend.command("routing", "export", "--format", "json")
    assert exported.returncode == 0, exported.stderr
    before = yaml.safe_load(exported.stdout)
    changed = {**before, "prefixes": [*before.get("prefixes", []),
                                      {"prefix": "1390007", "county": "south"}]}  # fmt: skip
    live.routing(yaml.safe_dump(changed))
    try:
        caller = live.caller("1390007")
        await live.call([(caller, DIDS["north"])], hold_ms=30000)  # North's DID
        call = await live.ended_call(caller)
    finally:
        live.routing(yaml.safe_dump(before))
    assert call.disposition == "answered"
    assert (call.did, call.queue, call.agent_interface) == (
        DIDS["north"], "county-south", "PJSIP/2001"
    )  # fmt: skip
    frames = await live.frames_settled(call.linkedid)
    assert frames == {"2001": ["pop", "answered", "ended"]}
    await live.recording_of(call)
    live.no_errors()
