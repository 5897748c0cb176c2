"""Tickets in the database: creating them with validated references, moving them through
the lifecycle (:mod:`cti.tickets.lifecycle` decides, this writes the event), and notes.

Every change to a ticket's status is written together with its :class:`TicketEvent`;
nothing here commits (the caller's transaction holds the change and its event together).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from cti.knowledge import answers
from cti.sms import outbox as sms_outbox
from cti.store import audit
from cti.store.base import utcnow
from cti.store.calls import Call
from cti.store.catalog import ServiceCategory
from cti.store.citizens import Citizen
from cti.store.counties import UnknownCounty, county_id_by_code
from cti.store.tickets import (
    Channel,
    Priority,
    Ticket,
    TicketEvent,
    TicketStatus,
    format_ticket_number,
)
from cti.store.users import User
from cti.tickets import lifecycle

MAX_DESCRIPTION = 5000
MAX_NOTE = 5000
MAX_ADDRESS = 500


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
    channel: str = Channel.PHONE.value,
    priority: str = Priority.NORMAL.value,
    address: str | None = None,
    preferred_start: datetime | None = None,
    preferred_end: datetime | None = None,
    complaint_of: Ticket | None = None,
    subcategory_code: str | None = None,
) -> Ticket:
    """Validate and add a ticket with the next human-readable number, and its ``create``
    event (caller commits). ``category_code`` names a top-level category or an item under
    one (then both are kept); ``subcategory_code``, when given, names an item under the
    top-level ``category_code``. A complaint ticket names the ticket it is about. The
    author owns the new ticket ("my tickets")."""
    description = clean_text("description", description, MAX_DESCRIPTION, required=True)
    address = clean_text("address", address or "", MAX_ADDRESS) or None
    if channel not in {c.value for c in Channel}:
        raise TicketError("channel", f"channel is one of {', '.join(c.value for c in Channel)}")
    if priority not in {p.value for p in Priority}:
        raise TicketError("priority", f"priority is one of {', '.join(p.value for p in Priority)}")
    for field, value in (("preferred_start", preferred_start), ("preferred_end", preferred_end)):
        if value is not None and value.tzinfo is None:
            raise TicketError(field, "give a time with its UTC offset")
    if preferred_start and preferred_end and preferred_end <= preferred_start:
        raise TicketError("preferred_end", "the preferred window must end after it starts")
    category = await db.scalar(
        select(ServiceCategory).where(ServiceCategory.code == category_code, ServiceCategory.active)
    )
    if category is None:
        raise TicketError("category", f"unknown service category {category_code[:64]!r}")
    top_id, sub_id = (
        (category.id, None) if category.parent_id is None else (category.parent_id, category.id)
    )
    if subcategory_code:
        sub = await db.scalar(
            select(ServiceCategory).where(
                ServiceCategory.code == subcategory_code, ServiceCategory.active
            )
        )
        if sub is None or sub.parent_id is None or sub.parent_id != top_id:
            raise TicketError(
                "subcategory",
                f"{subcategory_code[:64]!r} is not an item of the category {category_code[:64]!r}",
            )
        if sub_id is not None and sub_id != sub.id:
            raise TicketError("subcategory", "the category already names another item")
        sub_id = sub.id
    if citizen_id is not None and await db.get(Citizen, citizen_id) is None:
        raise TicketError("citizen_id", f"no citizen {citizen_id}")
    try:
        county_id = await county_id_by_code(db, county_code, for_new=True)
    except UnknownCounty as e:
        raise TicketError("county", str(e)) from None
    call_id = await call_id_for(db, *call) if call else None
    seq = await db.scalar(text("SELECT nextval('ticket_number_seq')"))
    ticket = Ticket(
        number=format_ticket_number(utcnow().year, seq),
        citizen_id=citizen_id,
        call_id=call_id,
        category_id=top_id,
        subcategory_id=sub_id,
        county_id=county_id,
        status=TicketStatus.NEW.value,
        channel=channel,
        priority=priority,
        description=description,
        address=address,
        preferred_start=preferred_start,
        preferred_end=preferred_end,
        author_id=author.id,
        owner_id=author.id,
        complaint_of_id=complaint_of.id if complaint_of is not None else None,
    )
    db.add(ticket)
    await db.flush()
    db.add(_event(ticket, "create", author, None, TicketStatus.NEW.value, ""))
    sms_outbox.ticket_created(db, ticket)  # the citizen is texted the number (any channel)
    audit.record(
        db,
        actor_id=author.id,
        actor_name=author.username,
        action="ticket.create",
        object_type="ticket",
        object_id=ticket.number,
        detail={
            "category": category_code,
            "citizen_id": citizen_id,
            "call_id": call_id,
            "complaint_of": complaint_of.number if complaint_of is not None else None,
        },
    )
    return ticket


def clean_text(field: str, value: str, limit: int, *, required: bool = False) -> str:
    """``value`` stripped, checked for length and NUL (Postgres refuses NUL in text); kept
    verbatim otherwise (shown as text, never as markup)."""
    value = value.strip()
    if required and not value:
        raise TicketError(field, "describe what the citizen needs")
    if len(value) > limit:
        raise TicketError(field, f"at most {limit} characters")
    if "\x00" in value:
        raise TicketError(field, "must not contain NUL characters")
    return value


def _event(
    ticket: Ticket,
    kind: str,
    actor: User,
    from_status: str | None,
    to_status: str,
    note: str,
) -> TicketEvent:
    return TicketEvent(
        ticket_id=ticket.id,
        at=utcnow(),
        kind=kind,
        actor_id=actor.id,
        actor_name=actor.display_name or actor.username,
        actor_role=actor.role,
        company_id=actor.company_id,
        from_status=from_status,
        to_status=to_status,
        note=note,
    )


async def transition(
    db: AsyncSession,
    ticket: Ticket,
    action: lifecycle.Action | str,
    actor: User,
    note: str = "",
    *,
    article_id: int | None = None,
) -> TicketEvent:
    """Move ``ticket`` as ``action`` does when ``actor`` takes it, and write the event.

    Raises :class:`lifecycle.TransitionRefused` (nothing changed) when the lifecycle does
    not allow it; the row is locked first so two concurrent moves cannot both pass the
    check from the same state. An answer may name the knowledge article it was given
    from (``article_id``): recorded with the event, and said in its note."""
    note = clean_text("note", note, MAX_NOTE)
    await db.flush()  # the refresh below would drop changes not flushed yet
    await db.refresh(ticket, with_for_update=True)
    before = ticket.status
    after = lifecycle.decide(action, before, actor.role)
    cited = None
    if article_id is not None:
        if lifecycle.Action(action) not in lifecycle.CITES_ARTICLE:
            raise TicketError("article", "only an answer is given with an article")
        cited = await answers.article(db, article_id)
        if cited is None:
            raise TicketError("article", f"no knowledge article {article_id}")
        note = f"{note}\n{answers.event_note(cited)}" if note else answers.event_note(cited)
    ticket.status = after.value
    ticket.closed_at = utcnow() if after in lifecycle.FINAL else None
    if note:
        _append_note(ticket, note)
    event = _event(ticket, lifecycle.Action(action).value, actor, before, after.value, note)
    db.add(event)
    if after is TicketStatus.DONE:
        sms_outbox.ticket_done(db, ticket)  # the revisit question, answered 1-5 by text
    await db.flush()
    if cited is not None:
        answers.record(db, ticket, event, cited)
        await db.flush()
    return event


async def add_note(
    db: AsyncSession, ticket: Ticket, actor: User, note: str, *, kind: str = "note"
) -> TicketEvent:
    """A note on the ticket (no change of status), searchable with its description."""
    note = clean_text("note", note, MAX_NOTE, required=False)
    if not note:
        raise TicketError("note", "write the note")
    _append_note(ticket, note)
    event = _event(ticket, kind, actor, ticket.status, ticket.status, note)
    db.add(event)
    await db.flush()
    return event


def _append_note(ticket: Ticket, note: str) -> None:
    ticket.notes_text = f"{ticket.notes_text}\n{note}" if ticket.notes_text else note
