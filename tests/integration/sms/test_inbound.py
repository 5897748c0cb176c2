"""Texts from citizens, posted by a gateway over real HTTP with real signatures: a ticket
opened, a second text added to it, an old ticket left alone, unknown and unroutable
senders, and hostile text stored verbatim and shown escaped.

Hostile input tried: markup and a script tag, CR/LF, an RTL override, SQL, a sender that
is a name (``BANK``), full-width digits in the number."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select, update

from cti.store.base import utcnow
from cti.store.catalog import ServiceCategory
from cti.store.counties import County
from cti.store.sms import SmsInbound, SmsOutbox
from cti.store.tickets import Ticket, TicketEvent
from cti.store.users import Role
from tests.conftest import login
from tests.integration.sms.conftest import (
    fresh_mobile,
    make_citizen,
    message,
    post_signed,
)

HOSTILE = "<script>alert(1)</script> <b>tap</b>\r\nleaks ‮gnp.exe'; DROP TABLE tickets;--"


async def _ticket(session_factory, number: str) -> Ticket:
    async with session_factory() as db:
        return (await db.scalars(select(Ticket).where(Ticket.number == number))).one()


async def test_a_text_from_a_known_citizen_opens_an_sms_ticket(http, base_url, session_factory):
    mobile = fresh_mobile()
    citizen_id = await make_citizen(session_factory, mobile, county="north")
    sent = message(f"+86 {mobile[:3]}-{mobile[3:]}", HOSTILE, to="12345")
    answer = await post_signed(http, base_url, sent)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "ticket" and body["ticket"].startswith("T")

    ticket = await _ticket(session_factory, body["ticket"])
    async with session_factory() as db:
        county = await db.scalar(select(County.code).where(County.id == ticket.county_id))
        category = await db.scalar(
            select(ServiceCategory.code).where(ServiceCategory.id == ticket.category_id)
        )
        stored = (
            await db.scalars(select(SmsInbound).where(SmsInbound.gateway_id == sent["message_id"]))
        ).one()
        owed = (await db.scalars(select(SmsOutbox).where(SmsOutbox.ticket_id == ticket.id))).all()
    assert ticket.channel == "sms" and ticket.citizen_id == citizen_id
    assert county == "north" and category == "info"
    assert ticket.description == HOSTILE.strip()  # verbatim (the service trims the ends)
    assert ticket.address == "1 Test Lane"
    assert stored.text == HOSTILE and stored.sender == mobile and stored.outcome == "ticket"
    assert stored.sender_raw == sent["from"] and stored.ticket_id == ticket.id
    assert [(o.kind, o.status) for o in owed] == [("ticket_created", "pending")]


async def test_a_second_text_is_added_to_the_open_ticket_and_shown_once_escaped(
    http, base_url, session_factory, sms_app, make_user
):
    mobile = fresh_mobile()
    await make_citizen(session_factory, mobile, county="south")
    first = await post_signed(http, base_url, message(mobile, "The heating is off"))
    second = await post_signed(http, base_url, message(mobile, HOSTILE))
    assert first.json()["outcome"] == "ticket"
    assert second.status_code == 200
    assert second.json() == {**second.json(), "outcome": "note", "ticket": first.json()["ticket"]}

    ticket = await _ticket(session_factory, first.json()["ticket"])
    async with session_factory() as db:
        events = (
            await db.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id)
                .order_by(TicketEvent.id)
            )
        ).all()
    assert [e.kind for e in events] == ["create", "sms"]
    assert events[1].note == HOSTILE.strip() and events[1].actor_name == "SMS gateway"
    assert HOSTILE.strip() in ticket.notes_text  # found by ticket search's free text

    async with httpx.AsyncClient(base_url=base_url) as browser:
        await login(browser, await make_user(Role.SUPERVISOR))
        api = (await browser.get(f"/api/tickets/{ticket.number}")).json()
        page = await browser.get(f"/tickets/{ticket.number}")
    texts = [e for e in api["timeline"] if e["kind"] == "sms"]
    assert [t["title"] for t in texts if t["title"].startswith("Text message from")] == [
        f"Text message from {mobile}",
        f"Text message from {mobile}",
    ]
    assert [e for e in api["timeline"] if e["kind"] == "event" and e["title"] == "sms"] == []
    assert sum(t["note"] == HOSTILE for t in texts) == 1
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_a_text_after_the_append_window_opens_a_new_ticket(http, base_url, session_factory):
    mobile = fresh_mobile()
    await make_citizen(session_factory, mobile)
    first = (await post_signed(http, base_url, message(mobile, "Window is broken"))).json()
    async with session_factory() as db:
        await db.execute(
            update(Ticket)
            .where(Ticket.number == first["ticket"])
            .values(created_at=utcnow() - timedelta(hours=25))
        )
        await db.commit()
    second = (await post_signed(http, base_url, message(mobile, "Door is broken"))).json()
    assert second["outcome"] == "ticket" and second["ticket"] != first["ticket"]


async def test_an_unknown_number_opens_a_ticket_and_its_next_text_joins_it(
    http, base_url, session_factory
):
    mobile = fresh_mobile()
    first = (await post_signed(http, base_url, message(f"0086{mobile}", "Need a nanny"))).json()
    second = (await post_signed(http, base_url, message(f"+86{mobile}", "From Monday"))).json()
    assert first["outcome"] == "ticket" and second["outcome"] == "note"
    assert second["ticket"] == first["ticket"]
    ticket = await _ticket(session_factory, first["ticket"])
    assert ticket.citizen_id is None


async def test_a_sender_that_is_no_number_is_stored_and_nothing_else(
    http, base_url, session_factory
):
    for sender in ("BANK", "anonymous", "10086", "１３９"):
        sent = message(sender, "Your code is 1234")
        answer = await post_signed(http, base_url, sent)
        assert answer.status_code == 200
        assert answer.json()["outcome"] == "unroutable" and answer.json()["ticket"] is None
        async with session_factory() as db:
            row = (
                await db.scalars(
                    select(SmsInbound).where(SmsInbound.gateway_id == sent["message_id"])
                )
            ).one()
        assert row.sender == "" and row.sender_raw == sender and row.ticket_id is None


async def test_stored_texts_and_the_outbox_are_listed_for_supervisors(
    http, base_url, session_factory, make_user
):
    mobile = fresh_mobile()
    posted = (await post_signed(http, base_url, message(mobile, "List me"))).json()
    async with httpx.AsyncClient(base_url=base_url) as browser:
        await login(browser, await make_user(Role.SUPERVISOR))
        inbound = (await browser.get("/api/sms/inbound", params={"limit": 500})).json()
        outbox = (await browser.get("/api/sms/outbox", params={"status": "pending"})).json()
        agent = httpx.AsyncClient(base_url=base_url)
    async with agent:
        await login(agent, await make_user(Role.AGENT))
        assert (await agent.get("/api/sms/outbox")).status_code == 403
    assert any(m["id"] == posted["id"] and m["ticket"] == posted["ticket"] for m in inbound)
    assert any(o["ticket"] == posted["ticket"] and o["kind"] == "ticket_created" for o in outbox)
