"""Tickets API (agents write them from the console)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from cti.tickets.service import MAX_DESCRIPTION, TicketError, create_ticket
from cti.web.deps import AgentUser, DbSession
from cti.web.errors import Invalid, documented

router = APIRouter(prefix="/api")


class CallRef(BaseModel):
    node: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    linkedid: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")


class TicketCreate(BaseModel):
    category: str = Field(max_length=64)
    description: str = Field(max_length=MAX_DESCRIPTION + 100)
    citizen_id: int | None = Field(default=None, ge=1)
    county: str | None = Field(default=None, max_length=32)
    call: CallRef | None = None


class TicketOut(BaseModel):
    number: str
    status: str
    citizen_id: int | None
    call_id: int | None


@router.post("/tickets", status_code=201, summary="Create a ticket", responses=documented(Invalid))
async def create(body: TicketCreate, ctx: AgentUser, db: DbSession) -> TicketOut:
    try:
        ticket = await create_ticket(
            db,
            author=ctx.user,
            category_code=body.category,
            description=body.description,
            citizen_id=body.citizen_id,
            county_code=body.county,
            call=(body.call.node, body.call.linkedid) if body.call else None,
        )
    except TicketError as exc:
        raise Invalid(str(exc), fields={exc.field: str(exc)}) from None
    await db.commit()
    return TicketOut(
        number=ticket.number,
        status=ticket.status,
        citizen_id=ticket.citizen_id,
        call_id=ticket.call_id,
    )
