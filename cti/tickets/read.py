"""Reading tickets for the centre's staff: a page of the search, one ticket within the
viewer's scope, and the rows of its timeline (merged by the pure
:mod:`cti.tickets.timeline`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from cti.recordings import search as recording_search
from cti.store.calls import Call
from cti.store.catalog import ServiceCategory
from cti.store.citizens import Citizen
from cti.store.companies import Company, Dispatch
from cti.store.counties import County
from cti.store.recordings import Recording
from cti.store.revisits import OutboundCall, Revisit
from cti.store.sms import SmsInbound, SmsOutbox
from cti.store.tickets import Ticket, TicketEvent
from cti.store.users import User
from cti.tickets import access, search, timeline

NUMBER_MAX = 24


@dataclass(frozen=True, slots=True)
class Page:
    tickets: list[Ticket]
    #: The cursor of the next (older) page, None when this is the last.
    older: str | None


async def search_page(
    db: AsyncSession,
    filters: search.Filters,
    scope: access.Scope,
    *,
    after: tuple[datetime, int] | None = None,
    limit: int = search.PAGE_SIZE,
) -> Page:
    """One page of the search (:func:`cti.tickets.search.page_query`), newest first, each
    ticket once, and the cursor of the next page."""
    stmt = search.page_query(filters, scope, after=after, limit=limit)
    found = list((await db.scalars(stmt)).all())
    older = None
    if len(found) > limit:
        found = found[:limit]
        older = search.encode_cursor(found[-1].created_at, found[-1].id)
    return Page(search.distinct_rows(found), older)


async def visible_ticket(db: AsyncSession, user: User, number: str, *, lock: bool = False):
    """The ticket numbered ``number`` if ``user`` may see it, else None (the caller
    answers 404 either way: no existence oracle)."""
    if not number or len(number) > NUMBER_MAX:
        return None
    stmt = select(Ticket).where(
        Ticket.number == number.strip().upper(), *access.conditions(access.scope_of(user))
    )
    if lock:
        stmt = stmt.with_for_update()
    return await db.scalar(stmt)


async def load_timeline(
    db: AsyncSession, ticket: Ticket, recording_scope: recording_search.Scope
) -> list[timeline.Entry]:
    """Every row about ``ticket``, merged in time order; recordings are marked playable
    when they are within ``recording_scope`` (the viewer's, by the recordings' own rules:
    ``cti.web.recordings.shared.scope_of``) and not purged."""
    events = (
        await db.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.at, TicketEvent.id)
        )
    ).all()
    outbound = (
        await db.scalars(
            select(OutboundCall)
            .where(OutboundCall.ticket_id == ticket.id)
            .order_by(OutboundCall.id)
        )
    ).all()
    pairs = [(o.node, o.linkedid) for o in outbound]
    call_filter = []
    if ticket.call_id is not None:
        call_filter.append(Call.id == ticket.call_id)
    if pairs:
        call_filter.append(tuple_(Call.node, Call.linkedid).in_(pairs))
    calls = []
    if call_filter:
        calls = (await db.scalars(select(Call).where(or_(*call_filter)).order_by(Call.id))).all()
    revisit_call_ids = frozenset(c.id for c in calls if (c.node, c.linkedid) in set(pairs))
    recordings = await _recordings(db, [c.id for c in calls], recording_scope)
    dispatches = (
        await db.scalars(
            select(Dispatch).where(Dispatch.ticket_id == ticket.id).order_by(Dispatch.id)
        )
    ).all()
    revisits = (
        await db.scalars(select(Revisit).where(Revisit.ticket_id == ticket.id).order_by(Revisit.id))
    ).all()
    company_ids = {d.company_id for d in dispatches} | {
        x.company_id for x in [*events, *revisits] if x.company_id is not None
    }
    companies = {}
    if company_ids:
        companies = dict(
            (
                await db.execute(
                    select(Company.id, Company.name).where(Company.id.in_(company_ids))
                )
            ).all()
        )
    agent_ids = {o.agent_id for o in outbound} | {
        x for x in [*(d.dispatched_by for d in dispatches), *(r.agent_id for r in revisits)] if x
    }
    agents = {}
    if agent_ids:
        agents = dict(
            (
                await db.execute(select(User.id, User.display_name).where(User.id.in_(agent_ids)))
            ).all()
        )
    texts_in = (
        await db.scalars(
            select(SmsInbound).where(SmsInbound.ticket_id == ticket.id).order_by(SmsInbound.id)
        )
    ).all()
    # A text owed but not yet addressed (no gateway yet, or no mobile number: skipped) is
    # in the outbox list, not on the timeline; once it names a number it is shown.
    texts_out = (
        await db.scalars(
            select(SmsOutbox)
            .where(SmsOutbox.ticket_id == ticket.id, SmsOutbox.recipient.is_not(None))
            .order_by(SmsOutbox.id)
        )
    ).all()
    return timeline.merge(
        texts_in=texts_in,
        texts_out=texts_out,
        events=events,
        calls=calls,
        recordings=recordings,
        revisit_call_ids=revisit_call_ids,
        outbound=outbound,
        dispatches=dispatches,
        revisits=revisits,
        companies=companies,
        agents=agents,
    )


async def _recordings(
    db: AsyncSession, call_ids: list[int], scope: recording_search.Scope
) -> dict[int, list[timeline.RecordingRef]]:
    if not call_ids:
        return {}
    rows = (
        await db.execute(
            select(Recording.id, Recording.call_id, Recording.duration_ms)
            .where(Recording.call_id.in_(call_ids))
            .order_by(Recording.started_at, Recording.id)
        )
    ).all()
    if not rows:
        return {}
    playable = set(
        (
            await db.scalars(
                select(Recording.id).where(
                    Recording.id.in_([r.id for r in rows]),
                    Recording.purged_at.is_(None),
                    *recording_search.conditions(recording_search.Filters(), scope),
                )
            )
        ).all()
    )
    out: dict[int, list[timeline.RecordingRef]] = {}
    for rid, call_id, duration_ms in rows:
        out.setdefault(call_id, []).append(
            timeline.RecordingRef(id=rid, duration_ms=duration_ms, playable=rid in playable)
        )
    return out


async def facts(db: AsyncSession, ticket: Ticket) -> dict[str, object]:
    """The names behind the ticket's references, for showing it: category and item codes,
    county code, citizen, owner and author, the ticket it complains about, and the
    complaint tickets that name it."""
    codes = {}
    ids = [i for i in (ticket.category_id, ticket.subcategory_id) if i is not None]
    if ids:
        codes = dict(
            (
                await db.execute(
                    select(ServiceCategory.id, ServiceCategory.code).where(
                        ServiceCategory.id.in_(ids)
                    )
                )
            ).all()
        )
    users = {}
    uids = [i for i in (ticket.owner_id, ticket.author_id) if i is not None]
    if uids:
        users = dict(
            (await db.execute(select(User.id, User.display_name).where(User.id.in_(uids)))).all()
        )
    county = (
        await db.scalar(select(County.code).where(County.id == ticket.county_id))
        if ticket.county_id is not None
        else None
    )
    citizen = (
        await db.scalar(select(Citizen.name).where(Citizen.id == ticket.citizen_id))
        if ticket.citizen_id is not None
        else None
    )
    complaint_of = (
        await db.scalar(select(Ticket.number).where(Ticket.id == ticket.complaint_of_id))
        if ticket.complaint_of_id is not None
        else None
    )
    complaints = (
        await db.scalars(
            select(Ticket.number).where(Ticket.complaint_of_id == ticket.id).order_by(Ticket.id)
        )
    ).all()
    return {
        "category": codes.get(ticket.category_id),
        "subcategory": codes.get(ticket.subcategory_id),
        "county": county,
        "citizen_name": citizen,
        "owner": users.get(ticket.owner_id),
        "author": users.get(ticket.author_id),
        "complaint_of": complaint_of,
        "complaints": list(complaints),
    }
