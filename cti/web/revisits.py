"""Revisits and callbacks: the ``/revisits`` page, click-to-call (AMI ``Originate`` through
``cti.revisits``), the agent's call in progress, claiming a callback request, and recording
what the citizen said on a revisit.

The number dialled is never taken from a request: it is the ticket's citizen's phone
(chosen by its position among the citizen's own phones) or the callback request's number;
the agent's phone is the account's. Only agents place calls (they have a phone).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from cti.revisits import calls, queue
from cti.revisits.dialer import request_dial
from cti.revisits.originate import OriginateRefused
from cti.revisits.results import MAX_COMMENT, RevisitView, record_revisit
from cti.store.counties import County, UnknownCounty, county_id_by_code
from cti.store.users import Role
from cti.tickets.lifecycle import TransitionRefused
from cti.tickets.service import TicketError
from cti.web.deps import AgentUser, DbSession, RequireRole, client_ip
from cti.web.errors import Conflict, Invalid, NotFound, documented
from cti.web.sessions import AuthContext

router = APIRouter()

Desk = Annotated[AuthContext, Depends(RequireRole(Role.AGENT, Role.SUPERVISOR, Role.ADMIN))]
#: Who records what a citizen said (on our call, or when the citizen called in).
Recorder = Annotated[AuthContext, Depends(RequireRole(Role.AGENT, Role.SUPERVISOR))]
#: A claim is given back by its agent, or by a supervisor when the agent is gone.
Releaser = Recorder
TicketNumber = Annotated[str, Path(min_length=1, max_length=24, pattern=r"^[A-Za-z0-9-]+$")]
RequestId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CountyCode = Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class RevisitCallIn(BaseModel):
    #: Which of the citizen's own phone numbers (0: the first, in the order they were added).
    phone: int = Field(default=0, ge=0, le=50)


class RevisitIn(BaseModel):
    satisfaction: int = Field(ge=1, le=5)
    service_done: bool
    complaint: bool = False
    # Checked again (precisely) by the service; this bounds the request body.
    comment: str = Field(default="", max_length=MAX_COMMENT + 1000)


class CurrentCallOut(BaseModel):
    #: The call in progress, else the agent's latest call; None when there was none.
    call: calls.OutboundView | None


class ClaimOut(BaseModel):
    id: int
    claimed_by: str
    claimed_minutes: int = Field(description="the claim may be taken over after this long")


class ReleaseOut(BaseModel):
    id: int
    claimed_by: None = Field(default=None, description="nobody holds the request now")


def _node(request: Request) -> str:
    nodes = request.app.state.settings.ami_nodes
    if not nodes:
        raise Conflict("click-to-call is off: no Asterisk manager (CTI_AMI_URL) is configured")
    return nodes[0].name


async def _county(db: DbSession, code: str | None) -> int | None:
    try:
        return await county_id_by_code(db, code)
    except UnknownCounty as e:
        raise Invalid(f"no county {e.code!r}", fields={"county": "unknown county"}) from None


@router.get(
    "/api/revisits",
    summary="Tickets waiting for their revisit call, oldest done first",
    responses=documented(Invalid),
)
async def list_waiting(ctx: Desk, db: DbSession, county: CountyCode = None) -> list[queue.Waiting]:
    """The user's county's done tickets (centre-wide staff: every county, or ``county``)."""
    return await queue.waiting(db, ctx.user, await _county(db, county))


async def _dial(
    request: Request, db: DbSession, ctx: AuthContext, view: calls.OutboundView, node: str
) -> calls.OutboundView:
    """Commit the row, then have it dialled; answer with the row as it is then."""
    await db.commit()
    await request_dial(request.app.state, view.id, node)
    current = await calls.current_call(db, ctx.user)
    await db.commit()
    return current or view


@router.post(
    "/api/tickets/{number}/revisit-call",
    status_code=202,
    summary="Call the ticket's citizen from the agent's phone (click-to-call)",
    responses=documented(NotFound, Conflict, Invalid),
)
async def revisit_call(
    number: TicketNumber, body: RevisitCallIn, ctx: AgentUser, db: DbSession, request: Request
) -> calls.OutboundView:
    """Rings the agent's own phone; once answered, Asterisk dials the citizen through the
    ``[revisit]`` context. 409 when the agent already has a call in progress."""
    node = _node(request)
    try:
        view = await calls.start_revisit_call(
            db,
            ctx.user,
            number,
            body.phone,
            node,
            request.app.state.settings.number_plan,
            ip=client_ip(request),
        )
    except LookupError:
        raise NotFound(f"no ticket {number}") from None
    except calls.CallInProgress as exc:
        raise Conflict(str(exc)) from None
    except calls.NotCallable as exc:
        raise Conflict(str(exc)) from None
    except OriginateRefused as exc:
        raise Invalid(str(exc), fields={exc.field: str(exc)}) from None
    return await _dial(request, db, ctx, view, node)


@router.get(
    "/api/outbound-calls/current",
    summary="The agent's call in progress (or latest call) and its state",
)
async def current(ctx: AgentUser, db: DbSession) -> CurrentCallOut:
    view = await calls.current_call(db, ctx.user)
    await db.commit()  # stale calls settled
    return CurrentCallOut(call=view)


@router.post(
    "/api/tickets/{number}/revisit",
    status_code=201,
    summary="Record what the citizen said on the revisit; closes or reopens the ticket",
    responses=documented(NotFound, Conflict, Invalid),
)
async def revisit_result(
    number: TicketNumber, body: RevisitIn, ctx: Recorder, db: DbSession, request: Request
) -> RevisitView:
    """One transaction: the Revisit row, ``revisit``, then ``close`` (service done, no
    complaint) or ``complain`` (reopened). Works without a call too (the citizen called in)."""
    ticket = await calls.ticket_in_scope(db, ctx.user, number)
    if ticket is None:
        raise NotFound(f"no ticket {number}")
    try:
        view = await record_revisit(
            db,
            ctx.user,
            ticket,
            satisfaction=body.satisfaction,
            service_done=body.service_done,
            complaint=body.complaint,
            comment=body.comment,
            ip=client_ip(request),
        )
    except TicketError as exc:
        await db.rollback()
        raise Invalid(str(exc), fields={exc.field: str(exc)}) from None
    except TransitionRefused as exc:
        await db.rollback()
        raise Conflict(str(exc)) from None
    await db.commit()
    return view


@router.post(
    "/api/callbacks/{request_id}/claim",
    summary="Claim a callback request: nobody else dials this citizen meanwhile",
    responses=documented(NotFound, Conflict),
)
async def claim(request_id: RequestId, ctx: AgentUser, db: DbSession, request: Request) -> ClaimOut:
    """Exactly one of two agents claiming at once wins; a claim older than
    ``CLAIM_MINUTES`` may be taken over. Claiming again refreshes one's own claim."""
    try:
        await calls.claim_callback(db, ctx.user, request_id, ip=client_ip(request))
    except LookupError:
        raise NotFound(f"no callback request {request_id}") from None
    except calls.ClaimTaken as exc:
        await db.rollback()
        raise Conflict(str(exc)) from None
    await db.commit()
    return ClaimOut(
        id=request_id, claimed_by=ctx.user.username, claimed_minutes=calls.CLAIM_MINUTES
    )


@router.delete(
    "/api/callbacks/{request_id}/claim",
    summary="Give a claim back: another agent may call the citizen now",
    responses=documented(NotFound, Conflict),
)
async def release(
    request_id: RequestId, ctx: Releaser, db: DbSession, request: Request
) -> ReleaseOut:
    """The agent who holds the claim, or a supervisor of the request's county; not while
    the citizen is being called back."""
    try:
        await calls.release_callback(db, ctx.user, request_id, ip=client_ip(request))
    except LookupError:
        raise NotFound(f"no callback request {request_id}") from None
    except calls.ClaimTaken as exc:
        await db.rollback()
        raise Conflict(str(exc)) from None
    await db.commit()
    return ReleaseOut(id=request_id)


@router.post(
    "/api/callbacks/{request_id}/call",
    status_code=202,
    summary="Call back the citizen of a request you claimed (click-to-call)",
    responses=documented(NotFound, Conflict, Invalid),
)
async def callback_call(
    request_id: RequestId, ctx: AgentUser, db: DbSession, request: Request
) -> calls.OutboundView:
    node = _node(request)
    try:
        view = await calls.start_callback_call(
            db,
            ctx.user,
            request_id,
            node,
            request.app.state.settings.number_plan,
            ip=client_ip(request),
        )
    except LookupError:
        raise NotFound(f"no callback request {request_id}") from None
    except (calls.CallInProgress, calls.NotCallable) as exc:
        await db.rollback()
        raise Conflict(str(exc)) from None
    except OriginateRefused as exc:
        await db.rollback()
        raise Invalid(str(exc), fields={exc.field: str(exc)}) from None
    return await _dial(request, db, ctx, view, node)


@router.get(
    "/revisits",
    response_class=HTMLResponse,
    tags=["pages"],
    summary="Revisits: done tickets to call back, and callback requests (page)",
    responses=documented(Invalid),
)
async def revisits_page(
    request: Request, ctx: Desk, db: DbSession, county: CountyCode = None
) -> Response:
    county_id = await _county(db, county)
    counties = (
        []
        if ctx.user.county_id is not None
        else [
            tuple(r)
            for r in await db.execute(select(County.code, County.name).order_by(County.code))
        ]
    )
    context: dict[str, Any] = {
        "user": ctx.user,
        "csrf_token": ctx.csrf_token,
        "tickets": await queue.waiting(db, ctx.user, county_id),
        "callbacks": await queue.open_callbacks(db, ctx.user, county_id),
        "counties": counties,
        "county": county or "",
        "can_call": ctx.user.role == Role.AGENT.value and bool(ctx.user.interface),
        "can_release": ctx.user.role in (Role.AGENT.value, Role.SUPERVISOR.value),
        "can_record": ctx.user.role in (Role.AGENT.value, Role.SUPERVISOR.value),
        "claim_minutes": calls.CLAIM_MINUTES,
    }
    return request.app.state.templates.TemplateResponse(request, "revisits.html", context)
