"""A revisit call through a real Asterisk 22: the agent clicks "call" on a done ticket
(``POST /api/tickets/<n>/revisit-call``), the dialer (``cti.revisits.dialer``) sends the
Originate on the backend's AMI connection, Asterisk rings the agent's phone, and once
the agent answers ``[revisit]`` dials the citizen through the trunk, where SIPp plays the
citizen (``conftest``: the trunk's phone answers after 1 s). The agent hangs up after
their talk (``conftest._rules``: the leg that shows the north hotline's number), then
records what the citizen said (``POST /api/tickets/<n>/revisit``).

The dialplan asks the citizen for nothing (no DTMF score): the agent asks, and types the
answer; so the citizen's phone only answers and talks.
"""

from __future__ import annotations

import asyncio
import secrets
import time

import httpx
import pytest
from sqlalchemy import select

from cti.store.revisits import OutboundCall, Revisit
from cti.store.tickets import Ticket
from tests.conftest import csrf_of, login
from tests.integration.revisits.support import done_ticket
from tests.live import pbx
from tests.live.conftest import DIDS, PASSWORD, Live

pytestmark = pytest.mark.live
if reason := pbx.missing():
    pytest.skip(f"live suite skipped: {reason}", allow_module_level=True)

AGENT = "1001"  # a north agent; the Originate's caller ID is the north hotline's DID


async def outbound_ended(client: httpx.AsyncClient, timeout: float = 40.0) -> dict:
    """The agent's latest outbound call once it ended, as the agent's page polls it."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        r = await client.get("/api/outbound-calls/current")
        assert r.status_code == 200, r.text
        call = r.json()["call"]
        if call is not None and (not seen or seen[-1] != call["status"]):
            seen.append(call["status"])
        if call is not None and call["status"] in ("ended", "failed"):
            return {**call, "seen": seen}
        if time.monotonic() > deadline:
            raise AssertionError(f"the outbound call did not end: {seen}")
        await asyncio.sleep(0.3)


async def test_a_revisit_originate_reaches_the_citizen_and_the_result_is_stored(live: Live):
    citizen = f"139{secrets.randbelow(10**8):08d}"  # an 11-digit mobile, new in this run
    ticket = await done_ticket(live.db, "north", (citizen,), description="Street lamp out")
    async with httpx.AsyncClient(base_url=live.backend.base, timeout=20) as client:
        assert (await login(client, live.usernames[AGENT], PASSWORD)).status_code == 303
        headers = {"X-CSRF-Token": await csrf_of(client)}
        started = await client.post(
            f"/api/tickets/{ticket.number}/revisit-call", json={"phone": 0}, headers=headers
        )
        assert started.status_code == 202, started.text
        assert started.json()["number"] == citizen
        assert started.json()["interface"] == f"PJSIP/{AGENT}"
        ended = await outbound_ended(client)
        assert ended["status"] == "ended" and ended["failure"] is None, ended
        assert "connected" in ended["seen"] or ended["seen"] == ["ended"], ended["seen"]

        # The citizen said: 4 of 5, the lamp works again, no complaint. The comment is
        # hostile (markup, quotes, a NUL-free control-free mix): stored verbatim.
        comment = "Fixed <b>fast</b> & \"polite\"; ${EXTEN} 'ok'"
        result = await client.post(
            f"/api/tickets/{ticket.number}/revisit",
            json={"satisfaction": 4, "service_done": True, "comment": comment},
            headers=headers,
        )
        assert result.status_code == 201, result.text
        assert result.json()["ticket_status"] == "closed"
        # A score out of range is refused with a message, and changes nothing.
        again = await client.post(
            f"/api/tickets/{ticket.number}/revisit",
            json={"satisfaction": 9, "service_done": True},
            headers=headers,
        )
        assert again.status_code == 422, again.text

    outbound_id = started.json()["id"]
    async with live.db() as db:
        outbound = await db.get(OutboundCall, outbound_id)
        revisits = (
            await db.scalars(select(Revisit).where(Revisit.ticket_id == ticket.ticket_id))
        ).all()
        status = await db.scalar(select(Ticket.status).where(Ticket.id == ticket.ticket_id))
    assert (outbound.status, outbound.number, outbound.interface) == (
        "ended", citizen, f"PJSIP/{AGENT}"
    )  # fmt: skip
    assert [
        (r.outbound_call_id, r.satisfaction, r.service_done, r.complaint, r.comment, r.channel)
        for r in revisits
    ] == [(outbound_id, 4, True, False, comment, "phone")]
    assert (revisits[0].company_id, revisits[0].dispatch_id) == (
        ticket.company_id, ticket.dispatch_id
    )  # fmt: skip
    assert status == "closed"

    # The call row: the agent's channel is the call (its Uniqueid is our ChannelId, the
    # Linkedid), outbound to the citizen's number, answered and talked.
    call = await live.ended_call(citizen, direction="outbound")
    assert call.linkedid == call.uniqueid == outbound.linkedid
    assert call.disposition == "answered", call.disposition
    assert call.agent_interface == f"PJSIP/{AGENT}" and call.did is None and call.queue is None
    assert call.talk_s is not None and 2 <= call.talk_s <= 7, call.talk_s
    # The citizen's phone saw the county's hotline number as the caller.
    trunk_log = (live.phones["trunk"].folder / "messages.log").read_text()
    invite = trunk_log.split(f"INVITE sip:{citizen}@")[1].split("\n\n")[0]
    assert f"<sip:{DIDS['north']}@" in invite, invite
    # No queue rang anyone: no pop for this call, on any socket.
    await asyncio.sleep(0.5)
    assert live.frames_for(call.linkedid) == {}
    recording = await live.recording_of(call)
    assert recording.uniqueid == call.linkedid
    live.no_errors()
