"""Handing a ticket to a company and the company's answers, in the database.

Each function moves the ticket through :func:`cti.tickets.service.transition` (the
lifecycle decides, a refusal is :class:`~cti.tickets.lifecycle.TransitionRefused` and
changes nothing), updates the :class:`~cti.store.companies.Dispatch` row, writes the audit
entry and queues the notifications owed, all in the caller's transaction: nothing here
commits, so the ticket, its event, the dispatch and the outbox rows commit together.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.dispatch import notify
from cti.dispatch.eligibility import candidates as eligible_candidates
from cti.dispatch.eligibility import check, order, standing, suggest
from cti.dispatch.errors import DispatchError, NotEligible, NotYours
from cti.store import audit
from cti.store.catalog import ServiceCategory
from cti.store.companies import (
    ACTIVE_DISPATCH_STATUSES,
    Company,
    Dispatch,
    DispatchStatus,
    Notification,
    NotificationStatus,
)
from cti.store.counties import County
from cti.store.tickets import Ticket
from cti.store.users import Role, User
from cti.tickets import lifecycle
from cti.tickets.service import MAX_NOTE, TicketError, clean_text, transition

#: Deadlines for a ticket without a county (the county's own settings otherwise).
DEFAULT_ACCEPT_MINUTES = 120
DEFAULT_FINISH_HOURS = 72
RESPONSES = ("accept", "decline", "start", "finish")
#: Which dispatch states each company answer may come from (the ticket's lifecycle is
#: checked too; this stops an answer on a dispatch that was withdrawn meanwhile from
#: moving the ticket someone else now holds).
_FROM = {
    "accept": {DispatchStatus.OFFERED.value},
    "decline": {DispatchStatus.OFFERED.value},
    "start": {DispatchStatus.ACCEPTED.value},
    "finish": {DispatchStatus.ACCEPTED.value, DispatchStatus.IN_SERVICE.value},
}
_ACTIVE = [s.value for s in ACTIVE_DISPATCH_STATUSES]


def deadlines(
    now: datetime, accept_within_minutes: int, finish_within_hours: int
) -> tuple[datetime, datetime]:
    """(accept_by, finish_by) from ``now``; finishing is never due before accepting."""
    accept_by = now + timedelta(minutes=accept_within_minutes)
    finish_by = max(now + timedelta(hours=finish_within_hours), accept_by)
    return accept_by, finish_by


def _actor_name(actor: User) -> str:
    return actor.display_name or actor.username


async def dispatch_ticket(
    db: AsyncSession,
    ticket: Ticket,
    company_id: int,
    actor: User,
    *,
    automatic: bool = False,
    now: datetime | None = None,
) -> Dispatch:
    """Offer ``ticket`` to the company: the ``dispatch`` transition, the dispatch row with
    its deadlines (the county's ``accept_within_minutes`` / ``finish_within_hours``) and
    why the company was chosen, the audit entry, and an email and/or webhook to the
    company queued in the outbox. Raises :class:`NotEligible` (nothing changed) when the
    company cannot take it, ``TransitionRefused`` when the ticket cannot be dispatched."""
    found = await standing(db, ticket, company_id)
    if found is None:
        raise NotEligible(f"no company {company_id}")
    if ticket.county_id is None or ticket.category_id is None:
        raise NotEligible("the ticket has no county or no category to dispatch by")
    refusal = check(found)
    if refusal is not None:
        raise NotEligible(refusal)
    company = await db.get(Company, company_id)
    assert company is not None
    chosen = order(await eligible_candidates(db, ticket, only=company_id))
    reasons = chosen[0].reasons() if chosen else {}
    reasons["automatic"] = automatic
    await transition(
        db,
        ticket,
        lifecycle.Action.DISPATCH,
        actor,
        f"Offered to {company.name}" + (" (automatic)" if automatic else ""),
    )
    county = await db.get(County, ticket.county_id)
    now = now or datetime.now(UTC)
    accept_by, finish_by = deadlines(
        now,
        county.accept_within_minutes if county else DEFAULT_ACCEPT_MINUTES,
        county.finish_within_hours if county else DEFAULT_FINISH_HOURS,
    )
    dispatch = Dispatch(
        ticket_id=ticket.id,
        company_id=company.id,
        dispatched_by=actor.id,
        dispatched_at=now,
        automatic=automatic,
        reasons=reasons,
        accept_by=accept_by,
        finish_by=finish_by,
        status=DispatchStatus.OFFERED.value,
    )
    db.add(dispatch)
    await db.flush()
    audit.record(
        db,
        actor_id=actor.id,
        actor_name=actor.username,
        action="dispatch.create",
        object_type="ticket",
        object_id=ticket.number,
        detail={
            "dispatch_id": dispatch.id,
            "company_id": company.id,
            "automatic": automatic,
            "accept_by": accept_by.isoformat(),
            "finish_by": finish_by.isoformat(),
        },
    )
    category = await db.get(ServiceCategory, ticket.category_id)
    payload = notify.offer_payload(
        event="dispatch.offered",
        dispatch_id=dispatch.id,
        ticket_number=ticket.number,
        company_name=company.name,
        category=category.name if category else "",
        county=county.name if county else "",
        description=ticket.description,
        address=ticket.address,
        preferred_start=ticket.preferred_start,
        preferred_end=ticket.preferred_end,
        accept_by=accept_by,
        finish_by=finish_by,
    )
    queue_notifications(db, company, dispatch.id, "dispatch.offered", payload)
    await db.flush()
    return dispatch


def queue_notifications(
    db: AsyncSession, company: Company, dispatch_id: int | None, event: str, payload: dict
) -> list[Notification]:
    """Outbox rows for the company: an email when it has an address, a webhook post when
    it has a URL (delivered by :mod:`cti.dispatch.notifier` after the commit)."""
    channels = [
        c for c, wanted in (("email", company.email), ("webhook", company.webhook_url)) if wanted
    ]
    rows = [
        Notification(
            company_id=company.id,
            dispatch_id=dispatch_id,
            channel=channel,
            event=event,
            payload=payload,
            status=NotificationStatus.PENDING.value,
            attempts=0,
        )
        for channel in channels
    ]
    db.add_all(rows)
    return rows


async def auto_dispatch(db: AsyncSession, ticket: Ticket, actor: User) -> Dispatch | None:
    """When the ticket's county offers work automatically, dispatch it to the first
    suggestion (``automatic``); None when the county does not, or nobody is eligible.

    Called right after the ticket is created, in the same transaction: inside a savepoint,
    so a refusal (the ticket cannot be dispatched by this actor, the company was suspended
    a moment ago) leaves the new ticket as it was, to be dispatched by hand."""
    if ticket.county_id is None:
        return None
    county = await db.get(County, ticket.county_id)
    if county is None or not county.auto_dispatch or county.retired_at is not None:
        return None
    suggestions = await suggest(db, ticket)
    if not suggestions:
        return None
    try:
        async with db.begin_nested():
            return await dispatch_ticket(
                db, ticket, suggestions[0].company_id, actor, automatic=True
            )
    except (NotEligible, lifecycle.TransitionRefused):
        await db.refresh(ticket)
        return None


async def _locked(db: AsyncSession, dispatch_id: int) -> Dispatch | None:
    return await db.scalar(select(Dispatch).where(Dispatch.id == dispatch_id).with_for_update())


async def respond(
    db: AsyncSession,
    dispatch_id: int,
    action: str,
    actor: User,
    note: str = "",
) -> Dispatch:
    """The company's answer to its dispatch: ``accept``, ``decline`` (``note`` is the
    reason, required), ``start`` (in service) or ``finish`` (``note``: what was done).

    Raises :class:`NotYours` when the dispatch does not exist or ``actor`` is not a
    company account of that dispatch's company (shown as 404); :class:`DispatchError` for
    an unknown action, a missing decline reason or a bad note; ``TransitionRefused`` when
    the dispatch or the ticket is not in a state that allows it. Nothing is sent to the
    company about its own answer. Caller commits."""
    if action not in RESPONSES:
        raise DispatchError("action", f"action is one of {', '.join(RESPONSES)}")
    if actor.role != Role.COMPANY.value or actor.company_id is None:
        raise NotYours(f"no dispatch {dispatch_id}")
    try:
        note = clean_text("note", note or "", MAX_NOTE)
    except TicketError as exc:
        raise DispatchError(exc.field, str(exc)) from None
    if action == "decline" and not note:
        raise DispatchError("note", "say why the company declines")
    dispatch = await _locked(db, dispatch_id)
    if dispatch is None or dispatch.company_id != actor.company_id:
        raise NotYours(f"no dispatch {dispatch_id}")
    ticket = await db.get(Ticket, dispatch.ticket_id)
    assert ticket is not None
    if dispatch.status not in _FROM[action]:
        raise lifecycle.TransitionRefused(
            lifecycle.Action(action),
            lifecycle.S(ticket.status),
            Role.COMPANY,
            f"this dispatch is {dispatch.status.replace('_', ' ')}: it cannot be "
            f"{_past(action)} now",
        )
    await transition(db, ticket, action, actor, note)
    now = datetime.now(UTC)
    if action == "accept":
        dispatch.status, dispatch.accepted_at = DispatchStatus.ACCEPTED.value, now
    elif action == "decline":
        dispatch.status, dispatch.declined_at = DispatchStatus.DECLINED.value, now
        dispatch.decline_reason = note
    elif action == "start":
        dispatch.status, dispatch.started_at = DispatchStatus.IN_SERVICE.value, now
    else:
        dispatch.status, dispatch.done_at = DispatchStatus.DONE.value, now
        dispatch.done_note = note or None
    audit.record(
        db,
        actor_id=actor.id,
        actor_name=actor.username,
        action=f"dispatch.{action}",
        object_type="ticket",
        object_id=ticket.number,
        detail={"dispatch_id": dispatch.id, "company_id": dispatch.company_id, "note": note},
    )
    await db.flush()
    return dispatch


def _past(action: str) -> str:
    return {"accept": "accepted", "decline": "declined", "start": "started"}.get(action, "finished")


async def withdraw(db: AsyncSession, dispatch_id: int, actor: User, reason: str) -> Dispatch:
    """A supervisor or admin takes an open dispatch back (the ticket goes back to be
    dispatched again); the company is told. ``reason`` is required. Raises
    :class:`NotYours` for no such dispatch or one outside a county supervisor's county,
    ``TransitionRefused`` for a dispatch that is not open or a role that may not. Caller
    commits."""
    try:
        reason = clean_text("reason", reason or "", MAX_NOTE)
    except TicketError as exc:
        raise DispatchError(exc.field, str(exc)) from None
    if not reason:
        raise DispatchError("reason", "say why the dispatch is withdrawn")
    dispatch = await _locked(db, dispatch_id)
    if dispatch is None:
        raise NotYours(f"no dispatch {dispatch_id}")
    ticket = await db.get(Ticket, dispatch.ticket_id)
    assert ticket is not None
    if actor.county_id is not None and ticket.county_id != actor.county_id:
        raise NotYours(f"no dispatch {dispatch_id}")
    if dispatch.status not in _ACTIVE:
        raise lifecycle.TransitionRefused(
            lifecycle.Action.WITHDRAW,
            lifecycle.S(ticket.status),
            Role(actor.role),
            f"this dispatch is {dispatch.status.replace('_', ' ')}: only an open one can "
            "be withdrawn",
        )
    await _take_back(db, dispatch, ticket, actor, reason)
    return dispatch


async def _take_back(
    db: AsyncSession, dispatch: Dispatch, ticket: Ticket, actor: User, reason: str
) -> None:
    """Withdraw an open, locked ``dispatch``: the ticket's move with its event, the audit
    entry, the company told."""
    await transition(db, ticket, lifecycle.Action.WITHDRAW, actor, reason)
    dispatch.status = DispatchStatus.WITHDRAWN.value
    dispatch.withdrawn_at = datetime.now(UTC)
    audit.record(
        db,
        actor_id=actor.id,
        actor_name=actor.username,
        action="dispatch.withdraw",
        object_type="ticket",
        object_id=ticket.number,
        detail={"dispatch_id": dispatch.id, "company_id": dispatch.company_id, "reason": reason},
    )
    company = await db.get(Company, dispatch.company_id)
    assert company is not None
    queue_notifications(
        db,
        company,
        dispatch.id,
        "dispatch.withdrawn",
        notify.withdrawn_payload(
            dispatch_id=dispatch.id,
            ticket_number=ticket.number,
            company_name=company.name,
            reason=reason,
        ),
    )
    await db.flush()


async def take_back_all(
    db: AsyncSession, company_id: int, actor: User, reason: str
) -> list[Dispatch]:
    """Withdraw every open dispatch of the company (offered, accepted or in service), each
    with its event, audit entry and notice to the company, oldest first, and return them.
    For a suspension: the company may no longer answer its jobs, so they would wait for
    nothing; the tickets go back to be dispatched to someone else. Caller commits."""
    dispatches = (
        await db.scalars(
            select(Dispatch)
            .where(Dispatch.company_id == company_id, Dispatch.status.in_(_ACTIVE))
            .order_by(Dispatch.id)
            .with_for_update()
        )
    ).all()
    for dispatch in dispatches:
        ticket = await db.get(Ticket, dispatch.ticket_id)
        assert ticket is not None
        await _take_back(db, dispatch, ticket, actor, reason)
    return list(dispatches)


async def flag_overdue(db: AsyncSession, now: datetime) -> list[Dispatch]:
    """Mark the dispatches still offered past ``accept_by`` (``accept_late_flagged_at``)
    and those accepted or in service but not done past ``finish_by``
    (``finish_late_flagged_at``), each deadline once, and return them; a dispatch's
    status says which deadline it was flagged for now (offered: acceptance). Telling the
    supervisors is the notifier's job. Rows another worker is flagging are skipped.
    Caller commits."""
    working = [DispatchStatus.ACCEPTED.value, DispatchStatus.IN_SERVICE.value]
    late_accept = (
        (Dispatch.status == DispatchStatus.OFFERED.value)
        & (Dispatch.accept_by < now)
        & Dispatch.accept_late_flagged_at.is_(None)
    )
    late_finish = (
        Dispatch.status.in_(working)
        & (Dispatch.finish_by < now)
        & Dispatch.finish_late_flagged_at.is_(None)
    )
    rows = (
        await db.scalars(
            select(Dispatch)
            .where(or_(late_accept, late_finish))
            .order_by(Dispatch.id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for row in rows:
        if row.status == DispatchStatus.OFFERED.value:
            row.accept_late_flagged_at = now
        else:
            row.finish_late_flagged_at = now
    await db.flush()
    return list(rows)
