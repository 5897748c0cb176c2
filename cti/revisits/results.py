"""What the citizen said on a revisit: the :class:`Revisit` row, and the ticket's moves
(``revisit``, then ``close`` or ``complain``) in the caller's one transaction.

A revisit can be recorded without a call of ours (the citizen called in, or was reached
from another phone): it then names no outbound call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.store import audit
from cti.store.companies import Dispatch, DispatchStatus
from cti.store.revisits import OutboundCall, OutboundPurpose, Revisit
from cti.store.tickets import Ticket
from cti.store.users import User
from cti.tickets import lifecycle
from cti.tickets.service import clean_text, transition

MAX_COMMENT = 2000


def next_action(service_done: bool, complaint: bool) -> lifecycle.Action:
    """After ``revisit``: the ticket closes when the work was done and the citizen does not
    complain; otherwise it is reopened (``complain``) to be worked on again. A low score
    alone does not reopen it: it counts against the company's reputation."""
    if complaint or not service_done:
        return lifecycle.Action.COMPLAIN
    return lifecycle.Action.CLOSE


@dataclass(frozen=True, slots=True)
class RevisitView:
    id: int
    ticket: str
    ticket_status: str
    satisfaction: int
    service_done: bool
    complaint: bool
    comment: str
    company_id: int | None
    dispatch_id: int | None
    outbound_call_id: int | None
    at: datetime


def _summary(satisfaction: int, service_done: bool, complaint: bool, comment: str) -> str:
    parts = [
        f"Revisit: satisfaction {satisfaction}/5",
        "service done" if service_done else "service NOT done",
    ]
    if complaint:
        parts.append("the citizen complains")
    text = ", ".join(parts) + "."
    return f"{text}\n{comment}" if comment else text


async def record_revisit(
    db: AsyncSession,
    user: User,
    ticket: Ticket,
    *,
    satisfaction: int,
    service_done: bool,
    complaint: bool,
    comment: str,
    ip: str | None = None,
    channel: str = "phone",
) -> RevisitView:
    """Move the done ``ticket`` through ``revisit`` and then ``close`` or ``complain``
    (:func:`next_action`), and write the Revisit row rating the company of its last done
    dispatch, linked to ``user``'s latest revisit call of this ticket if there is one.

    Raises :class:`lifecycle.TransitionRefused` (the ticket is not done, or was revisited
    meanwhile: the row lock in ``transition`` serialises two agents) or
    ``TicketError`` for a bad comment; nothing is written then (the caller rolls back).
    ``channel``: how the citizen answered (``phone``, or ``sms`` for a text reply)."""
    if not 1 <= satisfaction <= 5:
        raise ValueError("satisfaction is 1-5")
    comment = clean_text("comment", comment, MAX_COMMENT)
    note = _summary(satisfaction, service_done, complaint, comment)
    await transition(db, ticket, lifecycle.Action.REVISIT, user, note)
    dispatch = await db.scalar(
        select(Dispatch)
        .where(Dispatch.ticket_id == ticket.id, Dispatch.status == DispatchStatus.DONE.value)
        .order_by(Dispatch.done_at.desc().nulls_last(), Dispatch.id.desc())
        .limit(1)
    )
    call_id = await db.scalar(
        select(OutboundCall.id)
        .where(
            OutboundCall.ticket_id == ticket.id,
            OutboundCall.agent_id == user.id,
            OutboundCall.purpose == OutboundPurpose.REVISIT.value,
        )
        .order_by(OutboundCall.id.desc())
        .limit(1)
    )
    revisit = Revisit(
        ticket_id=ticket.id,
        company_id=dispatch.company_id if dispatch else None,
        dispatch_id=dispatch.id if dispatch else None,
        outbound_call_id=call_id,
        agent_id=user.id,
        channel=channel,
        satisfaction=satisfaction,
        service_done=service_done,
        comment=comment,
        complaint=complaint,
    )
    db.add(revisit)
    follow = next_action(service_done, complaint)
    await transition(db, ticket, follow, user, "")
    await db.flush()
    await db.refresh(revisit)
    audit.record(
        db,
        actor_id=user.id,
        actor_name=user.username,
        action="revisit.record",
        object_type="ticket",
        object_id=ticket.number,
        detail={
            "revisit_id": revisit.id,
            "satisfaction": satisfaction,
            "service_done": service_done,
            "complaint": complaint,
            "company_id": revisit.company_id,
            "outbound_call_id": call_id,
            "status": ticket.status,
            "channel": channel,
        },
        ip=ip,
    )
    return RevisitView(
        id=revisit.id,
        ticket=ticket.number,
        ticket_status=ticket.status,
        satisfaction=satisfaction,
        service_done=service_done,
        complaint=complaint,
        comment=comment,
        company_id=revisit.company_id,
        dispatch_id=revisit.dispatch_id,
        outbound_call_id=call_id,
        at=revisit.at,
    )
