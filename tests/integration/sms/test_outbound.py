"""Texts to citizens through a real HTTP gateway in this process: the ticket number when a
ticket is created on any channel, the revisit question when it is done and the reply as
the revisit's score, a retry after the gateway's 500, no gateway configured, STOP/START.

Replies tried: 1-5 (ASCII and full-width), 0, 7, "4.5", words, an empty-looking reply."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from cti.dispatch import notify, service
from cti.sms.sender import SmsSender
from cti.store.base import utcnow
from cti.store.revisits import Revisit
from cti.store.sms import SmsOptOut, SmsOutbox
from cti.store.tickets import Channel, Ticket, TicketEvent
from cti.tickets.service import create_ticket
from tests.integration.dispatch.factories import make_account, make_company, make_county
from tests.integration.sms.conftest import (
    GATEWAY_SECRET,
    deliver_for,
    fresh_mobile,
    make_citizen,
    message,
    post_signed,
)


async def _phone_ticket(session_factory, citizen_id: int, channel: str = "phone") -> Ticket:
    async with session_factory() as db:
        agent = await make_account(db, "agent", county="north")
        ticket = await create_ticket(
            db,
            author=agent,
            category_code="maintenance",
            description="Boiler",
            citizen_id=citizen_id,
            county_code="north",
            channel=channel,
        )
        await db.commit()
        return ticket


async def _outbox(session_factory, ticket_id: int) -> list[SmsOutbox]:
    async with session_factory() as db:
        return list(
            (
                await db.scalars(
                    select(SmsOutbox).where(SmsOutbox.ticket_id == ticket_id).order_by(SmsOutbox.id)
                )
            ).all()
        )


@pytest.mark.parametrize("channel", [c.value for c in Channel])
async def test_every_new_ticket_texts_its_number_signed(session_factory, sender, gateway, channel):
    mobile = fresh_mobile()
    ticket = await _phone_ticket(
        session_factory, await make_citizen(session_factory, mobile), channel
    )
    await deliver_for(sender, session_factory, ticket.id)

    (posted,) = [(h, b) for h, b in gateway.requests if json.loads(b)["to"] == f"+86{mobile}"]
    headers, body = posted
    assert notify.verify(
        GATEWAY_SECRET, headers["x-hotline-timestamp"], body, headers["x-hotline-signature"]
    )
    assert not notify.verify(
        "another secret", headers["x-hotline-timestamp"], body, headers["x-hotline-signature"]
    )
    sent = json.loads(body)
    assert sent["ticket"] == ticket.number and sent["kind"] == "ticket_created"
    assert ticket.number in sent["text"]
    (row,) = await _outbox(session_factory, ticket.id)
    assert sent["id"] == f"hotline-sms-{row.id}"
    assert row.status == "sent" and row.attempts == 1 and row.recipient == mobile
    assert row.gateway_id and row.gateway_id.startswith("gw-") and row.sent_at is not None


async def test_a_gateway_500_is_retried_with_backoff_then_sent(session_factory, sender, gateway):
    mobile = fresh_mobile()
    gateway.script[mobile] = [500]
    ticket = await _phone_ticket(session_factory, await make_citizen(session_factory, mobile))
    now = utcnow()
    await deliver_for(sender, session_factory, ticket.id, now)
    (row,) = await _outbox(session_factory, ticket.id)
    assert row.status == "pending" and row.attempts == 1 and "HTTP 500" in row.last_error
    assert timedelta(seconds=29) < row.next_attempt_at - now <= timedelta(seconds=31)

    await deliver_for(sender, session_factory, ticket.id, now + timedelta(seconds=10))
    assert len(gateway.posts_to(mobile)) == 1  # not due yet
    await deliver_for(sender, session_factory, ticket.id, now + timedelta(seconds=31))
    (row,) = await _outbox(session_factory, ticket.id)
    assert row.status == "sent" and row.attempts == 2 and row.last_error is None
    first, second = gateway.posts_to(mobile)
    assert first == second  # the same id: the gateway can tell a retry from a new text


async def test_a_gateway_refusal_fails_at_once(session_factory, sender, gateway):
    mobile = fresh_mobile()
    gateway.script[mobile] = [400]
    ticket = await _phone_ticket(session_factory, await make_citizen(session_factory, mobile))
    await deliver_for(sender, session_factory, ticket.id)
    (row,) = await _outbox(session_factory, ticket.id)
    assert row.status == "failed" and "HTTP 400" in row.last_error


async def test_without_a_gateway_texts_wait_visibly(session_factory, gateway):
    mobile = fresh_mobile()
    ticket = await _phone_ticket(session_factory, await make_citizen(session_factory, mobile))
    idle = SmsSender(session_factory, gateway=None)
    assert await idle.deliver_due() == 0
    (row,) = await _outbox(session_factory, ticket.id)
    assert row.status == "pending" and row.attempts == 0 and row.recipient is None
    health = idle.health()
    assert health.ok and health.detail["gateway"] is False and health.detail["pending"] >= 1
    assert "cti_sms_outbox_pending" in "\n".join(idle.metrics())
    assert gateway.posts_to(mobile) == []


async def test_a_ticket_without_a_mobile_number_is_skipped(session_factory, sender):
    async with session_factory() as db:
        agent = await make_account(db, "agent")
        ticket = await create_ticket(
            db, author=agent, category_code="maintenance", description="Walk-in", channel="walk_in"
        )
        await db.commit()
    await deliver_for(sender, session_factory, ticket.id)
    (row,) = await _outbox(session_factory, ticket.id)
    assert row.status == "skipped" and row.last_error == "no mobile number to text"


async def _done_ticket(session_factory, mobile: str) -> Ticket:
    """A ticket of a citizen with ``mobile``, dispatched, and finished by the company."""
    async with session_factory() as db:
        county = await make_county(db)
        firm = await make_company(db, [county])
        agent = await make_account(db, "agent", county=county.code)
        fitter = await make_account(db, "company", company_id=firm.id)
        await db.commit()
    citizen_id = await make_citizen(session_factory, mobile, county=county.code)
    async with session_factory() as db:
        ticket = await create_ticket(
            db,
            author=agent,
            category_code="maintenance",
            description="Leaking pipe",
            citizen_id=citizen_id,
            county_code=county.code,
        )
        dispatch = await service.dispatch_ticket(db, ticket, firm.id, agent)
        for action in ("accept", "start", "finish"):
            await service.respond(db, dispatch.id, action, fitter, "")
        await db.commit()
        return ticket


@pytest.mark.parametrize(
    ("reply", "score"),
    [("5", 5), ("1", 1), (" ３。", 3), ("0", None), ("7", None), ("4.5", None),
     ("Great job, thanks", None)],
)  # fmt: skip
async def test_the_reply_to_the_revisit_question_is_its_score_or_a_note(
    http, base_url, session_factory, sender, gateway, reply, score
):
    mobile = fresh_mobile()
    ticket = await _done_ticket(session_factory, mobile)
    await deliver_for(sender, session_factory, ticket.id)
    kinds = [p["kind"] for p in gateway.posts_to(mobile)]
    assert kinds == ["ticket_created", "revisit_question"]
    assert "1 (poor) to 5 (excellent)" in gateway.posts_to(mobile)[1]["text"]

    answer = await post_signed(http, base_url, message(f"+86{mobile}", reply))
    assert answer.status_code == 200, answer.text
    assert answer.json()["ticket"] == ticket.number
    async with session_factory() as db:
        revisits = (await db.scalars(select(Revisit).where(Revisit.ticket_id == ticket.id))).all()
        status = await db.scalar(select(Ticket.status).where(Ticket.id == ticket.id))
        last = await db.scalar(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.id.desc())
            .limit(1)
        )
    if score is None:
        assert answer.json()["outcome"] == "note"
        assert revisits == [] and status == "done"
        assert last.kind == "sms" and last.note == reply.strip()
    else:
        assert answer.json()["outcome"] == "revisit"
        (revisit,) = revisits
        assert revisit.satisfaction == score and revisit.channel == "sms"
        assert revisit.service_done and not revisit.complaint and revisit.company_id is not None
        assert status == "closed"


async def test_stop_ends_texts_and_start_resumes_them(
    http, base_url, session_factory, sender, gateway
):
    mobile = fresh_mobile()
    citizen_id = await make_citizen(session_factory, mobile)
    stop = await post_signed(http, base_url, message(mobile, " Stop. "))
    assert stop.json() == {**stop.json(), "outcome": "opt_out", "ticket": None}
    async with session_factory() as db:
        assert await db.get(SmsOptOut, mobile) is not None

    quiet = await _phone_ticket(session_factory, citizen_id)
    await deliver_for(sender, session_factory, quiet.id)
    (row,) = await _outbox(session_factory, quiet.id)
    assert row.status == "suppressed" and gateway.posts_to(mobile) == []

    start = await post_signed(http, base_url, message(mobile, "START"))
    assert start.json()["outcome"] == "opt_in"
    loud = await _phone_ticket(session_factory, citizen_id)
    await deliver_for(sender, session_factory, loud.id)
    assert [p["ticket"] for p in gateway.posts_to(mobile)] == [loud.number]


async def test_the_api_role_runs_the_sms_sender_from_settings(session_factory, sms_settings):
    from cti.app import build_services
    from cti.bus import InMemoryBus

    services = build_services(sms_settings, {"api"}, session_factory, InMemoryBus())
    (sms,) = [s for s in services if s.name == "sms"]
    assert isinstance(sms, SmsSender)
    assert sms.gateway is not None and sms.gateway.url == sms_settings.sms_gateway_url
    assert sms.gateway.secret == GATEWAY_SECRET
    assert GATEWAY_SECRET not in repr(sms.gateway)  # never printed
