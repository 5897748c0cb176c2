"""Recording a revisit (the Revisit row, the ticket's moves, one transaction, audited),
the revisit list, claiming callback requests (two agents at once: exactly one wins; an
old claim may be taken over), calling back a claimed request, and the roles of every route.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from cti.store.audit import AuditEntry
from cti.store.base import utcnow
from cti.store.callbacks import CallbackRequest
from cti.store.revisits import OutboundCall, Revisit
from cti.store.tickets import Ticket, TicketEvent
from cti.store.users import Role, User
from tests.conftest import csrf_of, login
from tests.integration.revisits.support import (
    T0,
    answers,
    callback_request,
    dialing_app,
    done_ticket,
)
from tests.integration.revisits.test_click_to_call import client_of, phone, wait_status

HOSTILE = '<script>alert(1)</script> "quoted" \u202e\r\nAction: Command'


async def _as(client, make_user, role, county=None, interface=None) -> dict:
    await login(client, await make_user(role, county=county, interface=interface))
    return {"X-CSRF-Token": await csrf_of(client)}


async def _ticket(session_factory, number: str) -> Ticket:
    async with session_factory() as db:
        return await db.scalar(select(Ticket).where(Ticket.number == number))


async def test_a_satisfied_citizen_closes_the_ticket_and_rates_the_company(
    client, session_factory, make_user
):
    """Hostile comment (markup, bidi override, CR/LF + an AMI header) stored verbatim; the
    ticket goes done -> revisited -> closed; the row names the done dispatch's company."""
    ticket = await done_ticket(session_factory)
    headers = await _as(client, make_user, Role.AGENT, "north", phone())
    r = await client.post(
        f"/api/tickets/{ticket.number}/revisit",
        json={"satisfaction": 4, "service_done": True, "complaint": False, "comment": HOSTILE},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["ticket_status"] == "closed" and body["outbound_call_id"] is None
    assert body["company_id"] == ticket.company_id and body["dispatch_id"] == ticket.dispatch_id
    async with session_factory() as db:
        revisit = await db.scalar(select(Revisit).where(Revisit.ticket_id == ticket.ticket_id))
        assert revisit.comment == HOSTILE.strip() and revisit.satisfaction == 4
        assert revisit.service_done and not revisit.complaint and revisit.channel == "phone"
        events = (
            await db.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.ticket_id)
                .order_by(TicketEvent.id)
            )
        ).all()
        assert [(e.kind, e.from_status, e.to_status) for e in events] == [
            ("revisit", "done", "revisited"),
            ("close", "revisited", "closed"),
        ]
        assert HOSTILE.strip() in events[0].note
        entry = await db.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "revisit.record", AuditEntry.object_id == ticket.number
            )
        )
        assert entry.detail["satisfaction"] == 4 and entry.detail["status"] == "closed"
    assert (await _ticket(session_factory, ticket.number)).closed_at is not None

    # Revisited already: a second result is refused and writes nothing.
    r = await client.post(
        f"/api/tickets/{ticket.number}/revisit",
        json={"satisfaction": 1, "service_done": False, "complaint": True},
        headers=headers,
    )
    assert r.status_code == 409
    async with session_factory() as db:
        rows = (
            await db.scalars(select(Revisit).where(Revisit.ticket_id == ticket.ticket_id))
        ).all()
    assert len(rows) == 1


@pytest.mark.parametrize(("done", "complaint"), [(False, False), (True, True), (False, True)])
async def test_a_complaint_or_undone_work_reopens_the_ticket(
    client, session_factory, make_user, done, complaint
):
    """Recorded by a supervisor, without any call (the citizen called in)."""
    ticket = await done_ticket(session_factory)
    headers = await _as(client, make_user, Role.SUPERVISOR, "north")
    r = await client.post(
        f"/api/tickets/{ticket.number}/revisit",
        json={"satisfaction": 2, "service_done": done, "complaint": complaint},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["ticket_status"] == "reopened"
    async with session_factory() as db:
        revisit = await db.scalar(select(Revisit).where(Revisit.ticket_id == ticket.ticket_id))
    assert revisit.complaint is complaint and revisit.service_done is done


@pytest.mark.parametrize(
    "body",
    [
        {"satisfaction": 0, "service_done": True},
        {"satisfaction": 6, "service_done": True},
        {"satisfaction": "5; DROP TABLE revisits", "service_done": True},
        {"satisfaction": 3},
        {"satisfaction": 3, "service_done": True, "comment": "x" * 2001},
        {"satisfaction": 3, "service_done": True, "comment": "nul \x00 byte"},
    ],
)
async def test_a_bad_result_is_refused_and_nothing_moves(client, session_factory, make_user, body):
    """Out-of-range and non-numeric scores, a missing answer, an oversized comment, NUL."""
    ticket = await done_ticket(session_factory)
    headers = await _as(client, make_user, Role.AGENT, "north")
    r = await client.post(f"/api/tickets/{ticket.number}/revisit", json=body, headers=headers)
    assert r.status_code == 422, r.text
    assert (await _ticket(session_factory, ticket.number)).status == "done"


async def test_the_revisit_names_the_agents_latest_call_of_the_ticket(
    settings, database_url, engine, session_factory, seeded, make_user
):
    """Called through the fake AMI, then recorded: the Revisit row links that call."""
    ticket = await done_ticket(session_factory)
    async with dialing_app(settings, database_url, engine, session_factory) as (
        app,
        _server,
        session,
        dialer,
    ):
        session.canned["Originate"] = answers("queued", "answered")
        async with client_of(app) as c:
            headers = await _as(c, make_user, Role.AGENT, "north", phone())
            r = await c.post(f"/api/tickets/{ticket.number}/revisit-call", json={}, headers=headers)
            call_id = r.json()["id"]
            await dialer.drained()
            await wait_status(c, "connected")
            r = await c.post(
                f"/api/tickets/{ticket.number}/revisit",
                json={"satisfaction": 5, "service_done": True},
                headers=headers,
            )
            assert r.status_code == 201, r.text
            assert r.json()["outbound_call_id"] == call_id


async def test_the_list_is_oldest_done_first_and_per_county(client, session_factory, make_user):
    newer = await done_ticket(session_factory, "east", done_at=T0 - timedelta(days=400))
    older = await done_ticket(session_factory, "east", done_at=T0 - timedelta(days=500))
    elsewhere = await done_ticket(session_factory, "west", done_at=T0 - timedelta(days=600))
    await _as(client, make_user, Role.AGENT, "east")
    numbers = [t["ticket"] for t in (await client.get("/api/revisits")).json()]
    assert numbers.index(older.number) < numbers.index(newer.number)
    assert elsewhere.number not in numbers
    await _as(client, make_user, Role.ADMIN)
    numbers = [t["ticket"] for t in (await client.get("/api/revisits?county=west")).json()]
    assert elsewhere.number in numbers and older.number not in numbers
    assert (await client.get("/api/revisits?county=nowhere")).status_code == 422


async def test_the_page_lists_tickets_and_callbacks_as_text(client, session_factory, make_user):
    """A citizen name and description with markup are shown escaped."""
    ticket = await done_ticket(
        session_factory, "south", citizen_name=HOSTILE[:100], description=HOSTILE
    )
    request_id = await callback_request(session_factory, "south")
    await _as(client, make_user, Role.AGENT, "south", phone())
    page = await client.get("/revisits")
    assert page.status_code == 200
    assert f'data-ticket="{ticket.number}"' in page.text
    assert f'data-callback="{request_id}"' in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert '<script src="/static/revisits.js" defer></script>' in page.text


async def test_two_agents_claiming_at_once_exactly_one_wins(app, session_factory, make_user):
    request_id = await callback_request(session_factory)
    async with client_of(app) as a, client_of(app) as b:
        ha = await _as(a, make_user, Role.AGENT, "north", phone())
        hb = await _as(b, make_user, Role.AGENT, "north", phone())
        for _ in range(5):  # several rounds: the race is real each time
            rid = await callback_request(session_factory)
            ra, rb = await asyncio.gather(
                a.post(f"/api/callbacks/{rid}/claim", headers=ha),
                b.post(f"/api/callbacks/{rid}/claim", headers=hb),
            )
            assert sorted((ra.status_code, rb.status_code)) == [200, 409], (ra.text, rb.text)
            loser = ra if ra.status_code == 409 else rb
            assert loser.json()["detail"] == "another agent is calling this citizen back"
        r = await a.post(f"/api/callbacks/{request_id}/claim", headers=ha)
        assert r.status_code == 200 and r.json()["claimed_minutes"] == 15
        assert (await a.post(f"/api/callbacks/{request_id}/claim", headers=ha)).status_code == 200
        assert (await b.post(f"/api/callbacks/{request_id}/claim", headers=hb)).status_code == 409

        # An abandoned claim (older than 15 minutes) may be taken over.
        async with session_factory() as db:
            row = await db.get(CallbackRequest, request_id)
            row.claimed_at = utcnow() - timedelta(minutes=16)
            await db.commit()
        r = await b.post(f"/api/callbacks/{request_id}/claim", headers=hb)
        assert r.status_code == 200, r.text
        async with session_factory() as db:
            row = await db.get(CallbackRequest, request_id)
            claimer = await db.get(User, row.claimed_by)
        assert claimer.username == r.json()["claimed_by"]


async def test_a_claim_is_released_by_its_agent_or_a_supervisor_not_mid_call(
    app, session_factory, make_user
):
    """Given back, another agent may claim at once (not in 15 minutes); someone else's
    claim is not the agent's to release, a supervisor's it is; not while the citizen is
    being called back; nothing claimed, nothing to release; each release audited."""
    request_id = await callback_request(session_factory)
    url = f"/api/callbacks/{request_id}/claim"
    async with client_of(app) as a, client_of(app) as b, client_of(app) as lead:
        ha = await _as(a, make_user, Role.AGENT, "north", phone())
        hb = await _as(b, make_user, Role.AGENT, "north", phone())
        hl = await _as(lead, make_user, Role.SUPERVISOR, "north")
        r = await a.delete(url, headers=ha)
        assert r.status_code == 409 and r.json()["detail"] == "the request is not claimed"
        assert (await a.post(url, headers=ha)).status_code == 200
        r = await b.delete(url, headers=hb)
        assert r.status_code == 409 and r.json()["detail"] == "the claim is another agent's"
        r = await a.delete(url, headers=ha)
        assert r.status_code == 200 and r.json() == {"id": request_id, "claimed_by": None}
        assert (await b.post(url, headers=hb)).status_code == 200  # at once
        assert (await lead.delete(url, headers=hl)).status_code == 200  # b went home

        assert (await a.post(url, headers=ha)).status_code == 200
        async with session_factory() as db:
            holder = (await db.get(CallbackRequest, request_id)).claimed_by
            db.add(
                OutboundCall(
                    purpose="callback",
                    callback_id=request_id,
                    agent_id=holder,
                    interface="PJSIP/2001",
                    number="13800138000",
                    node="test",
                    linkedid=f"mid-{request_id}",
                    action_id=f"mid-{request_id}",
                    status="connected",
                )
            )
            await db.commit()
        r = await lead.delete(url, headers=hl)
        assert r.status_code == 409 and r.json()["detail"] == "the citizen is being called back now"
        assert (await a.delete("/api/callbacks/99999999/claim", headers=ha)).status_code == 404
        south = await callback_request(session_factory, "south")
        r = await a.delete(f"/api/callbacks/{south}/claim", headers=ha)
        assert r.status_code == 404  # another county's: not there for this agent
    async with session_factory() as db:
        row = await db.get(CallbackRequest, request_id)
        assert row.claimed_by == holder  # the refused release changed nothing
        entries = (
            await db.scalars(
                select(AuditEntry.actor_name).where(
                    AuditEntry.action == "callback.release",
                    AuditEntry.object_id == str(request_id),
                )
            )
        ).all()
    assert len(entries) == 2


async def test_claims_are_per_county_and_only_of_open_requests(client, session_factory, make_user):
    south = await callback_request(session_factory, "south")
    done = await callback_request(session_factory, "north")
    async with session_factory() as db:
        (await db.get(CallbackRequest, done)).status = "done"
        await db.commit()
    headers = await _as(client, make_user, Role.AGENT, "north", phone())
    assert (await client.post(f"/api/callbacks/{south}/claim", headers=headers)).status_code == 404
    r = await client.post(f"/api/callbacks/{done}/claim", headers=headers)
    assert r.status_code == 409 and r.json()["detail"] == "the request is done"
    assert (await client.post("/api/callbacks/99999999/claim", headers=headers)).status_code == 404


async def test_calling_back_needs_ones_own_claim(
    settings, database_url, engine, session_factory, seeded, make_user
):
    """Unclaimed -> 409; claimed -> the Originate carries CTI_CALLBACK and the request's
    number; a hostile stored number is refused before the socket."""
    request_id = await callback_request(session_factory, "north", "13800138000")
    hostile_id = await callback_request(session_factory, "north", "1001@trunk")
    async with dialing_app(settings, database_url, engine, session_factory) as (
        app,
        _server,
        session,
        dialer,
    ):
        session.canned["Originate"] = answers("queued", "answered")
        async with client_of(app) as c:
            headers = await _as(c, make_user, Role.AGENT, "north", phone())
            r = await c.post(f"/api/callbacks/{request_id}/call", headers=headers)
            assert r.status_code == 409 and r.json()["detail"] == "claim the request first"
            assert (await c.post(f"/api/callbacks/{hostile_id}/claim", headers=headers)).is_success
            r = await c.post(f"/api/callbacks/{hostile_id}/call", headers=headers)
            assert r.status_code == 422
            await dialer.ami.connections[0].send({"Action": "Ping"})
            assert "Originate" not in session.actions()

            assert (await c.post(f"/api/callbacks/{request_id}/claim", headers=headers)).is_success
            r = await c.post(f"/api/callbacks/{request_id}/call", headers=headers)
            assert r.status_code == 202, r.text
            assert r.json()["purpose"] == "callback" and r.json()["callback_id"] == request_id
            await dialer.drained()
            await wait_status(c, "connected")
            originate = next(a for a in session.received if a.get("Action") == "Originate")
            assert originate["Variable"] == f"CTI_CALLBACK={request_id}"
            assert originate["Exten"] == "13800138000" and originate["Context"] == "revisit"
    async with session_factory() as db:
        row = await db.scalar(select(OutboundCall).where(OutboundCall.callback_id == request_id))
    assert row.number == "13800138000"


ROUTES = [
    ("GET", "/revisits", {Role.AGENT, Role.SUPERVISOR, Role.ADMIN}),
    ("GET", "/api/revisits", {Role.AGENT, Role.SUPERVISOR, Role.ADMIN}),
    ("GET", "/api/outbound-calls/current", {Role.AGENT}),
    ("POST", "/api/tickets/{ticket}/revisit-call", {Role.AGENT}),
    ("POST", "/api/tickets/{ticket}/revisit", {Role.AGENT, Role.SUPERVISOR}),
    ("POST", "/api/callbacks/{callback}/claim", {Role.AGENT}),
    ("DELETE", "/api/callbacks/{callback}/claim", {Role.AGENT, Role.SUPERVISOR}),
    ("POST", "/api/callbacks/{callback}/call", {Role.AGENT}),
]


async def test_roles_on_every_route(app, client, session_factory, make_user):
    """Each role gets past the access rule (any answer but 401/403) exactly where allowed;
    without a login, 401."""
    ticket = await done_ticket(session_factory)
    request_id = await callback_request(session_factory)

    def url(path: str) -> str:
        return path.format(ticket=ticket.number, callback=request_id)

    for method, path, _ in ROUTES:
        r = await client.request(method, url(path), json={"satisfaction": 3, "service_done": True})
        assert r.status_code == 401, (method, path)
    for role in Role:
        async with client_of(app) as c:
            interface = phone() if role is Role.AGENT else None
            county = None if role is Role.COMPANY else "north"
            headers = await _as(c, make_user, role, county, interface)
            for method, path, allowed in ROUTES:
                # A bad score: an allowed role reaches the route (422) and nothing changes.
                r = await c.request(
                    method,
                    url(path),
                    json={"satisfaction": 9, "service_done": True},
                    headers=headers,
                )
                if role in allowed:
                    assert r.status_code not in (401, 403), (role, method, path, r.text)
                else:
                    assert r.status_code == 403, (role, method, path, r.status_code)
    assert (await _ticket(session_factory, ticket.number)).status == "done"
