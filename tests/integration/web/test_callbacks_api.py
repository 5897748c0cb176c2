"""/api/callbacks: who sees which requests, what an attempt does, and hostile input."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from cti.store.audit import AuditEntry
from cti.store.callbacks import CallbackRequest
from cti.store.calls import Call
from cti.store.counties import County
from cti.store.users import Role
from tests.conftest import csrf_of, login

T0 = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)


async def _request(session_factory, county: str | None, *, minutes: int = 0, number=None):
    """A call that a closed county took as a callback request, as the AGI writer leaves it."""
    node = f"cb-{secrets.token_hex(4)}"
    number = number if number is not None else f"138{secrets.randbelow(10**8):08d}"
    async with session_factory() as db:
        county_id = (
            await db.scalar(select(County.id).where(County.code == county)) if county else None
        )
        call = Call(
            node=node,
            linkedid="1.1",
            uniqueid="1.1",
            caller_number=number,
            caller_name='Ann "<b>x</b>"',
            did="9615601",
            county_id=county_id,
            disposition="callback",
            started_at=T0 + timedelta(minutes=minutes),
        )
        db.add(call)
        await db.flush()
        request = CallbackRequest(
            call_id=call.id,
            county_id=county_id,
            number=number,
            requested_at=call.started_at,
            status="open" if number else "unreachable",
            attempts=0,
        )
        db.add(request)
        await db.commit()
        return request.id


async def _as(client, make_user, role, county=None):
    await login(client, await make_user(role, county=county))
    return {"X-CSRF-Token": await csrf_of(client)}


async def test_county_staff_see_their_county_and_no_county_oldest_first(
    client, make_user, session_factory
):
    north_late = await _request(session_factory, "north", minutes=30)
    north_early = await _request(session_factory, "north", minutes=-30)
    unknown = await _request(session_factory, None, minutes=0)
    south = await _request(session_factory, "south", minutes=0)
    withheld = await _request(session_factory, "north", number="")

    await _as(client, make_user, Role.AGENT, county="north")
    listed = await client.get("/api/callbacks")
    assert listed.status_code == 200, listed.text
    ids = [r["id"] for r in listed.json()]
    assert south not in ids and withheld not in ids  # other county; not open
    mine = [i for i in ids if i in {north_late, north_early, unknown}]
    assert mine == [north_early, unknown, north_late]
    item = next(r for r in listed.json() if r["id"] == north_early)
    assert item["county"] == "north" and item["caller_name"] == 'Ann "<b>x</b>"'
    assert item["status"] == "open" and item["attempts"] == 0 and item["did"] == "9615601"

    gone = await client.get("/api/callbacks", params={"status": "unreachable"})
    assert withheld in [r["id"] for r in gone.json()]
    only = await client.get("/api/callbacks", params={"county": "north"})
    assert unknown not in [r["id"] for r in only.json()]

    await _as(client, make_user, Role.SUPERVISOR)  # centre-wide: every county
    ids = [r["id"] for r in (await client.get("/api/callbacks")).json()]
    assert {north_late, north_early, unknown, south} <= set(ids)


async def test_an_attempt_moves_the_request_and_is_audited(client, make_user, session_factory):
    rid = await _request(session_factory, "north")
    headers = await _as(client, make_user, Role.AGENT, county="north")
    note = "<img src=x onerror=alert(1)> '; DROP TABLE calls; --\nline 2"
    reply = await client.post(
        f"/api/callbacks/{rid}/attempts",
        json={"result": "no_answer", "note": note},
        headers=headers,
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["status"], body["attempts"], body["note"]) == ("open", 1, note)
    assert body["handled_by"].startswith("agent-") and body["last_attempt_at"]

    done = await client.post(
        f"/api/callbacks/{rid}/attempts", json={"result": "reached"}, headers=headers
    )
    assert done.json()["status"] == "done" and done.json()["note"] == note  # note kept
    assert rid not in [r["id"] for r in (await client.get("/api/callbacks")).json()]

    again = await client.post(
        f"/api/callbacks/{rid}/attempts", json={"result": "reached"}, headers=headers
    )
    assert again.status_code == 409 and "already done" in again.json()["detail"]

    async with session_factory() as db:
        entries = (
            await db.scalars(
                select(AuditEntry)
                .where(
                    AuditEntry.object_type == "callback_request",
                    AuditEntry.object_id == str(rid),
                )
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [e.detail["result"] for e in entries] == ["no_answer", "reached"]


async def test_bad_input_gets_a_clear_error_and_changes_nothing(client, make_user, session_factory):
    """Tried: an unknown result, a NUL in the note, a note too long, a body that is not
    JSON, a request id of another county, one that does not exist, a negative and a huge
    id, an unknown county filter and a malformed one, an unknown status."""
    rid = await _request(session_factory, "north")
    south = await _request(session_factory, "south")
    headers = await _as(client, make_user, Role.AGENT, county="north")
    url = f"/api/callbacks/{rid}/attempts"
    bad = [
        ({"result": "maybe"}, 422),
        ({"result": "reached", "note": "a\x00b"}, 422),
        ({"result": "reached", "note": "x" * 1001}, 422),
        ({"note": "no result"}, 422),
    ]
    for body, code in bad:
        response = await client.post(url, json=body, headers=headers)
        assert response.status_code == code, (body, response.text)
    nul = await client.post(url, json={"result": "reached", "note": "a\x00b"}, headers=headers)
    assert "note" in nul.json()["fields"]
    raw = await client.post(
        url, content=b"{not json", headers={**headers, "Content-Type": "application/json"}
    )
    assert raw.status_code == 422
    for other in (south, 999_999_999, -1):
        response = await client.post(
            f"/api/callbacks/{other}/attempts", json={"result": "reached"}, headers=headers
        )
        assert response.status_code in (404, 422), (other, response.text)
    huge = await client.post(
        "/api/callbacks/99999999999999999999/attempts", json={"result": "reached"}, headers=headers
    )
    assert huge.status_code == 422
    for params in ({"county": "atlantis"}, {"county": "North;--"}, {"status": "all"}):
        assert (await client.get("/api/callbacks", params=params)).status_code == 422, params

    async with session_factory() as db:
        request = await db.get(CallbackRequest, rid)
        assert (request.status, request.attempts, request.note) == ("open", 0, None)


async def test_roles_and_csrf(client, make_user, session_factory):
    rid = await _request(session_factory, "north")
    await _as(client, make_user, Role.INSPECTOR)
    assert (await client.get("/api/callbacks")).status_code == 403
    headers = await _as(client, make_user, Role.ADMIN)
    assert (await client.get("/api/callbacks")).status_code == 200  # admins read
    refused = await client.post(
        f"/api/callbacks/{rid}/attempts", json={"result": "reached"}, headers=headers
    )
    assert refused.status_code == 403
    await _as(client, make_user, Role.AGENT, county="north")
    no_csrf = await client.post(f"/api/callbacks/{rid}/attempts", json={"result": "reached"})
    assert no_csrf.status_code == 403
