"""cti.dispatch.service against the real database: eligibility, deadlines, the outbox,
auto-dispatch, the company's answers (and that one company cannot answer for another),
withdrawal, and overdue flagging."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cti.dispatch import service
from cti.dispatch.eligibility import suggest
from cti.dispatch.errors import DispatchError, NotEligible, NotYours
from cti.store.audit import AuditEntry
from cti.store.companies import CompanyStatus, Dispatch, Notification
from cti.store.tickets import Ticket, TicketEvent
from cti.tickets.lifecycle import TransitionRefused
from tests.integration.dispatch.factories import (
    make_account,
    make_company,
    make_county,
    make_ticket,
    yesterday,
)


async def test_only_approved_companies_serving_county_and_category_with_a_valid_certificate(
    session_factory,
):
    """Suspended, applied and rejected companies, one serving another county, one whose
    only certificate expired yesterday, one not yet valid, one whose certified staff
    member left, and one certified for another category: none is suggested nor can be
    dispatched to; the one good company is."""
    async with session_factory() as db:
        county, other = await make_county(db), await make_county(db)
        good = await make_company(db, [county])
        bad = {
            "suspended": await make_company(db, [county], status=CompanyStatus.SUSPENDED),
            "applied": await make_company(db, [county], status=CompanyStatus.APPLIED),
            "rejected": await make_company(db, [county], status=CompanyStatus.REJECTED),
            "county": await make_company(db, [other]),
            "expired": await make_company(db, [county], valid_until=yesterday()),
            "future": await make_company(
                db, [county], valid_from=datetime.now(UTC).date() + timedelta(days=2)
            ),
            "staff": await make_company(db, [county], staff_active=False),
            "category": await make_company(db, [county], category="family"),
            "uncertified": await make_company(db, [county], certified=False),
        }
        agent = await make_account(db, "agent", county=county.code)
        ticket = await make_ticket(db, agent, county)

        assert [s.company_id for s in await suggest(db, ticket)] == [good.id]
        messages = {}
        for why, company in bad.items():
            with pytest.raises(NotEligible) as exc:
                await service.dispatch_ticket(db, ticket, company.id, agent)
            messages[why] = str(exc.value)
        assert messages["suspended"] == "the company is not approved (it is suspended)"
        assert "county" in messages["county"] and "category" in messages["category"]
        assert "certified" in messages["expired"] and "certified" in messages["staff"]
        assert (await db.get(Ticket, ticket.id)).status == "new"  # nothing changed
        with pytest.raises(NotEligible):
            await service.dispatch_ticket(db, ticket, 2**31 - 1, agent)

        dispatch = await service.dispatch_ticket(db, ticket, good.id, agent)
        assert dispatch.company_id == good.id and ticket.status == "dispatched"
        await db.rollback()


async def test_deadlines_come_from_the_county_and_notifications_are_queued_with_it(
    session_factory,
):
    """accept_by/finish_by from the county's settings; an email row (the company has an
    address) and a webhook row (it has a URL) commit with the dispatch, its event and its
    audit entry, and nothing of it survives a rollback."""
    async with session_factory() as db:
        county = await make_county(db, accept_within_minutes=30, finish_within_hours=5)
        company = await make_company(
            db,
            [county],
            email="jobs@example.com",
            webhook_url="http://127.0.0.1:9/hook",
            webhook_secret="s3cret",
        )
        agent = await make_account(db, "agent", county=county.code)
        ticket = await make_ticket(db, agent, county)
        now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
        dispatch = await service.dispatch_ticket(db, ticket, company.id, agent, now=now)
        assert dispatch.accept_by == now + timedelta(minutes=30)
        assert dispatch.finish_by == now + timedelta(hours=5)
        assert dispatch.reasons["rank"] == 1 and dispatch.reasons["automatic"] is False
        assert dispatch.reasons["reputation"]["score"] == 50.0
        await db.commit()
        ids = (dispatch.id, ticket.id)

    async with session_factory() as db:
        rows = (
            await db.scalars(select(Notification).where(Notification.dispatch_id == ids[0]))
        ).all()
        assert sorted(r.channel for r in rows) == ["email", "webhook"]
        assert all(r.status == "pending" and r.event == "dispatch.offered" for r in rows)
        assert rows[0].payload["ticket"] == ticket.number
        assert rows[0].payload["accept_by"] == (now + timedelta(minutes=30)).isoformat()
        events = (
            await db.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ids[1]))
        ).all()
        assert events == ["create", "dispatch"]
        assert await db.scalar(
            select(AuditEntry.id).where(
                AuditEntry.action == "dispatch.create", AuditEntry.object_id == ticket.number
            )
        )

    async with session_factory() as db:  # rolled back: no dispatch, no outbox row
        agent = await make_account(db, "agent", county=county.code)
        ticket = await make_ticket(db, agent, county)
        dispatch = await service.dispatch_ticket(db, ticket, company.id, agent)
        gone = dispatch.id
        await db.rollback()
    async with session_factory() as db:
        assert await db.get(Dispatch, gone) is None
        assert not (
            await db.scalars(select(Notification).where(Notification.dispatch_id == gone))
        ).all()


async def test_a_company_without_email_or_webhook_gets_no_outbox_row(session_factory):
    async with session_factory() as db:
        county = await make_county(db)
        company = await make_company(db, [county])
        agent = await make_account(db, "agent", county=county.code)
        ticket = await make_ticket(db, agent, county)
        dispatch = await service.dispatch_ticket(db, ticket, company.id, agent)
        await db.flush()
        rows = await db.scalars(select(Notification).where(Notification.dispatch_id == dispatch.id))
        assert rows.all() == []
        await db.rollback()


async def test_auto_dispatch_offers_the_first_suggestion_only_where_the_county_says_so(
    session_factory,
):
    async with session_factory() as db:
        auto = await make_county(db, auto_dispatch=True)
        manual = await make_county(db)
        company = await make_company(db, [auto, manual])
        agent = await make_account(db, "agent")
        ticket = await make_ticket(db, agent, auto)
        dispatch = await service.auto_dispatch(db, ticket, agent)
        assert dispatch is not None and dispatch.company_id == company.id
        assert dispatch.automatic and ticket.status == "dispatched"

        other = await make_ticket(db, agent, manual)
        assert await service.auto_dispatch(db, other, agent) is None
        assert other.status == "new"
        lonely = await make_county(db, auto_dispatch=True)  # nobody serves it
        third = await make_ticket(db, agent, lonely)
        assert await service.auto_dispatch(db, third, agent) is None
        assert await service.auto_dispatch(db, await make_ticket(db, agent, None), agent) is None
        await db.rollback()


async def test_a_company_answers_only_its_own_dispatch_through_the_whole_job(session_factory):
    """Company B trying every answer on company A's dispatch gets NotYours (as if it did
    not exist), as do an agent and an unknown id; A accepts, starts and finishes it; a
    decline without a reason, an unknown action, and answers out of order are refused."""
    async with session_factory() as db:
        county = await make_county(db)
        a = await make_company(db, [county])
        b = await make_company(db, [county])
        user_a = await make_account(db, "company", company_id=a.id)
        user_b = await make_account(db, "company", company_id=b.id)
        agent = await make_account(db, "agent", county=county.code)
        ticket = await make_ticket(db, agent, county)
        dispatch = await service.dispatch_ticket(db, ticket, a.id, agent)

        for action in service.RESPONSES:
            with pytest.raises(NotYours):
                await service.respond(db, dispatch.id, action, user_b, "mine now")
        with pytest.raises(NotYours):
            await service.respond(db, dispatch.id, "accept", agent, "")
        with pytest.raises(NotYours):
            await service.respond(db, 2**31 - 1, "accept", user_a, "")
        with pytest.raises(DispatchError):
            await service.respond(db, dispatch.id, "decline", user_a, "   ")
        with pytest.raises(DispatchError):
            await service.respond(db, dispatch.id, "close", user_a, "")
        with pytest.raises(TransitionRefused):
            await service.respond(db, dispatch.id, "start", user_a, "")

        await service.respond(db, dispatch.id, "accept", user_a, "")
        assert dispatch.status == "accepted" and dispatch.accepted_at is not None
        with pytest.raises(TransitionRefused):
            await service.respond(db, dispatch.id, "decline", user_a, "changed our mind")
        await service.respond(db, dispatch.id, "start", user_a, "")
        done = await service.respond(db, dispatch.id, "finish", user_a, "Replaced <seal>\r\n")
        assert done.status == "done" and done.done_note == "Replaced <seal>"
        assert ticket.status == "done"
        events = (
            await db.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id)
                .order_by(TicketEvent.id)
            )
        ).all()
        assert [e.kind for e in events] == ["create", "dispatch", "accept", "start", "finish"]
        assert {e.company_id for e in events[2:]} == {a.id}
        rows = await db.scalars(
            select(Notification.event).where(Notification.dispatch_id == dispatch.id)
        )
        assert rows.all() == []  # the company is not told of its own answers
        await db.rollback()


async def test_a_decline_keeps_its_reason_and_the_old_dispatch_cannot_move_the_new_one(
    session_factory,
):
    async with session_factory() as db:
        county = await make_county(db)
        a = await make_company(db, [county])
        b = await make_company(db, [county])
        user_a = await make_account(db, "company", company_id=a.id)
        agent = await make_account(db, "agent", county=county.code)
        ticket = await make_ticket(db, agent, county)
        first = await service.dispatch_ticket(db, ticket, a.id, agent)
        await service.respond(db, first.id, "decline", user_a, "No fitter free\nthis week")
        assert first.status == "declined" and first.decline_reason == "No fitter free\nthis week"
        assert ticket.status == "declined"
        second = await service.dispatch_ticket(db, ticket, b.id, agent)
        assert second.status == "offered"
        with pytest.raises(TransitionRefused):  # ticket is dispatched, A's dispatch is not
            await service.respond(db, first.id, "accept", user_a, "")
        assert ticket.status == "dispatched"
        await db.rollback()


async def test_withdraw_needs_a_lead_of_the_county_and_tells_the_company(session_factory):
    async with session_factory() as db:
        county = await make_county(db)
        elsewhere = await make_county(db)
        company = await make_company(db, [county], email="jobs@example.com")
        agent = await make_account(db, "agent", county=county.code)
        lead = await make_account(db, "supervisor", county=county.code)
        other_lead = await make_account(db, "supervisor", county=elsewhere.code)
        ticket = await make_ticket(db, agent, county)
        dispatch = await service.dispatch_ticket(db, ticket, company.id, agent)
        with pytest.raises(NotYours):
            await service.withdraw(db, dispatch.id, other_lead, "not yours")
        with pytest.raises(TransitionRefused):
            await service.withdraw(db, dispatch.id, agent, "agents cannot")
        with pytest.raises(DispatchError):
            await service.withdraw(db, dispatch.id, lead, "")
        await service.withdraw(db, dispatch.id, lead, "Citizen asked for another company")
        assert dispatch.status == "withdrawn" and ticket.status == "declined"
        with pytest.raises(TransitionRefused):
            await service.withdraw(db, dispatch.id, lead, "again")
        events = await db.scalars(
            select(Notification.event).where(Notification.dispatch_id == dispatch.id)
        )
        assert events.all() == ["dispatch.offered", "dispatch.withdrawn"]
        await db.rollback()


async def test_overdue_dispatches_are_flagged_once_per_deadline(session_factory):
    async with session_factory() as db:
        county = await make_county(db, accept_within_minutes=10, finish_within_hours=1)
        company = await make_company(db, [county])
        user = await make_account(db, "company", company_id=company.id)
        agent = await make_account(db, "agent", county=county.code)
        t0 = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
        offered = await service.dispatch_ticket(
            db, await make_ticket(db, agent, county), company.id, agent, now=t0
        )
        accepted = await service.dispatch_ticket(
            db, await make_ticket(db, agent, county), company.id, agent, now=t0
        )
        await service.respond(db, accepted.id, "accept", user, "")
        finished = await service.dispatch_ticket(
            db, await make_ticket(db, agent, county), company.id, agent, now=t0
        )
        await service.respond(db, finished.id, "accept", user, "")
        await service.respond(db, finished.id, "finish", user, "")
        mine = {offered.id, accepted.id, finished.id}

        early = await service.flag_overdue(db, t0 + timedelta(minutes=5))
        assert not mine & {d.id for d in early}
        late_accept = await service.flag_overdue(db, t0 + timedelta(minutes=11))
        assert mine & {d.id for d in late_accept} == {offered.id}
        late_finish = await service.flag_overdue(db, t0 + timedelta(hours=2))
        assert mine & {d.id for d in late_finish} == {accepted.id}
        again = await service.flag_overdue(db, t0 + timedelta(hours=3))
        assert not mine & {d.id for d in again}
        assert offered.accept_late_flagged_at == t0 + timedelta(minutes=11)
        assert offered.finish_late_flagged_at is None
        assert accepted.accept_late_flagged_at is None
        assert accepted.finish_late_flagged_at == t0 + timedelta(hours=2)
        # Late to accept, then accepted and late to finish too: told twice, once for each.
        await service.respond(db, offered.id, "accept", user, "")
        later = await service.flag_overdue(db, t0 + timedelta(hours=4))
        assert mine & {d.id for d in later} == {offered.id}
        assert offered.finish_late_flagged_at == t0 + timedelta(hours=4)
        assert offered.accept_late_flagged_at == t0 + timedelta(minutes=11)
        assert not mine & {d.id for d in await service.flag_overdue(db, t0 + timedelta(hours=5))}
        await db.rollback()


async def test_a_refused_auto_dispatch_leaves_the_new_ticket_as_it_was(session_factory):
    """The savepoint: an actor the lifecycle refuses (an inspector) gets no dispatch and
    the ticket, created in the same transaction, stays new and commits."""
    async with session_factory() as db:
        county = await make_county(db, auto_dispatch=True)
        await make_company(db, [county])
        agent = await make_account(db, "agent", county=county.code)
        inspector = await make_account(db, "inspector", county=county.code)
        ticket = await make_ticket(db, agent, county)
        assert await service.auto_dispatch(db, ticket, inspector) is None
        assert ticket.status == "new"
        await db.commit()
        number = ticket.number
    async with session_factory() as db:
        row = await db.scalar(select(Ticket).where(Ticket.number == number))
        assert row.status == "new"
        assert (await db.scalars(select(Dispatch).where(Dispatch.ticket_id == row.id))).all() == []
