"""Creating tickets from a call (the agent console) with validated references."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from cti.store import audit
from cti.store.base import utcnow
from cti.store.calls import Call
from cti.store.catalog import ServiceCategory
from cti.store.citizens import Citizen
from cti.store.counties import UnknownCounty, county_id_by_code
from cti.store.tickets import Ticket, TicketStatus, format_ticket_number
from cti.store.users import User

MAX_DESCRIPTION = 5000


class TicketError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


async def call_id_for(db: AsyncSession, node: str, linkedid: str) -> int:
    """The call row for (node, linkedid), created as a placeholder when the AGI writer has
    not committed it yet; the writer's upsert fills it in later (same unique key)."""
    await db.execute(
        insert(Call)
        .values(node=node, linkedid=linkedid, uniqueid=linkedid)
        .on_conflict_do_nothing(index_elements=[Call.node, Call.linkedid])
    )
    return (
        await db.scalars(select(Call.id).where(Call.node == node, Call.linkedid == linkedid))
    ).one()


async def create_ticket(
    db: AsyncSession,
    *,
    author: User,
    category_code: str,
    description: str,
    citizen_id: int | None = None,
    county_code: str | None = None,
    call: tuple[str, str] | None = None,
) -> Ticket:
    """Validate and add a ticket with the next human-readable number (caller commits)."""
    description = description.strip()
    if not description:
        raise TicketError("description", "describe what the citizen needs")
    if len(description) > MAX_DESCRIPTION:
        raise TicketError("description", f"at most {MAX_DESCRIPTION} characters")
    if "\x00" in description:
        raise TicketError("description", "must not contain NUL characters")
    category = await db.scalar(
        select(ServiceCategory).where(ServiceCategory.code == category_code, ServiceCategory.active)
    )
    if category is None:
        raise TicketError("category", f"unknown service category {category_code[:64]!r}")
    if citizen_id is not None and await db.get(Citizen, citizen_id) is None:
        raise TicketError("citizen_id", f"no citizen {citizen_id}")
    try:
        county_id = await county_id_by_code(db, county_code)
    except UnknownCounty as e:
        raise TicketError("county", str(e)) from None
    call_id = await call_id_for(db, *call) if call else None
    seq = await db.scalar(text("SELECT nextval('ticket_number_seq')"))
    ticket = Ticket(
        number=format_ticket_number(utcnow().year, seq),
        citizen_id=citizen_id,
        call_id=call_id,
        category_id=category.id,
        county_id=county_id,
        status=TicketStatus.OPEN.value,
        description=description,
        author_id=author.id,
    )
    db.add(ticket)
    await db.flush()
    audit.record(
        db,
        actor_id=author.id,
        actor_name=author.username,
        action="ticket.create",
        object_type="ticket",
        object_id=ticket.number,
        detail={"category": category_code, "citizen_id": citizen_id, "call_id": call_id},
    )
    return ticket
