"""A ticket's status for the citizen, by ticket number and phone number together.

Nothing is read about a ticket unless both match: one query finds the ticket whose number
is the one given *and* whose citizen has the phone given, so "no such ticket" and "wrong
phone" are the same query with the same empty answer. What is shown is public: the status,
the service, the dates, the company's name once it has the job, and the status moves
(never notes, never who at the centre did what).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.store.catalog import ServiceCategory
from cti.store.citizens import CitizenPhone
from cti.store.companies import Company, Dispatch, DispatchStatus
from cti.store.tickets import Ticket, TicketEvent

TICKET_PATTERN = re.compile(r"T[0-9]{4}-[0-9]{6,12}")
#: The dispatches whose company the citizen is told of (it has, or had, the job).
SHOWN_DISPATCHES = (
    DispatchStatus.OFFERED.value,
    DispatchStatus.ACCEPTED.value,
    DispatchStatus.IN_SERVICE.value,
    DispatchStatus.DONE.value,
)


@dataclass(frozen=True, slots=True)
class PublicEvent:
    at: datetime
    status: str


@dataclass(frozen=True, slots=True)
class PublicStatus:
    number: str
    status: str
    category: str | None
    created_at: datetime
    updated_at: datetime
    company: str | None
    events: tuple[PublicEvent, ...]


def ticket_number(raw: str) -> str:
    """The ticket number as we print it (upper case, no spaces), or "" when it is not
    one."""
    value = raw.strip().upper().replace(" ", "")
    return value if TICKET_PATTERN.fullmatch(value) else ""


def is_public(event: TicketEvent) -> bool:
    """A creation or a change of status: what the citizen may see of the timeline."""
    return event.kind == "create" or (
        event.from_status is not None and event.from_status != event.to_status
    )


async def lookup(db: AsyncSession, number: str, phone: str) -> PublicStatus | None:
    """The status of ticket ``number`` when its citizen has the (normalised) ``phone``;
    None otherwise, whichever of the two did not match. An empty ``number`` or ``phone``
    (not a ticket number, not a phone number) runs the same query, which finds nothing."""
    ticket = await db.scalar(
        select(Ticket)
        .join(CitizenPhone, CitizenPhone.citizen_id == Ticket.citizen_id)
        .where(Ticket.number == number, CitizenPhone.number == phone)
        .limit(1)
    )
    if ticket is None:
        return None
    category = (
        await db.scalar(
            select(ServiceCategory.name).where(ServiceCategory.id == ticket.category_id)
        )
        if ticket.category_id is not None
        else None
    )
    company = await db.scalar(
        select(Company.name)
        .join(Dispatch, Dispatch.company_id == Company.id)
        .where(Dispatch.ticket_id == ticket.id, Dispatch.status.in_(SHOWN_DISPATCHES))
        .order_by(Dispatch.dispatched_at.desc(), Dispatch.id.desc())
        .limit(1)
    )
    events = await db.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id)
        .order_by(TicketEvent.at, TicketEvent.id)
    )
    return PublicStatus(
        number=ticket.number,
        status=ticket.status,
        category=category,
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        company=company,
        events=tuple(PublicEvent(e.at, e.to_status) for e in events if is_public(e)),
    )
