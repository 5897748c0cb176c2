"""Tickets API: agents write them from the console; the centre's staff read them, move them
through the lifecycle and write notes on them.

A ticket outside the caller's scope (``cti.tickets.access``) answers 404 like a missing
one. Moves that need more than a status change (dispatching to a company, the company's
answers, the revisit call) are refused here with the route that does them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from cti.dispatch.service import auto_dispatch
from cti.knowledge import answers
from cti.store import audit
from cti.store.tickets import Channel, Priority, Ticket
from cti.tickets import access, lifecycle, read
from cti.tickets.service import (
    MAX_ADDRESS,
    MAX_DESCRIPTION,
    MAX_NOTE,
    TicketError,
    add_note,
    create_ticket,
    transition,
)
from cti.tickets.timeline import Entry
from cti.web.deps import AgentUser, DbSession, RequireRole
from cti.web.errors import Conflict, Invalid, NotFound, documented
from cti.web.recordings.shared import scope_of as recording_scope_of
from cti.web.sessions import AuthContext

router = APIRouter(prefix="/api")

Reader = Annotated[AuthContext, Depends(RequireRole(*access.READERS))]
Writer = Annotated[AuthContext, Depends(RequireRole(*access.WRITERS))]
TicketNumber = Annotated[str, Path(min_length=1, max_length=24, pattern=r"^[A-Za-z0-9-]+$")]

#: The moves done elsewhere, and where: they need more than a status change.
ELSEWHERE: dict[str, str] = {
    lifecycle.Action.DISPATCH: "dispatching picks a company and sets its deadlines: "
    "use POST /api/tickets/{number}/dispatch",
    lifecycle.Action.WITHDRAW: "taking a ticket back from its company ends the dispatch: "
    "use POST /api/dispatches/{{dispatch_id}}/withdraw",
    lifecycle.Action.ACCEPT: "the company accepts in its portal (/portal) or with "
    "POST /api/company/jobs/{{id}}/accept",
    lifecycle.Action.DECLINE: "the company declines in its portal (/portal) or with "
    "POST /api/company/jobs/{{id}}/decline",
    lifecycle.Action.START: "the company starts the work in its portal (/portal) or with "
    "POST /api/company/jobs/{{id}}/start",
    lifecycle.Action.FINISH: "the company finishes the work in its portal (/portal) or with "
    "POST /api/company/jobs/{{id}}/finish",
    lifecycle.Action.REVISIT: "a revisit records what the citizen said: "
    "use POST /api/tickets/{number}/revisit (or /revisits)",
}
#: What this API does itself.
HERE = tuple(a for a in lifecycle.Action if a.value not in ELSEWHERE)


class CallRef(BaseModel):
    node: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    linkedid: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class TicketCreate(BaseModel):
    category: str = Field(max_length=64, description="a catalogue code: category or item")
    subcategory: str | None = Field(
        default=None, max_length=64, description="an item under the category (its code)"
    )
    description: str = Field(max_length=MAX_DESCRIPTION + 100)
    citizen_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    county: str | None = Field(default=None, max_length=32)
    call: CallRef | None = None
    channel: Channel = Channel.PHONE
    priority: Priority = Priority.NORMAL
    address: str | None = Field(default=None, max_length=MAX_ADDRESS + 100)
    preferred_start: datetime | None = Field(default=None, description="with its UTC offset")
    preferred_end: datetime | None = Field(default=None, description="with its UTC offset")
    complaint_of: str | None = Field(
        default=None, max_length=24, description="the number of the ticket complained about"
    )


class TicketOut(BaseModel):
    number: str
    status: str
    citizen_id: int | None
    call_id: int | None


class RecordingOut(BaseModel):
    id: int
    duration_ms: int
    playable: bool
    audio_url: str | None


class EntryOut(BaseModel):
    at: datetime | None
    kind: str
    title: str
    actor: str
    note: str
    facts: dict[str, str]
    recordings: list[RecordingOut]


class AnsweredWith(BaseModel):
    article_id: int
    version: int
    title: str
    answered_at: datetime


class TicketDetail(BaseModel):
    number: str
    status: str
    channel: str
    priority: str
    category: str | None
    subcategory: str | None
    county: str | None
    citizen_id: int | None
    citizen_name: str | None
    call_id: int | None
    description: str
    address: str | None
    preferred_start: datetime | None
    preferred_end: datetime | None
    owner: str | None
    author: str | None
    complaint_of: str | None
    complaints: list[str]
    created_at: datetime
    closed_at: datetime | None
    actions: list[str] = Field(description="what the caller may do to it now")
    answered_with: list[AnsweredWith] = Field(
        default=[], description="the knowledge articles its answers were given from"
    )
    timeline: list[EntryOut]


class TransitionIn(BaseModel):
    action: str = Field(max_length=32)
    note: str = Field(default="", max_length=MAX_NOTE + 100)
    article_id: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="answer only: the knowledge article the answer was given from",
    )


class NoteIn(BaseModel):
    note: str = Field(max_length=MAX_NOTE + 100)


class EventOut(BaseModel):
    ticket: str
    kind: str
    from_status: str | None
    to_status: str
    note: str
    at: datetime


def entry_out(entry: Entry) -> EntryOut:
    return EntryOut(
        at=entry.at,
        kind=entry.kind,
        title=entry.title,
        actor=entry.actor,
        note=entry.note,
        facts=dict(entry.facts),
        recordings=[
            RecordingOut(
                id=r.id,
                duration_ms=r.duration_ms,
                playable=r.playable,
                audio_url=f"/api/recordings/{r.id}/audio" if r.playable else None,
            )
            for r in entry.recordings
        ],
    )


def page_actions(ticket: Ticket, role: str) -> list[str]:
    """The lifecycle's actions for ``role`` that this API does (the page's buttons)."""
    return [a.value for a in lifecycle.actions_for(ticket.status, role) if a in HERE]


async def _ticket(db: DbSession, ctx: AuthContext, number: str, *, lock: bool = False) -> Ticket:
    ticket = await read.visible_ticket(db, ctx.user, number, lock=lock)
    if ticket is None:
        raise NotFound(f"no ticket {number}")
    return ticket


@router.post("/tickets", status_code=201, summary="Create a ticket", responses=documented(Invalid))
async def create(body: TicketCreate, ctx: AgentUser, db: DbSession) -> TicketOut:
    complaint_of = None
    if body.complaint_of:
        complaint_of = await read.visible_ticket(db, ctx.user, body.complaint_of)
        if complaint_of is None:
            raise Invalid(
                "no such ticket to complain about",
                fields={"complaint_of": f"no ticket {body.complaint_of}"},
            )
    try:
        ticket = await create_ticket(
            db,
            author=ctx.user,
            category_code=body.category,
            subcategory_code=body.subcategory or None,
            description=body.description,
            citizen_id=body.citizen_id,
            county_code=body.county,
            call=(body.call.node, body.call.linkedid) if body.call else None,
            channel=body.channel.value,
            priority=body.priority.value,
            address=body.address,
            preferred_start=body.preferred_start,
            preferred_end=body.preferred_end,
            complaint_of=complaint_of,
        )
    except TicketError as exc:
        raise Invalid(str(exc), fields={exc.field: str(exc)}) from None
    # A county that offers work automatically: to the first suggested company, now.
    await auto_dispatch(db, ticket, ctx.user)
    await db.commit()
    return TicketOut(
        number=ticket.number,
        status=ticket.status,
        citizen_id=ticket.citizen_id,
        call_id=ticket.call_id,
    )


@router.get(
    "/tickets/{number}",
    summary="A ticket with its timeline (events, calls, dispatches, revisits)",
    responses=documented(NotFound),
)
async def get_ticket(number: TicketNumber, ctx: Reader, db: DbSession) -> TicketDetail:
    ticket = await _ticket(db, ctx, number)
    return await detail(db, ctx, ticket)


async def detail(db: DbSession, ctx: AuthContext, ticket: Ticket) -> TicketDetail:
    facts = await read.facts(db, ticket)
    entries = await read.load_timeline(db, ticket, recording_scope_of(ctx.user))
    return TicketDetail(
        number=ticket.number,
        status=ticket.status,
        channel=ticket.channel,
        priority=ticket.priority,
        description=ticket.description,
        address=ticket.address,
        preferred_start=ticket.preferred_start,
        preferred_end=ticket.preferred_end,
        citizen_id=ticket.citizen_id,
        call_id=ticket.call_id,
        created_at=ticket.created_at,
        closed_at=ticket.closed_at,
        actions=page_actions(ticket, ctx.user.role),
        answered_with=[
            AnsweredWith(
                article_id=c.article_id, version=c.version, title=c.title, answered_at=c.answered_at
            )
            for c in await answers.cited_by(db, ticket.id)
        ],
        timeline=[entry_out(e) for e in entries],
        **facts,
    )


@router.post(
    "/tickets/{number}/transitions",
    status_code=201,
    summary="Move a ticket: answer, close, complain (reopen) or cancel",
    responses=documented(NotFound, Conflict, Invalid),
)
async def move(number: TicketNumber, body: TransitionIn, ctx: Writer, db: DbSession) -> EventOut:
    if body.action not in {a.value for a in lifecycle.Action}:
        raise Invalid(
            f"not a ticket action: {body.action[:32]!r}",
            fields={"action": f"one of {', '.join(a.value for a in HERE)}"},
        )
    ticket = await _ticket(db, ctx, number, lock=True)
    if body.action in ELSEWHERE:
        raise Conflict(f"not done here: {ELSEWHERE[body.action].format(number=ticket.number)}")
    try:
        event = await transition(
            db, ticket, body.action, ctx.user, body.note, article_id=body.article_id
        )
    except TicketError as exc:
        raise Invalid(str(exc), fields={exc.field: str(exc)}) from None
    except lifecycle.TransitionRefused as exc:
        raise Conflict(str(exc)) from None
    audit.record(
        db,
        actor_id=ctx.user.id,
        actor_name=ctx.user.username,
        action=f"ticket.{event.kind}",
        object_type="ticket",
        object_id=ticket.number,
        detail={"from": event.from_status, "to": event.to_status}
        | ({"article_id": body.article_id} if body.article_id else {}),
    )
    await db.commit()
    return _event_out(ticket, event)


@router.post(
    "/tickets/{number}/notes",
    status_code=201,
    summary="Write a note on a ticket (searchable with its description)",
    responses=documented(NotFound, Invalid),
)
async def note(number: TicketNumber, body: NoteIn, ctx: Writer, db: DbSession) -> EventOut:
    ticket = await _ticket(db, ctx, number, lock=True)
    try:
        event = await add_note(db, ticket, ctx.user, body.note)
    except TicketError as exc:
        raise Invalid(str(exc), fields={exc.field: str(exc)}) from None
    await db.commit()
    return _event_out(ticket, event)


def _event_out(ticket: Ticket, event) -> EventOut:  # noqa: ANN001
    return EventOut(
        ticket=ticket.number,
        kind=event.kind,
        from_status=event.from_status,
        to_status=event.to_status,
        note=event.note,
        at=event.at,
    )
