"""Click-to-call against a small AMI server over real TCP replaying the real Originate
exchange (``ami-originate-followup.txt``, ActionIDs re-tagged with ours): the exact bytes
of the Originate sent, the outbound call's states (dialing, connected, failed, ended), a
hostile number that never reaches the socket, one call at a time per agent, and the
API-to-AMI-process path over the bus.

No assertion is about time: ``until`` only guards against a hang.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import func, select

from cti.app import build_services, create_app
from cti.bus import InMemoryBus
from cti.store.audit import AuditEntry
from cti.store.calls import Call
from cti.store.revisits import OutboundCall
from cti.store.tickets import Ticket
from cti.store.users import Role
from tests.conftest import csrf_of, login
from tests.integration.revisits.support import (
    answers,
    dialing_app,
    done_ticket,
    expected_caller_id,
    hangup_of,
)


@asynccontextmanager
async def client_of(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("10.9.8.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def phone() -> str:
    return f"PJSIP/7{secrets.randbelow(10**5):05d}"  # unique: the run shares one database


async def agent_in(client, make_user, interface: str, county: str = "north") -> dict:
    await login(client, await make_user(Role.AGENT, county=county, interface=interface))
    return {"X-CSRF-Token": await csrf_of(client)}


async def current(client) -> dict | None:
    r = await client.get("/api/outbound-calls/current")
    assert r.status_code == 200, r.text
    return r.json()["call"]


async def wait_status(client, status: str) -> dict:
    state: dict = {}

    async def check() -> bool:
        state["call"] = await current(client)
        return state["call"] is not None and state["call"]["status"] == status

    async def poll() -> None:
        # Polling on purpose: the page does the same (the state lives in the database).
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), 10)
    return state["call"]


async def _row(session_factory, call_id: int) -> OutboundCall:
    async with session_factory() as db:
        return await db.get(OutboundCall, call_id)


async def test_a_revisit_call_sends_this_originate_and_follows_the_real_answers(
    settings, database_url, engine, session_factory, seeded, make_user
):
    """Queued, then ``OriginateResponse Reason: 4`` (connected), then the agent channel's
    Hangup (ended); the action on the wire is exactly the one below, byte for byte."""
    ticket = await done_ticket(session_factory, "north", ("+86 138-0013-8000", "13900139000"))
    interface = phone()
    caller_id = await expected_caller_id(session_factory, "north")
    async with dialing_app(settings, database_url, engine, session_factory) as (
        app,
        _server,
        session,
        dialer,
    ):
        session.canned["Originate"] = answers("queued", "answered")
        async with client_of(app) as client:
            headers = await agent_in(client, make_user, interface)
            r = await client.post(
                f"/api/tickets/{ticket.number}/revisit-call", json={}, headers=headers
            )
            assert r.status_code == 202, r.text
            call = r.json()
            assert call["status"] in ("dialing", "connected")  # the event may be written already
            assert call["ticket"] == ticket.number and call["number"] == "13800138000"
            assert call["interface"] == interface and call["purpose"] == "revisit"
            await dialer.drained()
            assert (await wait_status(client, "connected"))["id"] == call["id"]

            row = await _row(session_factory, call["id"])
            sent = bytes(session.raw)
            start = sent.index(b"Action: Originate\r\n")
            originate = sent[start : sent.index(b"\r\n\r\n", start) + 4]
            assert (
                originate
                == (
                    "Action: Originate\r\n"
                    f"ActionID: revisit-{row.linkedid}\r\n"
                    "Async: true\r\n"
                    f"CallerID: {caller_id}\r\n"
                    f"Channel: {interface}\r\n"
                    f"ChannelId: {row.linkedid}\r\n"
                    "Context: revisit\r\n"
                    "Exten: 13800138000\r\n"
                    "Priority: 1\r\n"
                    "Timeout: 30000\r\n"
                    f"Variable: CTI_TICKET={ticket.number}\r\n"
                    "\r\n"
                ).encode()
            )
            assert row.action_id == f"revisit-{row.linkedid}" and row.node == "pbx1"
            assert session.actions().count("Originate") == 1

            await session.write(hangup_of(row.linkedid))
            ended = await wait_status(client, "ended")
            assert ended["ended_at"] is not None and ended["failure"] is None

            # The agent may call again once the call is over: the second phone this time.
            session.canned["Originate"] = answers("queued")
            r = await client.post(
                f"/api/tickets/{ticket.number}/revisit-call", json={"phone": 1}, headers=headers
            )
            assert r.status_code == 202, r.text
            assert r.json()["number"] == "13900139000"
    async with session_factory() as db:
        audited = await db.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "revisit.call", AuditEntry.object_id == ticket.number)
        )
    assert audited == 2


async def test_a_phone_that_rings_out_fails_the_call(
    settings, database_url, engine, session_factory, seeded, make_user
):
    """The capture's second Originate: queued, then ``Response: Failure, Reason: 3``; the
    Hangup that follows does not turn the failed call into an ended one."""
    ticket = await done_ticket(session_factory)
    async with dialing_app(settings, database_url, engine, session_factory) as (
        app,
        _server,
        session,
        dialer,
    ):
        session.canned["Originate"] = answers("queued", "rang_out")
        async with client_of(app) as client:
            headers = await agent_in(client, make_user, phone())
            r = await client.post(
                f"/api/tickets/{ticket.number}/revisit-call", json={}, headers=headers
            )
            assert r.status_code == 202, r.text
            await dialer.drained()
            failed = await wait_status(client, "failed")
            assert failed["failure"] == "Reason 3: the phone rang out (no answer)"
            row = await _row(session_factory, failed["id"])
            await session.write(hangup_of(row.linkedid))
            await dialer.drained()
            assert (await current(client))["status"] == "failed"


async def test_asterisk_refusing_the_originate_fails_the_call(
    settings, database_url, engine, session_factory, seeded, make_user
):
    """The capture's third answer, ``Response: Error / Message: Originate failed``."""
    ticket = await done_ticket(session_factory)
    async with dialing_app(settings, database_url, engine, session_factory) as (
        app,
        _server,
        session,
        _dialer,
    ):
        session.canned["Originate"] = [
            "Response: Error\r\nActionID: Originate\r\nMessage: Originate failed"
        ]
        async with client_of(app) as client:
            headers = await agent_in(client, make_user, phone())
            r = await client.post(
                f"/api/tickets/{ticket.number}/revisit-call", json={}, headers=headers
            )
            assert r.status_code == 202, r.text
            assert r.json()["status"] == "failed"
            assert r.json()["failure"] == "Asterisk: Originate failed"


async def test_a_hostile_number_never_reaches_the_socket(
    settings, database_url, engine, session_factory, seeded, make_user
):
    """A citizen phone holding a dial string (``123;Dial(...)``, ``1001@trunk``, letters,
    Arabic-Indic digits): 422, no row, and the server received no Originate at all."""
    hostile = ("123;Dial(PJSIP/9@t)", "1001@trunk", "call me", "١٢٣٤٥٦٧٨")
    ticket = await done_ticket(session_factory, "north", hostile)
    async with dialing_app(settings, database_url, engine, session_factory) as (
        app,
        _server,
        session,
        _dialer,
    ):
        session.canned["Originate"] = answers("queued", "answered")
        async with client_of(app) as client:
            headers = await agent_in(client, make_user, phone())
            for index in range(len(hostile)):
                r = await client.post(
                    f"/api/tickets/{ticket.number}/revisit-call",
                    json={"phone": index},
                    headers=headers,
                )
                assert r.status_code == 422, r.text
                assert r.json()["fields"] == {
                    "number": "not a number that can be dialled (3-20 digits)"
                }
            # The number is never taken from the request body, whatever it says.
            r = await client.post(
                f"/api/tickets/{ticket.number}/revisit-call",
                json={"phone": 0, "number": "13800138000"},
                headers=headers,
            )
            assert r.status_code == 422
            assert await current(client) is None
        # A round trip after the refusals: everything the client sent has arrived.
        await app.state.dialer.ami.connections[0].send({"Action": "Ping"})
        assert "Originate" not in session.actions()
        assert b"Originate" not in bytes(session.raw)
    async with session_factory() as db:
        rows = await db.scalar(
            select(func.count())
            .select_from(OutboundCall)
            .where(OutboundCall.ticket_id == ticket.ticket_id)
        )
    assert rows == 0


async def test_a_second_click_while_a_call_is_in_progress_is_refused(
    settings, database_url, engine, session_factory, seeded, make_user
):
    """Queued, no outcome yet (dialing): a second click, on this ticket or another, is a
    409 and sends nothing; two clicks at the same moment make one call (the index)."""
    first, second = await done_ticket(session_factory), await done_ticket(session_factory)
    async with dialing_app(settings, database_url, engine, session_factory) as (
        app,
        _server,
        session,
        _dialer,
    ):
        session.canned["Originate"] = answers("queued")
        async with client_of(app) as client:
            headers = await agent_in(client, make_user, phone())
            r = await client.post(
                f"/api/tickets/{first.number}/revisit-call", json={}, headers=headers
            )
            assert r.status_code == 202 and r.json()["status"] == "dialing", r.text
            for ticket in (first, second):
                r = await client.post(
                    f"/api/tickets/{ticket.number}/revisit-call", json={}, headers=headers
                )
                assert r.status_code == 409, r.text
                assert r.json()["detail"] == "you already have a call in progress"
            assert session.actions().count("Originate") == 1

        # Another agent clicks twice at once: exactly one call is placed.
        async with client_of(app) as client:
            headers = await agent_in(client, make_user, phone())
            results = await asyncio.gather(
                *(
                    client.post(f"/api/tickets/{t.number}/revisit-call", json={}, headers=headers)
                    for t in (first, second)
                )
            )
            assert sorted(r.status_code for r in results) == [202, 409]
        await app.state.dialer.ami.connections[0].send({"Action": "Ping"})
        assert session.actions().count("Originate") == 2


async def test_over_the_bus_the_ami_process_dials(
    settings, database_url, engine, session_factory, seeded, make_user
):
    """``--role api`` apart from ``--role ami``: the API has no dialer; it writes the row
    and publishes on the bus; the AMI side's dialer sends the Originate and writes the
    outcome, which the API reads back."""
    ticket = await done_ticket(session_factory)
    async with dialing_app(settings, database_url, engine, session_factory, in_process=False) as (
        app,
        _server,
        session,
        dialer,
    ):
        assert app.state.dialer is None
        session.canned["Originate"] = answers("queued", "answered")
        async with client_of(app) as client:
            headers = await agent_in(client, make_user, phone())
            r = await client.post(
                f"/api/tickets/{ticket.number}/revisit-call", json={}, headers=headers
            )
            assert r.status_code == 202 and r.json()["status"] == "dialing", r.text
            await wait_status(client, "connected")
            await dialer.drained()
            assert session.actions().count("Originate") == 1


async def test_click_to_call_needs_a_done_ticket_of_ones_county_and_an_ami(
    settings, database_url, engine, session_factory, seeded, make_user
):
    """Not done -> 409; another county's ticket -> 404."""
    ticket = await done_ticket(session_factory, "south")
    async with dialing_app(settings, database_url, engine, session_factory) as (
        app,
        _server,
        session,
        _dialer,
    ):
        async with client_of(app) as client:
            headers = await agent_in(client, make_user, phone(), county="north")
            r = await client.post(
                f"/api/tickets/{ticket.number}/revisit-call", json={}, headers=headers
            )
            assert r.status_code == 404
        async with client_of(app) as client:
            headers = await agent_in(client, make_user, phone(), county="south")
            async with session_factory() as db:
                row = await db.get(Ticket, ticket.ticket_id)
                row.status = "in_service"
                await db.commit()
            r = await client.post(
                f"/api/tickets/{ticket.number}/revisit-call", json={}, headers=headers
            )
            assert r.status_code == 409
            assert "only a done ticket is revisited" in r.json()["detail"]
        assert "Originate" not in session.actions()


async def test_without_an_ami_click_to_call_is_off(client, session_factory, make_user):
    """No CTI_AMI_URL: a clear 409, and no row that would block the agent later."""
    ticket = await done_ticket(session_factory)
    headers = await agent_in(client, make_user, phone())
    r = await client.post(f"/api/tickets/{ticket.number}/revisit-call", json={}, headers=headers)
    assert r.status_code == 409
    assert r.json()["detail"].startswith("click-to-call is off")
    assert await current(client) is None


async def test_the_agi_call_row_ending_ends_the_call(
    settings, database_url, engine, session_factory, seeded, make_user
):
    """No Hangup reached this process (it ran elsewhere, or restarted): the call row the
    FastAGI side logged under (node, linkedid) has ended, so the outbound call has too."""
    ticket = await done_ticket(session_factory)
    async with dialing_app(settings, database_url, engine, session_factory) as (
        app,
        _server,
        session,
        dialer,
    ):
        session.canned["Originate"] = answers("queued", "answered")
        async with client_of(app) as client:
            headers = await agent_in(client, make_user, phone())
            r = await client.post(
                f"/api/tickets/{ticket.number}/revisit-call", json={}, headers=headers
            )
            await dialer.drained()
            connected = await wait_status(client, "connected")
            row = await _row(session_factory, r.json()["id"])
            async with session_factory() as db:
                db.add(
                    Call(
                        node="pbx1",
                        linkedid=row.linkedid,
                        uniqueid=row.linkedid,
                        direction="outbound",
                        caller_number="13800138000",
                        started_at=row.started_at,
                        ended_at=row.started_at,
                        disposition="answered",
                    )
                )
                await db.commit()
            ended = await current(client)
            assert ended["id"] == connected["id"] and ended["status"] == "ended"


async def test_the_ami_role_runs_a_dialer_on_its_connections(
    settings, database_url, engine, session_factory
):
    """The wiring: ``--role ami`` (or all) builds a dialer after the listener it sends on,
    and an app running it dials in process."""
    node_settings = settings.model_copy(
        update={"ami_url": ["ami://hotline:hotline-secret@127.0.0.1:1?name=pbx1"]}
    )
    services = build_services(node_settings, {"ami"}, session_factory, InMemoryBus())
    [ami] = [s for s in services if s.name == "ami"]
    [dialer] = [s for s in services if s.name == "dialer"]
    assert dialer.ami is ami and dialer.holds("pbx1") and not dialer.holds("pbx2")
    assert services.index(ami) < services.index(dialer)  # stopped before its connections
    app = create_app(node_settings, database_url, engine=engine, services=services)
    assert app.state.dialer is dialer
