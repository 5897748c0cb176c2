"""The ticket API: the new fields, reading a ticket with its timeline, lifecycle moves and
notes, who may see which ticket, and hostile input.

Hostile input tried: markup and SQL in descriptions and notes (stored verbatim, returned as
the same text), NUL characters and oversized text (422 naming the field), unknown and
out-of-place action names, ticket numbers that are SQL, a naive (offset-less) window.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from cti.store.audit import AuditEntry
from cti.store.calls import Call
from cti.store.recordings import Recording
from cti.store.tickets import Ticket, TicketEvent
from cti.store.users import Role
from tests.conftest import csrf_of, login

HOSTILE = "<script>alert(1)</script> '); DROP TABLE tickets;-- & <b>x</b>"


async def _as(client, make_user, role, county=None):
    await login(client, await make_user(role, county=county))
    return {"X-CSRF-Token": await csrf_of(client)}


async def _new(client, headers, county="north", **extra):
    body = {"category": "family.nanny", "description": "Needs a nanny", "county": county}
    response = await client.post("/api/tickets", json=body | extra, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["number"]


async def test_new_fields_are_stored_and_shown(client, make_user, session_factory):
    headers = await _as(client, make_user, Role.AGENT, "north")
    start = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    number = await _new(
        client,
        headers,
        category="maintenance",
        subcategory="maintenance.water",
        channel="walk_in",
        priority="urgent",
        address="12 Elm St, flat 3",
        preferred_start=start.isoformat(),
        preferred_end="2026-12-08T15:00:00+03:00",
    )
    got = (await client.get(f"/api/tickets/{number}")).json()
    assert (got["category"], got["subcategory"]) == ("maintenance", "maintenance.water")
    assert (got["channel"], got["priority"], got["county"]) == ("walk_in", "urgent", "north")
    assert got["address"] == "12 Elm St, flat 3"
    assert datetime.fromisoformat(got["preferred_end"]) == start + timedelta(hours=3)
    assert got["status"] == "new"
    assert [e["title"] for e in got["timeline"]] == ["Created"]
    assert got["actions"] == ["answer", "cancel"]  # dispatch is the dispatch part's route

    complaint = await _new(client, headers, complaint_of=number.lower())
    assert (await client.get(f"/api/tickets/{complaint}")).json()["complaint_of"] == number
    assert (await client.get(f"/api/tickets/{number}")).json()["complaints"] == [complaint]
    async with session_factory() as db:
        row = await db.scalar(select(Ticket).where(Ticket.number == number))
        assert row.owner_id == row.author_id is not None


async def test_create_refusals_name_the_field(client, make_user):
    headers = await _as(client, make_user, Role.AGENT, "north")
    base = {"category": "family.nanny", "description": "x"}
    cases = [
        ({"subcategory": "maintenance.water"}, "subcategory"),  # not an item of family
        ({"subcategory": "family"}, "subcategory"),  # a category, not an item
        ({"preferred_start": "2026-12-08T09:00:00"}, "preferred_start"),  # no offset
        (
            {
                "preferred_start": "2026-12-08T09:00:00+00:00",
                "preferred_end": "2026-12-08T08:00:00+00:00",
            },
            "preferred_end",
        ),
        ({"address": "a\x00b"}, "address"),
        ({"complaint_of": "T1999-000001"}, "complaint_of"),
    ]
    for extra, field in cases:
        response = await client.post("/api/tickets", json=base | extra, headers=headers)
        assert response.status_code == 422, (extra, response.text)
        assert field in response.json()["fields"], (extra, response.json())
    for extra in ({"channel": "pigeon"}, {"priority": "whenever"}, {"description": "x" * 6000}):
        response = await client.post("/api/tickets", json=base | extra, headers=headers)
        assert response.status_code == 422, extra


async def test_information_ticket_answered_then_closed_with_events_and_audit(
    client, make_user, session_factory
):
    headers = await _as(client, make_user, Role.AGENT, "north")
    number = await _new(client, headers)
    url = f"/api/tickets/{number}/transitions"
    answered = await client.post(
        url, json={"action": "answer", "note": "Gave the list of agencies"}, headers=headers
    )
    assert answered.status_code == 201, answered.text
    assert (answered.json()["from_status"], answered.json()["to_status"]) == ("new", "answered")
    again = await client.post(url, json={"action": "answer"}, headers=headers)
    assert again.status_code == 409
    assert "answered cannot be answered" in again.json()["detail"]
    closed = await client.post(url, json={"action": "close"}, headers=headers)
    assert closed.json()["to_status"] == "closed"
    got = (await client.get(f"/api/tickets/{number}")).json()
    assert got["status"] == "closed" and got["closed_at"]
    assert [e["title"] for e in got["timeline"]] == [
        "Created",
        "answer: new → answered",
        "close: answered → closed",
    ]
    assert got["timeline"][1]["note"] == "Gave the list of agencies"
    assert got["actions"] == ["complain"]
    async with session_factory() as db:
        actions = (
            await db.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_id == number)
                .order_by(AuditEntry.id)
            )
        ).all()
    assert actions == ["ticket.create", "ticket.answer", "ticket.close"]


async def test_moves_done_elsewhere_are_refused_with_their_route(client, make_user):
    number = await _new(client, await _as(client, make_user, Role.AGENT, "north"))
    headers = await _as(client, make_user, Role.SUPERVISOR, "north")
    url = f"/api/tickets/{number}/transitions"
    for action, hint in [
        ("dispatch", f"/api/tickets/{number}/dispatch"),
        ("withdraw", "/api/dispatches/{dispatch_id}/withdraw"),
        ("accept", "/api/company/jobs/{id}/accept"),
        ("finish", "/portal"),
        ("revisit", f"/api/tickets/{number}/revisit"),
    ]:
        response = await client.post(url, json={"action": action}, headers=headers)
        assert response.status_code == 409, action
        assert hint in response.json()["detail"], (action, response.json())
    for bad in ("explode", "ANSWER", "answer; DROP TABLE tickets", "", "\x00"):
        response = await client.post(url, json={"action": bad}, headers=headers)
        assert response.status_code == 422, bad
    # cancel from new is allowed; then nothing but a note can happen to it
    assert (await client.post(url, json={"action": "cancel"}, headers=headers)).status_code == 201
    refused = await client.post(url, json={"action": "answer"}, headers=headers)
    assert refused.status_code == 409 and "cancelled" in refused.json()["detail"]


async def test_inspector_reads_but_cannot_write(client, make_user):
    agent = await _as(client, make_user, Role.AGENT, "north")
    number = await _new(client, agent)
    inspector = await _as(client, make_user, Role.INSPECTOR, "north")
    assert (await client.get(f"/api/tickets/{number}")).json()["actions"] == []
    for url, body in [
        (f"/api/tickets/{number}/notes", {"note": "x"}),
        (f"/api/tickets/{number}/transitions", {"action": "cancel"}),
    ]:
        assert (await client.post(url, json=body, headers=inspector)).status_code == 403


async def test_notes_are_kept_verbatim_and_hostile_ones_refused(client, make_user):
    headers = await _as(client, make_user, Role.AGENT, "north")
    number = await _new(client, headers, description=HOSTILE)
    url = f"/api/tickets/{number}/notes"
    written = await client.post(url, json={"note": HOSTILE}, headers=headers)
    assert written.status_code == 201 and written.json()["note"] == HOSTILE
    for bad in ("", "   ", "a\x00b", "x" * 5001):
        response = await client.post(url, json={"note": bad}, headers=headers)
        assert response.status_code == 422, bad[:10]
    got = (await client.get(f"/api/tickets/{number}")).json()
    assert got["description"] == HOSTILE
    assert [e["note"] for e in got["timeline"] if e["title"] == "Note"] == [HOSTILE]
    noted = await client.post(
        f"/api/tickets/{number}/transitions",
        json={"action": "answer", "note": "y" * 5001},
        headers=headers,
    )
    assert (
        noted.status_code == 422
        and (await client.get(f"/api/tickets/{number}")).json()["status"] == "new"
    )


async def test_scope_isolation_between_counties(client, make_user):
    north_agent = await _as(client, make_user, Role.AGENT, "north")
    north = await _new(client, north_agent, county="north")
    own_in_south = await _new(client, north_agent, county="south")  # owned: stays visible
    assert (await client.get(f"/api/tickets/{own_in_south}")).status_code == 200

    south_agent = await _as(client, make_user, Role.AGENT, "south")
    south = await _new(client, south_agent, county="south")
    assert (await client.get(f"/api/tickets/{own_in_south}")).status_code == 200  # its county
    missing = await client.get("/api/tickets/T2026-999999")
    hidden = await client.get(f"/api/tickets/{north}")
    assert hidden.status_code == missing.status_code == 404
    assert set(hidden.json()) == set(missing.json())
    for url, body in [
        (f"/api/tickets/{north}/notes", {"note": "peek"}),
        (f"/api/tickets/{north}/transitions", {"action": "cancel"}),
    ]:
        assert (await client.post(url, json=body, headers=south_agent)).status_code == 404
    complaint = await client.post(
        "/api/tickets",
        json={"category": "family.nanny", "description": "x", "complaint_of": north},
        headers=south_agent,
    )
    assert complaint.status_code == 422  # no complaining about a ticket one cannot see

    await _as(client, make_user, Role.SUPERVISOR, "south")
    assert (await client.get(f"/api/tickets/{south}")).status_code == 200
    assert (await client.get(f"/api/tickets/{north}")).status_code == 404
    await _as(client, make_user, Role.ADMIN)  # no county: every county
    for number in (north, south, own_in_south):
        assert (await client.get(f"/api/tickets/{number}")).status_code == 200
    for weird in ("T2026-000001'--", "x" * 30):
        assert (await client.get(f"/api/tickets/{weird}")).status_code == 422
    await _as(client, make_user, Role.COMPANY)
    assert (await client.get(f"/api/tickets/{north}")).status_code == 403


async def test_timeline_has_the_call_and_its_recording_playable_only_in_scope(
    client, make_user, session_factory
):
    headers = await _as(client, make_user, Role.AGENT, "north")
    number = await _new(client, headers, call={"node": "pbx9", "linkedid": "1800000000.7"})
    async with session_factory() as db:
        ticket = await db.scalar(select(Ticket).where(Ticket.number == number))
        call = await db.get(Call, ticket.call_id)
        call.started_at = datetime.now(UTC) - timedelta(minutes=5)
        call.caller_number = "13800138000"
        recording = Recording(
            call_id=call.id,
            path=f"2026/12/07/{number}.wav",
            started_at=call.started_at,
            duration_ms=61_000,
            caller_number="13800138000",
            county_id=ticket.county_id,
            format="wav",
            codec="pcm_s16le",
            mtime=call.started_at,
            sample_rate=8000,
            channels=1,
            size_bytes=1000,
            sha256="0" * 64,
        )
        db.add(recording)
        await db.commit()
        recording_id = recording.id
    got = (await client.get(f"/api/tickets/{number}")).json()
    assert [e["kind"] for e in got["timeline"]] == ["call", "event"]
    call_entry = got["timeline"][0]
    # the agent did not answer that call: the recording is listed, not playable for them
    assert call_entry["recordings"] == [
        {"id": recording_id, "duration_ms": 61_000, "playable": False, "audio_url": None}
    ]
    await _as(client, make_user, Role.SUPERVISOR, "north")
    rec = (await client.get(f"/api/tickets/{number}")).json()["timeline"][0]["recordings"][0]
    assert rec["playable"] and rec["audio_url"] == f"/api/recordings/{recording_id}/audio"
    async with session_factory() as db:
        events = (
            await db.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id))
        ).all()
    assert events == ["create"]


async def test_a_retired_county_takes_no_new_ticket(client, make_user, session_factory):
    import secrets

    from cti.store.base import utcnow
    from cti.store.counties import County

    code = f"old{secrets.token_hex(3)}"
    async with session_factory() as db:
        db.add(County(code=code, name="Old County", queue_name=f"county-{code}"))
        await db.commit()
    headers = await _as(client, make_user, Role.AGENT)
    await _new(client, headers, county=code)  # live: taken
    async with session_factory() as db:
        county = await db.scalar(select(County).where(County.code == code))
        county.retired_at = utcnow()
        await db.commit()
    body = {"category": "family.nanny", "description": "Needs a nanny", "county": code}
    response = await client.post("/api/tickets", json=body, headers=headers)
    assert response.status_code == 422 and "county" in response.json()["fields"]
    assert "retired" in response.json()["fields"]["county"]
