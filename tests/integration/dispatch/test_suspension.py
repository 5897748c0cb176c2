"""cti.dispatch.suspension: suspending a company takes back every job it holds open (it
may no longer answer them), and only those; other reviews take nothing back."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cti.companies.review import ReviewRefused
from cti.dispatch import service, suspension
from cti.store.audit import AuditEntry
from cti.store.companies import Notification
from cti.store.tickets import TicketEvent
from tests.integration.dispatch.factories import (
    make_account,
    make_company,
    make_county,
    make_ticket,
)


async def test_suspending_a_company_takes_back_its_open_jobs_and_only_those(session_factory):
    async with session_factory() as db:
        county = await make_county(db)
        company = await make_company(db, [county], email="jobs@example.com")
        other = await make_company(db, [county])
        login = await make_account(db, "company", company_id=company.id)
        agent = await make_account(db, "agent", county=county.code)
        admin = await make_account(db, "admin")
        offered, accepted, started, finished, elsewhere = [
            await make_ticket(db, agent, county) for _ in range(5)
        ]
        d_offered = await service.dispatch_ticket(db, offered, company.id, agent)
        d_accepted = await service.dispatch_ticket(db, accepted, company.id, agent)
        await service.respond(db, d_accepted.id, "accept", login, "")
        d_started = await service.dispatch_ticket(db, started, company.id, agent)
        await service.respond(db, d_started.id, "accept", login, "")
        await service.respond(db, d_started.id, "start", login, "")
        d_finished = await service.dispatch_ticket(db, finished, company.id, agent)
        await service.respond(db, d_finished.id, "accept", login, "")
        await service.respond(db, d_finished.id, "finish", login, "Fixed")
        d_other = await service.dispatch_ticket(db, elsewhere, other.id, agent)

        done = await suspension.review(db, company, "suspend", "Licence <expired>", admin)

        assert company.status == "suspended"
        assert [d.id for d in done.withdrawn] == [d_offered.id, d_accepted.id, d_started.id]
        for dispatch, ticket in [
            (d_offered, offered),
            (d_accepted, accepted),
            (d_started, started),
        ]:
            assert dispatch.status == "withdrawn" and ticket.status == "declined"
            event = await db.scalar(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id)
                .order_by(TicketEvent.id.desc())
                .limit(1)
            )
            assert event.kind == "withdraw"
            assert event.note == "company suspended: Licence <expired>"
            assert event.actor_id == admin.id
        assert d_finished.status == "done" and finished.status == "done"  # finished work stays
        assert d_other.status == "offered" and elsewhere.status == "dispatched"
        told = (
            await db.scalars(
                select(Notification.dispatch_id).where(
                    Notification.event == "dispatch.withdrawn",
                    Notification.dispatch_id.in_([d_offered.id, d_accepted.id, d_started.id]),
                )
            )
        ).all()
        assert sorted(told) == sorted([d_offered.id, d_accepted.id, d_started.id])
        actions = (
            await db.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.actor_id == admin.id)
                .order_by(AuditEntry.id)
            )
        ).all()
        assert actions == ["company.suspend"] + ["dispatch.withdraw"] * 3
        await db.rollback()


async def test_other_reviews_take_nothing_back_and_a_refused_one_changes_nothing(
    session_factory,
):
    async with session_factory() as db:
        county = await make_county(db)
        company = await make_company(db, [county])
        agent = await make_account(db, "agent", county=county.code)
        admin = await make_account(db, "admin")
        ticket = await make_ticket(db, agent, county)
        dispatch = await service.dispatch_ticket(db, ticket, company.id, agent)
        with pytest.raises(ReviewRefused):  # approved already
            await suspension.review(db, company, "approve", "Looks fine", admin)
        assert dispatch.status == "offered"
        done = await suspension.review(db, company, "suspend", "Audit pending", admin)
        assert [d.id for d in done.withdrawn] == [dispatch.id]
        again = await suspension.review(db, company, "reinstate", "Audit passed", admin)
        assert again.withdrawn == [] and company.status == "approved"
        assert dispatch.status == "withdrawn"  # reinstating does not give the job back
        await db.rollback()
