"""The revisit list: tickets done and not yet revisited, oldest first (by when their last
dispatch was done), per county; and the open callback requests with who claimed them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.store.callbacks import CallbackRequest, CallbackStatus
from cti.store.calls import Call
from cti.store.catalog import ServiceCategory
from cti.store.citizens import Citizen, CitizenPhone
from cti.store.companies import Company, Dispatch, DispatchStatus
from cti.store.counties import County
from cti.store.tickets import Ticket, TicketStatus
from cti.store.users import User

LIST_LIMIT = 200


@dataclass(frozen=True, slots=True)
class Waiting:
    ticket: str
    county: str | None
    citizen: str | None
    phones: int
    category: str | None
    company: str | None
    done_at: datetime | None
    description: str


@dataclass(frozen=True, slots=True)
class OpenCallback:
    id: int
    number: str
    caller_name: str | None
    county: str | None
    requested_at: datetime
    attempts: int
    claimed_by: str | None
    claimed_at: datetime | None


async def waiting(db: AsyncSession, user: User, county_id: int | None = None) -> list[Waiting]:
    """Done tickets of the user's county (centre-wide staff: all, or ``county_id``),
    oldest done first; a ticket done without a dispatch comes last."""
    last_done = (
        select(Dispatch.ticket_id, func.max(Dispatch.done_at).label("done_at"))
        .where(Dispatch.status == DispatchStatus.DONE.value)
        .group_by(Dispatch.ticket_id)
        .subquery()
    )
    company = (
        select(Company.name)
        .join(Dispatch, Dispatch.company_id == Company.id)
        .where(Dispatch.ticket_id == Ticket.id, Dispatch.status == DispatchStatus.DONE.value)
        .order_by(Dispatch.done_at.desc().nulls_last(), Dispatch.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    phones = (
        select(func.count(CitizenPhone.id))
        .where(CitizenPhone.citizen_id == Ticket.citizen_id)
        .scalar_subquery()
    )
    stmt = (
        select(
            Ticket.number,
            County.code,
            Citizen.name,
            phones,
            ServiceCategory.name,
            company,
            last_done.c.done_at,
            Ticket.description,
        )
        .outerjoin(last_done, last_done.c.ticket_id == Ticket.id)
        .outerjoin(County, County.id == Ticket.county_id)
        .outerjoin(Citizen, Citizen.id == Ticket.citizen_id)
        .outerjoin(ServiceCategory, ServiceCategory.id == Ticket.category_id)
        .where(Ticket.status == TicketStatus.DONE.value)
    )
    if user.county_id is not None:
        stmt = stmt.where(Ticket.county_id == user.county_id)
    elif county_id is not None:
        stmt = stmt.where(Ticket.county_id == county_id)
    stmt = stmt.order_by(last_done.c.done_at.asc().nulls_last(), Ticket.id).limit(LIST_LIMIT)
    return [Waiting(*row) for row in (await db.execute(stmt)).all()]


async def open_callbacks(
    db: AsyncSession, user: User, county_id: int | None = None
) -> list[OpenCallback]:
    """Open callback requests the user may work (a county's staff: theirs and those of no
    county), oldest first, with who holds a claim on each."""
    claimer = User.__table__.alias("claimer")
    stmt = (
        select(
            CallbackRequest.id,
            CallbackRequest.number,
            Call.caller_name,
            County.code,
            CallbackRequest.requested_at,
            CallbackRequest.attempts,
            claimer.c.username,
            CallbackRequest.claimed_at,
        )
        .join(Call, Call.id == CallbackRequest.call_id)
        .outerjoin(County, County.id == CallbackRequest.county_id)
        .outerjoin(claimer, claimer.c.id == CallbackRequest.claimed_by)
        .where(CallbackRequest.status == CallbackStatus.OPEN.value)
    )
    if user.county_id is not None:
        stmt = stmt.where(
            or_(CallbackRequest.county_id.is_(None), CallbackRequest.county_id == user.county_id)
        )
    elif county_id is not None:
        stmt = stmt.where(CallbackRequest.county_id == county_id)
    stmt = stmt.order_by(CallbackRequest.requested_at, CallbackRequest.id).limit(LIST_LIMIT)
    return [OpenCallback(*row) for row in (await db.execute(stmt)).all()]
