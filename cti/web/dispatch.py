"""Dispatch API for the centre's desk: the companies suggested for a ticket (with why),
dispatching it to one, taking a dispatch back, and the overdue dispatches of a county.

Tickets are looked up within the caller's scope (:mod:`cti.tickets.access`): one outside
it answers 404 like a missing one. The companies answer their dispatches in their portal
and company API (``cti.dispatch.service.respond``), not here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from sqlalchemy import or_, select

from cti.dispatch import service
from cti.dispatch.eligibility import Suggestion, suggest
from cti.dispatch.errors import DispatchError, NotEligible, NotYours
from cti.store.companies import ACTIVE_DISPATCH_STATUSES, Company, Dispatch, DispatchStatus
from cti.store.counties import County
from cti.store.tickets import Ticket
from cti.store.users import Role
from cti.tickets import lifecycle, read
from cti.tickets.service import MAX_NOTE, TicketError
from cti.web.deps import DbSession, RequireRole
from cti.web.errors import Conflict, Invalid, NotFound, documented
from cti.web.sessions import AuthContext

router = APIRouter(prefix="/api")

Desk = Annotated[AuthContext, Depends(RequireRole(Role.AGENT, Role.SUPERVISOR, Role.ADMIN))]
Lead = Annotated[AuthContext, Depends(RequireRole(Role.SUPERVISOR, Role.ADMIN))]
TicketNumber = Annotated[str, Path(min_length=1, max_length=24, pattern=r"^[A-Za-z0-9-]+$")]
DispatchId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_ACTIVE = [s.value for s in ACTIVE_DISPATCH_STATUSES]


class FactsOut(BaseModel):
    revisits: int
    mean_satisfaction: float | None
    jobs_done: int
    done_in_time: int
    declines: int
    offered: int
    complaints_upheld: int


class SuggestionOut(BaseModel):
    company_id: int
    company: str
    rank: int
    reputation: float = Field(description="0-100; 50 is neutral (few facts lean to it)")
    reputation_why: str
    facts: FactsOut
    open_load: int = Field(description="its dispatches still offered, accepted or in service")
    why: str


class DispatchOut(BaseModel):
    id: int
    ticket: str
    company_id: int
    company: str
    status: str
    automatic: bool
    dispatched_at: datetime
    accept_by: datetime
    finish_by: datetime
    accepted_at: datetime | None
    declined_at: datetime | None
    decline_reason: str | None
    started_at: datetime | None
    done_at: datetime | None
    done_note: str | None
    withdrawn_at: datetime | None
    accept_late_flagged_at: datetime | None = Field(
        description="when the supervisors were told the company was late to accept"
    )
    finish_late_flagged_at: datetime | None = Field(
        description="when the supervisors were told the company was late to finish"
    )
    why: str | None = Field(description="why the company was suggested when it was chosen")


class SuggestionsOut(BaseModel):
    ticket: str
    status: str
    may_dispatch: bool = Field(description="the ticket's state and the caller's role allow it")
    may_withdraw: bool = Field(description="the caller may take the open dispatch back")
    active: DispatchOut | None = Field(description="the dispatch the ticket is with now")
    suggestions: list[SuggestionOut]


class DispatchIn(BaseModel):
    company_id: int = Field(ge=1, le=2**31 - 1)


class WithdrawIn(BaseModel):
    reason: str = Field(max_length=MAX_NOTE + 100)


class OverdueOut(BaseModel):
    dispatch: DispatchOut
    county: str | None
    late: str = Field(description="acceptance or completion")
    due_by: datetime


def suggestion_out(s: Suggestion) -> SuggestionOut:
    return SuggestionOut(
        company_id=s.company_id,
        company=s.name,
        rank=s.rank,
        reputation=s.reputation.score,
        reputation_why=s.reputation.explanation,
        facts=FactsOut(**s.reputation.facts.as_dict()),
        open_load=s.open_load,
        why=s.why,
    )


def dispatch_out(d: Dispatch, ticket_number: str, company_name: str) -> DispatchOut:
    reasons: dict[str, Any] = d.reasons or {}
    why = reasons.get("why")
    return DispatchOut(
        id=d.id,
        ticket=ticket_number,
        company_id=d.company_id,
        company=company_name,
        status=d.status,
        automatic=d.automatic,
        dispatched_at=d.dispatched_at,
        accept_by=d.accept_by,
        finish_by=d.finish_by,
        accepted_at=d.accepted_at,
        declined_at=d.declined_at,
        decline_reason=d.decline_reason,
        started_at=d.started_at,
        done_at=d.done_at,
        done_note=d.done_note,
        withdrawn_at=d.withdrawn_at,
        accept_late_flagged_at=d.accept_late_flagged_at,
        finish_late_flagged_at=d.finish_late_flagged_at,
        why=why if isinstance(why, str) else None,
    )


async def _ticket(db: DbSession, ctx: AuthContext, number: str) -> Ticket:
    ticket = await read.visible_ticket(db, ctx.user, number)
    if ticket is None:
        raise NotFound(f"no ticket {number}")
    return ticket


async def _company_name(db: DbSession, company_id: int) -> str:
    return await db.scalar(select(Company.name).where(Company.id == company_id)) or ""


@router.get(
    "/tickets/{number}/suggestions",
    summary="Companies that may take a ticket, best first, with why; and its open dispatch",
    responses=documented(NotFound),
)
async def suggestions(number: TicketNumber, ctx: Desk, db: DbSession) -> SuggestionsOut:
    ticket = await _ticket(db, ctx, number)
    active = await db.scalar(
        select(Dispatch).where(Dispatch.ticket_id == ticket.id, Dispatch.status.in_(_ACTIVE))
    )
    allowed = lifecycle.actions_for(ticket.status, ctx.user.role)
    return SuggestionsOut(
        ticket=ticket.number,
        status=ticket.status,
        may_dispatch=lifecycle.Action.DISPATCH in allowed,
        may_withdraw=active is not None and lifecycle.Action.WITHDRAW in allowed,
        active=dispatch_out(active, ticket.number, await _company_name(db, active.company_id))
        if active is not None
        else None,
        suggestions=[suggestion_out(s) for s in await suggest(db, ticket)],
    )


@router.post(
    "/tickets/{number}/dispatch",
    status_code=201,
    summary="Dispatch a ticket to a company (deadlines from the county; the company is told)",
    responses=documented(NotFound, Conflict, Invalid),
)
async def dispatch(number: TicketNumber, body: DispatchIn, ctx: Desk, db: DbSession) -> DispatchOut:
    ticket = await _ticket(db, ctx, number)
    try:
        row = await service.dispatch_ticket(db, ticket, body.company_id, ctx.user)
    except NotEligible as exc:
        raise Invalid(str(exc), fields={"company_id": str(exc)}) from None
    except lifecycle.TransitionRefused as exc:
        raise Conflict(str(exc)) from None
    except TicketError as exc:
        raise Invalid(str(exc), fields={exc.field: str(exc)}) from None
    await db.commit()
    return dispatch_out(row, ticket.number, await _company_name(db, row.company_id))


@router.post(
    "/dispatches/{dispatch_id}/withdraw",
    summary="Take a dispatch back from its company (the ticket can be dispatched again)",
    responses=documented(NotFound, Conflict, Invalid),
)
async def withdraw(
    dispatch_id: DispatchId, body: WithdrawIn, ctx: Lead, db: DbSession
) -> DispatchOut:
    try:
        row = await service.withdraw(db, dispatch_id, ctx.user, body.reason)
    except NotYours:
        raise NotFound(f"no dispatch {dispatch_id}") from None
    except (DispatchError, TicketError) as exc:
        raise Invalid(str(exc), fields={exc.field: str(exc)}) from None
    except lifecycle.TransitionRefused as exc:
        raise Conflict(str(exc)) from None
    ticket = await db.get(Ticket, row.ticket_id)
    await db.commit()
    assert ticket is not None
    return dispatch_out(row, ticket.number, await _company_name(db, row.company_id))


@router.get(
    "/dispatches/overdue",
    summary="Dispatches late to be accepted or finished, in the caller's county",
    responses=documented(),
)
async def overdue(ctx: Lead, db: DbSession) -> list[OverdueOut]:
    """Oldest deadline first; a county supervisor sees their county's, one without a
    county every county's."""
    now = datetime.now(UTC)
    late_accept = (Dispatch.status == DispatchStatus.OFFERED.value) & (Dispatch.accept_by < now)
    late_finish = Dispatch.status.in_(
        [DispatchStatus.ACCEPTED.value, DispatchStatus.IN_SERVICE.value]
    ) & (Dispatch.finish_by < now)
    query = (
        select(Dispatch, Ticket.number, Company.name, Ticket.county_id)
        .join(Ticket, Ticket.id == Dispatch.ticket_id)
        .join(Company, Company.id == Dispatch.company_id)
        .where(or_(late_accept, late_finish))
        .order_by(Dispatch.accept_by, Dispatch.id)
        .limit(500)
    )
    if ctx.user.county_id is not None:
        query = query.where(Ticket.county_id == ctx.user.county_id)
    codes = dict((await db.execute(select(County.id, County.code))).all())
    out = []
    for d, ticket_number, company_name, county_id in await db.execute(query):
        offered = d.status == DispatchStatus.OFFERED.value
        out.append(
            OverdueOut(
                dispatch=dispatch_out(d, ticket_number, company_name),
                county=codes.get(county_id),
                late="acceptance" if offered else "completion",
                due_by=d.accept_by if offered else d.finish_by,
            )
        )
    return out
