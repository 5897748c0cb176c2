"""/api/tickets/{number}/suggestions, /dispatch, /api/dispatches/{id}/withdraw and
/api/dispatches/overdue: county scope, refusals as 409/422/404, and auto-dispatch on
ticket creation.

Hostile input tried: a company name with markup and CR/LF (returned verbatim as JSON
text), a company id past the integer range, a withdrawal reason of spaces and one with
NUL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from cti.dispatch import service
from cti.store.companies import CompanyStatus, Dispatch
from cti.store.tickets import Ticket
from tests.conftest import csrf_of, login
from tests.integration.dispatch.factories import (
    make_account,
    make_company,
    make_county,
    make_ticket,
)


async def _world(session_factory, **county):
    async with session_factory() as db:
        c = await make_county(db, **county)
        good = await make_company(db, [c], name="<b>Good</b>\r\nX-Evil: 1")
        busy = await make_company(db, [c])
        suspended = await make_company(db, [c], status=CompanyStatus.SUSPENDED)
        agent = await make_account(db, "agent", county=c.code)
        ticket = await make_ticket(db, agent, c)
        # busy has an open job already: same (neutral) reputation, so it comes second.
        other = await make_ticket(db, agent, c)
        await service.dispatch_ticket(db, other, busy.id, agent)
        await db.commit()
        return c, good, busy, suspended, ticket


async def _as(client, session_factory, role, county=None):
    async with session_factory() as db:
        user = await make_account(db, role, county=county)
        await db.commit()
    await login(client, user.username)
    return {"X-CSRF-Token": await csrf_of(client)}


async def test_suggestions_in_scope_with_why_and_dispatch(client, session_factory):
    county, good, busy, suspended, ticket = await _world(session_factory)
    headers = await _as(client, session_factory, "agent", county.code)
    got = await client.get(f"/api/tickets/{ticket.number}/suggestions")
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["may_dispatch"] is True and body["active"] is None
    ids = [s["company_id"] for s in body["suggestions"]]
    assert ids == [good.id, busy.id] and suspended.id not in ids
    first = body["suggestions"][0]
    assert first["company"] == "<b>Good</b>\r\nX-Evil: 1" and first["reputation"] == 50.0
    assert "no history yet" in first["why"] and first["open_load"] == 0
    assert body["suggestions"][1]["open_load"] == 1

    refused = await client.post(
        f"/api/tickets/{ticket.number}/dispatch", json={"company_id": suspended.id}, headers=headers
    )
    assert refused.status_code == 422 and "not approved" in refused.json()["detail"]
    too_big = await client.post(
        f"/api/tickets/{ticket.number}/dispatch", json={"company_id": 2**40}, headers=headers
    )
    assert too_big.status_code == 422
    made = await client.post(
        f"/api/tickets/{ticket.number}/dispatch", json={"company_id": good.id}, headers=headers
    )
    assert made.status_code == 201, made.text
    out = made.json()
    assert out["status"] == "offered" and out["ticket"] == ticket.number
    assert out["company"] == "<b>Good</b>\r\nX-Evil: 1"
    accept_by = datetime.fromisoformat(out["accept_by"])
    assert accept_by - datetime.fromisoformat(out["dispatched_at"]) == timedelta(minutes=120)
    again = await client.post(
        f"/api/tickets/{ticket.number}/dispatch", json={"company_id": busy.id}, headers=headers
    )
    assert again.status_code == 409
    after = (await client.get(f"/api/tickets/{ticket.number}/suggestions")).json()
    assert after["may_dispatch"] is False and after["active"]["id"] == out["id"]
    assert after["may_withdraw"] is False  # agents do not withdraw


async def test_another_county_sees_nothing(client, session_factory):
    _, good, _, _, ticket = await _world(session_factory)
    elsewhere = await _as(client, session_factory, "agent", "south")
    assert (await client.get(f"/api/tickets/{ticket.number}/suggestions")).status_code == 404
    posted = await client.post(
        f"/api/tickets/{ticket.number}/dispatch", json={"company_id": good.id}, headers=elsewhere
    )
    assert posted.status_code == 404
    assert (await client.get("/api/tickets/T1999-000001/suggestions")).status_code == 404


async def test_withdraw_by_the_county_supervisor_only(client, session_factory):
    county, good, _, _, ticket = await _world(session_factory)
    async with session_factory() as db:
        agent = await make_account(db, "agent", county=county.code)
        row = await db.scalar(select(Ticket).where(Ticket.number == ticket.number))
        dispatch = await service.dispatch_ticket(db, row, good.id, agent)
        await db.commit()
    south = await _as(client, session_factory, "supervisor", "south")
    url = f"/api/dispatches/{dispatch.id}/withdraw"
    assert (await client.post(url, json={"reason": "x"}, headers=south)).status_code == 404
    lead = await _as(client, session_factory, "supervisor", county.code)
    assert (await client.post(url, json={"reason": "   "}, headers=lead)).status_code == 422
    assert (await client.post(url, json={"reason": "a\x00b"}, headers=lead)).status_code == 422
    done = await client.post(url, json={"reason": "citizen asked"}, headers=lead)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "withdrawn"
    assert (await client.post(url, json={"reason": "again"}, headers=lead)).status_code == 409
    missing = await client.post(
        "/api/dispatches/2147483647/withdraw", json={"reason": "x"}, headers=lead
    )
    assert missing.status_code == 404


async def test_overdue_lists_the_supervisors_county_only(client, session_factory):
    async with session_factory() as db:
        mine, theirs = await make_county(db), await make_county(db)
        firm = await make_company(db, [mine, theirs])
        agent = await make_account(db, "agent")
        long_ago = datetime.now(UTC) - timedelta(days=30)
        late = await service.dispatch_ticket(
            db, await make_ticket(db, agent, mine), firm.id, agent, now=long_ago
        )
        fresh = await service.dispatch_ticket(
            db, await make_ticket(db, agent, mine), firm.id, agent
        )
        other = await service.dispatch_ticket(
            db, await make_ticket(db, agent, theirs), firm.id, agent, now=long_ago
        )
        await db.commit()
    await _as(client, session_factory, "supervisor", mine.code)
    got = await client.get("/api/dispatches/overdue")
    assert got.status_code == 200, got.text
    ids = [o["dispatch"]["id"] for o in got.json()]
    assert late.id in ids and fresh.id not in ids and other.id not in ids
    item = next(o for o in got.json() if o["dispatch"]["id"] == late.id)
    assert item["late"] == "acceptance" and item["county"] == mine.code


async def test_creating_a_ticket_in_an_auto_dispatch_county_offers_it(client, session_factory):
    async with session_factory() as db:
        county = await make_county(db, auto_dispatch=True, accept_within_minutes=15)
        firm = await make_company(db, [county])
        await db.commit()
    headers = await _as(client, session_factory, "agent", county.code)
    made = await client.post(
        "/api/tickets",
        json={"category": "maintenance", "description": "Leak", "county": county.code},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "dispatched"
    got = (await client.get(f"/api/tickets/{made.json()['number']}/suggestions")).json()
    assert got["active"]["company_id"] == firm.id and got["active"]["automatic"] is True
    async with session_factory() as db:
        row = await db.get(Dispatch, got["active"]["id"])
        assert row.accept_by - row.dispatched_at == timedelta(minutes=15)
