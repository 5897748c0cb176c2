"""Outbound calls in Postgres: starting a click-to-call (the row is written before the
Originate is sent), an agent's call in progress, its state changes, and callback claims.

Nothing here talks to Asterisk: :mod:`cti.revisits.dialer` sends the Originate for a row
written here and reports what Asterisk answered through :func:`apply_outcome` and
:func:`mark_ended`. Functions that change rows do not commit, except where noted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cti.numbers import NumberPlan
from cti.revisits.originate import (
    RING_TIMEOUT_MS,
    OriginateRefused,
    Outcome,
    check_interface,
    dialable,
    format_caller_id,
    new_channel_id,
)
from cti.store import audit
from cti.store.base import utcnow
from cti.store.callbacks import CallbackRequest, CallbackStatus
from cti.store.calls import Call
from cti.store.citizens import CitizenPhone
from cti.store.counties import County
from cti.store.revisits import IN_PROGRESS, OutboundCall, OutboundPurpose, OutboundStatus
from cti.store.routing import RoutingDid
from cti.store.tickets import Ticket, TicketStatus
from cti.store.users import Role, User

#: A claim on a callback request that is older than this may be taken over by another
#: agent (the first one went home, or forgot): long enough to dial and talk, short enough
#: that a citizen is not left waiting behind an abandoned claim.
CLAIM_MINUTES = 15
#: A call still "dialing" this long after it was started never got its outcome (the AMI
#: side was down or restarted): it is failed, so the agent can call again.
STALE_DIALING = timedelta(milliseconds=RING_TIMEOUT_MS) + timedelta(seconds=90)


class CallInProgress(Exception):
    """The agent already has an outbound call dialing or connected."""

    def __init__(self) -> None:
        super().__init__("you already have a call in progress")


class NotCallable(Exception):
    """The ticket or callback request cannot be called now (the message says why)."""


class ClaimTaken(Exception):
    """Another agent holds a fresh claim on the request (or it is no longer open)."""


@dataclass(frozen=True, slots=True)
class OutboundView:
    id: int
    purpose: str
    status: str
    ticket: str | None
    callback_id: int | None
    number: str
    interface: str
    started_at: datetime
    ended_at: datetime | None
    failure: str | None


def in_scope(user: User, county_column) -> list:
    """A county's staff reach their county's rows; centre-wide staff reach all."""
    return [] if user.county_id is None else [county_column == user.county_id]


async def _view(db: AsyncSession, call: OutboundCall) -> OutboundView:
    ticket = (
        await db.scalar(select(Ticket.number).where(Ticket.id == call.ticket_id))
        if call.ticket_id is not None
        else None
    )
    return OutboundView(
        id=call.id,
        purpose=call.purpose,
        status=call.status,
        ticket=ticket,
        callback_id=call.callback_id,
        number=call.number,
        interface=call.interface,
        started_at=call.started_at,
        ended_at=call.ended_at,
        failure=call.failure,
    )


async def caller_id_for(db: AsyncSession, county_id: int | None) -> str:
    """The county's hotline number and name as the citizen's phone shows them: the
    county's first DID (or the centre's first when the county has none)."""
    name, did = "Hotline", None
    if county_id is not None:
        county_name = await db.scalar(select(County.name).where(County.id == county_id))
        if county_name:
            name = f"Hotline {county_name}"
        did = await db.scalar(
            select(RoutingDid.did)
            .where(RoutingDid.county_id == county_id)
            .order_by(RoutingDid.position, RoutingDid.id)
            .limit(1)
        )
    if did is None:
        did = await db.scalar(select(RoutingDid.did).order_by(RoutingDid.id).limit(1))
    return format_caller_id(name, did)


async def _settle_stale(db: AsyncSession, agent_id: int) -> None:
    """Fail the agent's calls that never got an outcome, and end the ones whose call row
    (logged by the FastAGI side under (node, linkedid)) has ended."""
    now = utcnow()
    await db.execute(
        update(OutboundCall)
        .where(
            OutboundCall.agent_id == agent_id,
            OutboundCall.status == OutboundStatus.DIALING.value,
            OutboundCall.started_at < now - STALE_DIALING,
        )
        .values(
            status=OutboundStatus.FAILED.value,
            ended_at=now,
            failure="no outcome from Asterisk",
        )
    )
    ended = (
        select(Call.ended_at)
        .where(
            Call.node == OutboundCall.node,
            Call.linkedid == OutboundCall.linkedid,
            Call.ended_at.is_not(None),
        )
        .scalar_subquery()
    )
    await db.execute(
        update(OutboundCall)
        .where(
            OutboundCall.agent_id == agent_id,
            OutboundCall.status.in_(IN_PROGRESS),
            ended.is_not(None),
        )
        .values(status=OutboundStatus.ENDED.value, ended_at=ended)
        .execution_options(synchronize_session=False)
    )


async def _insert(db: AsyncSession, call: OutboundCall) -> OutboundCall:
    """Add the row; the partial unique index refuses a second call in progress."""
    await _settle_stale(db, call.agent_id)
    in_progress = await db.scalar(
        select(OutboundCall.id).where(
            OutboundCall.agent_id == call.agent_id, OutboundCall.status.in_(IN_PROGRESS)
        )
    )
    if in_progress is not None:
        raise CallInProgress
    try:
        async with db.begin_nested():
            db.add(call)
            await db.flush()
    except IntegrityError as exc:  # two clicks at the same moment: the index decides
        if "uq_outbound_calls_agent_in_progress" in str(exc.orig):
            raise CallInProgress from None
        raise
    return call


def _new_call(user: User, purpose: OutboundPurpose, number: str, node: str) -> OutboundCall:
    channel_id = new_channel_id()
    return OutboundCall(
        purpose=purpose.value,
        agent_id=user.id,
        interface=check_interface(user.interface),
        number=number,
        node=node,
        linkedid=channel_id,
        action_id=f"{purpose.value}-{channel_id}",
        status=OutboundStatus.DIALING.value,
        started_at=utcnow(),
    )


async def ticket_in_scope(db: AsyncSession, user: User, number: str) -> Ticket | None:
    return await db.scalar(
        select(Ticket).where(Ticket.number == number, *in_scope(user, Ticket.county_id))
    )


async def start_revisit_call(
    db: AsyncSession,
    user: User,
    ticket_number: str,
    phone_index: int,
    node: str,
    plan: NumberPlan,
    *,
    ip: str | None = None,
) -> OutboundView:
    """Write the agent's revisit call of a done ticket to its citizen's phone number
    ``phone_index`` (0: the first); the caller commits, then has the Originate sent.

    Raises ``LookupError`` (no such ticket for this user), :class:`NotCallable`,
    :class:`OriginateRefused` (the number or the agent's phone cannot be dialled) or
    :class:`CallInProgress`."""
    ticket = await ticket_in_scope(db, user, ticket_number)
    if ticket is None:
        raise LookupError(ticket_number)
    if ticket.status != TicketStatus.DONE.value:
        raise NotCallable(
            f"ticket {ticket.number} is {ticket.status.replace('_', ' ')}: "
            "only a done ticket is revisited"
        )
    if ticket.citizen_id is None:
        raise NotCallable(f"ticket {ticket.number} has no citizen to call")
    phones = list(
        await db.scalars(
            select(CitizenPhone.number)
            .where(CitizenPhone.citizen_id == ticket.citizen_id)
            .order_by(CitizenPhone.id)
        )
    )
    if not phones:
        raise NotCallable(f"the citizen of ticket {ticket.number} has no phone number")
    if phone_index >= len(phones):
        raise OriginateRefused("phone", f"the citizen has {len(phones)} phone number(s)")
    call = _new_call(user, OutboundPurpose.REVISIT, dialable(phones[phone_index], plan), node)
    call.ticket_id = ticket.id
    await _insert(db, call)
    audit.record(
        db,
        actor_id=user.id,
        actor_name=user.username,
        action="revisit.call",
        object_type="ticket",
        object_id=ticket.number,
        detail={"outbound_call_id": call.id, "phone": phone_index, "linkedid": call.linkedid},
        ip=ip,
    )
    return await _view(db, call)


def _claim_fresh(now: datetime):
    return CallbackRequest.claimed_at >= now - timedelta(minutes=CLAIM_MINUTES)


def _callback_scope(user: User) -> list:
    # As the callback list: a county's staff also see requests of no county.
    if user.county_id is None:
        return []
    return [or_(CallbackRequest.county_id.is_(None), CallbackRequest.county_id == user.county_id)]


async def claim_callback(
    db: AsyncSession, user: User, request_id: int, *, ip: str | None = None
) -> CallbackRequest:
    """Claim an open request for ``user`` with one conditional UPDATE: it passes only when
    nobody holds a fresh claim (or ``user`` does), so of two agents claiming at once
    exactly one wins. A claim older than :data:`CLAIM_MINUTES` may be taken over.

    Raises ``LookupError`` (no such request for this user) or :class:`ClaimTaken`."""
    now = utcnow()
    claimed = await db.scalar(
        update(CallbackRequest)
        .where(
            CallbackRequest.id == request_id,
            CallbackRequest.status == CallbackStatus.OPEN.value,
            or_(
                CallbackRequest.claimed_by.is_(None),
                CallbackRequest.claimed_by == user.id,
                CallbackRequest.claimed_at.is_(None),
                ~_claim_fresh(now),
            ),
            *_callback_scope(user),
        )
        .values(claimed_by=user.id, claimed_at=now)
        .returning(CallbackRequest.id)
        .execution_options(synchronize_session=False)
    )
    request = await db.scalar(
        select(CallbackRequest)
        .where(CallbackRequest.id == request_id, *_callback_scope(user))
        .execution_options(populate_existing=True)
    )
    if request is None:
        raise LookupError(request_id)
    if claimed is None:
        if request.status != CallbackStatus.OPEN.value:
            raise ClaimTaken(f"the request is {request.status}")
        raise ClaimTaken("another agent is calling this citizen back")
    audit.record(
        db,
        actor_id=user.id,
        actor_name=user.username,
        action="callback.claim",
        object_type="callback_request",
        object_id=request.id,
        ip=ip,
    )
    return request


async def release_callback(
    db: AsyncSession, user: User, request_id: int, *, ip: str | None = None
) -> CallbackRequest:
    """Give a claim back so another agent may call the citizen now, not in
    :data:`CLAIM_MINUTES`: the agent who holds it, or a supervisor of the request's county
    (the agent went home). Not while the holder's call back of it is dialing or
    connected: it would be dialled twice.

    Raises ``LookupError`` (no such request for this user) or :class:`ClaimTaken` (not
    claimed, someone else's claim, or a call in progress)."""
    request = await db.scalar(
        select(CallbackRequest)
        .where(CallbackRequest.id == request_id, *_callback_scope(user))
        .with_for_update()
    )
    if request is None:
        raise LookupError(request_id)
    if request.claimed_by is None:
        raise ClaimTaken("the request is not claimed")
    if request.claimed_by != user.id and user.role != Role.SUPERVISOR.value:
        raise ClaimTaken("the claim is another agent's")
    calling = await db.scalar(
        select(OutboundCall.id).where(
            OutboundCall.callback_id == request.id,
            OutboundCall.status.in_(IN_PROGRESS),
        )
    )
    if calling is not None:
        raise ClaimTaken("the citizen is being called back now")
    holder = request.claimed_by
    request.claimed_by = None
    request.claimed_at = None
    audit.record(
        db,
        actor_id=user.id,
        actor_name=user.username,
        action="callback.release",
        object_type="callback_request",
        object_id=request.id,
        ip=ip,
        detail={"holder_id": holder},
    )
    return request


async def start_callback_call(
    db: AsyncSession,
    user: User,
    request_id: int,
    node: str,
    plan: NumberPlan,
    *,
    ip: str | None = None,
) -> OutboundView:
    """Write the agent's call back of a request they claimed (the claim is refreshed).
    Raises ``LookupError``, :class:`NotCallable`, :class:`OriginateRefused` or
    :class:`CallInProgress`."""
    request = await db.scalar(
        select(CallbackRequest)
        .where(CallbackRequest.id == request_id, *_callback_scope(user))
        .with_for_update()
    )
    if request is None:
        raise LookupError(request_id)
    if request.status != CallbackStatus.OPEN.value:
        raise NotCallable(f"the request is {request.status}")
    if request.claimed_by != user.id:
        raise NotCallable("claim the request first")
    call = _new_call(user, OutboundPurpose.CALLBACK, dialable(request.number, plan), node)
    call.callback_id = request.id
    await _insert(db, call)
    request.claimed_at = utcnow()
    audit.record(
        db,
        actor_id=user.id,
        actor_name=user.username,
        action="callback.call",
        object_type="callback_request",
        object_id=request.id,
        detail={"outbound_call_id": call.id, "linkedid": call.linkedid},
        ip=ip,
    )
    return await _view(db, call)


async def current_call(db: AsyncSession, user: User) -> OutboundView | None:
    """The agent's call in progress, else their latest call (so the page can show how the
    last one ended); None when they never placed one. Settles stale calls first."""
    await _settle_stale(db, user.id)
    call = await db.scalar(
        select(OutboundCall)
        .where(OutboundCall.agent_id == user.id)
        .order_by(OutboundCall.status.in_(IN_PROGRESS).desc(), OutboundCall.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return None if call is None else await _view(db, call)


async def apply_outcome(db: AsyncSession, call_id: int, outcome: Outcome) -> bool:
    """Record what Asterisk answered (only a call still in progress changes: a late
    answer never revives an ended call). Returns whether the row changed."""
    values: dict[str, object] = {"status": outcome.status.value}
    if outcome.status is OutboundStatus.FAILED:
        values.update(failure=outcome.failure, ended_at=utcnow())
    allowed = (
        [OutboundStatus.DIALING.value]
        if outcome.status is OutboundStatus.CONNECTED
        else list(IN_PROGRESS)
    )
    changed = await db.scalar(
        update(OutboundCall)
        .where(OutboundCall.id == call_id, OutboundCall.status.in_(allowed))
        .values(**values)
        .returning(OutboundCall.id)
    )
    return changed is not None


async def mark_ended(db: AsyncSession, node: str, linkedid: str) -> bool:
    """The agent's channel of the call (node, linkedid) hung up."""
    changed = await db.scalar(
        update(OutboundCall)
        .where(
            OutboundCall.node == node,
            OutboundCall.linkedid == linkedid,
            OutboundCall.status.in_(IN_PROGRESS),
        )
        .values(status=OutboundStatus.ENDED.value, ended_at=utcnow())
        .returning(OutboundCall.id)
    )
    return changed is not None


__all__ = [
    "CLAIM_MINUTES",
    "CallInProgress",
    "ClaimTaken",
    "NotCallable",
    "OriginateRefused",
    "OutboundView",
    "apply_outcome",
    "caller_id_for",
    "claim_callback",
    "current_call",
    "mark_ended",
    "start_callback_call",
    "start_revisit_call",
]
