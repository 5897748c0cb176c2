"""Ticket search: filters -> one SELECT on ``tickets``, newest first, keyset pagination.

Pure query building: nothing here runs a statement, every value is a bound parameter.
The order is ``created_at DESC, id DESC`` and the next page starts after the cursor
``(created_at, id)`` of the last row shown (no OFFSET: the hundredth page costs what the
first does). Free text reads the ``search`` tsvector (description and notes) with
``websearch_to_tsquery('simple', ...)``: quoted phrases, ``or`` and ``-word`` work, and
nothing a user types is a syntax error.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    cast,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)

from cti import numbers
from cti.store.citizens import Citizen, CitizenPhone
from cti.store.companies import ACTIVE_DISPATCH_STATUSES, Dispatch, DispatchStatus
from cti.store.tickets import Ticket, TicketStatus
from cti.tickets import access

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
#: A ticket still ``new`` after this long is overdue: nobody has answered or dispatched it.
NEW_OVERDUE_AFTER = timedelta(hours=2)
MAX_TEXT = 200
#: The text search configuration the ``search`` column is built with (no stemming).
SIMPLE = literal_column("'simple'::regconfig")
FINAL_STATUSES = (TicketStatus.CLOSED.value, TicketStatus.CANCELLED.value)


class Tab(StrEnum):
    MINE = "mine"  # open tickets the viewer owns
    COUNTY = "county"  # open tickets of the viewer's county (all counties if none)
    OVERDUE = "overdue"
    SEARCH = "search"


@dataclass(frozen=True, slots=True)
class Filters:
    """What the search form asks for; every field optional, all given ones must hold.

    ``phone`` is as typed (any form: ``+86 138-0013 8000``, ``013800138000``): it is
    normalised like a caller ID and matched against the citizens' stored numbers.
    ``citizen`` is a part of the name (case-insensitive). ``until`` is exclusive."""

    number: str | None = None
    citizen: str | None = None
    phone: str | None = None
    category_id: int | None = None  # a top-level category
    subcategory_id: int | None = None  # an item of the catalogue
    county_id: int | None = None
    status: str | None = None
    company_id: int | None = None  # tickets ever dispatched to this company
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    #: Only open tickets (the tabs), only those owned by this user (tab "mine").
    open_only: bool = False
    owner_id: int | None = None
    #: Overdue at this moment (tab "overdue").
    overdue_at: datetime | None = None


class InvalidCursor(ValueError):
    pass


def encode_cursor(created_at: datetime, ticket_id: int) -> str:
    raw = json.dumps([created_at.isoformat(), ticket_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, tid = json.loads(raw)
        if not isinstance(tid, int) or not isinstance(at, str):
            raise ValueError("not a ticket cursor")
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            raise ValueError("cursor time without offset")
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidCursor(f"invalid cursor: {exc}") from None
    return when, tid


def phone_key(raw: str | None) -> str | None:
    """The stored form of a typed phone number; "" when it is no number at all (matches
    nothing rather than everything)."""
    if raw is None or not raw.strip():
        return None
    return numbers.normalise_key(raw)


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def scope_terms(filters: Filters, scope: access.Scope) -> list[ColumnElement[bool]]:
    """The scope's WHERE terms, simplified by what the filters already say: a filter on
    the viewer's own county or on their own tickets is inside the scope (no OR left for
    the planner to guess about); another county leaves only the viewer's own tickets."""
    if scope.nothing or scope.everything:
        return access.conditions(scope)
    if filters.owner_id is not None and filters.owner_id == scope.owner_id:
        return []
    if filters.county_id is not None:
        if filters.county_id == scope.county_id:
            return []
        if scope.owner_id is not None:
            return [Ticket.owner_id == scope.owner_id]
        return [false()]
    return access.conditions(scope)


def conditions(filters: Filters, scope: access.Scope) -> list[ColumnElement[bool]]:
    """WHERE terms on ``tickets`` for ``filters`` within ``scope``."""
    t = Ticket
    f = filters
    where = scope_terms(f, scope)
    if f.number:
        where.append(t.number == f.number.strip().upper())
    if f.citizen and f.citizen.strip():
        pattern = f"%{_like_escape(f.citizen.strip())}%"
        where.append(
            t.citizen_id.in_(select(Citizen.id).where(Citizen.name.ilike(pattern, escape="\\")))
        )
    key = phone_key(f.phone)
    if key is not None:
        where.append(
            t.citizen_id.in_(select(CitizenPhone.citizen_id).where(CitizenPhone.number == key))
        )
    if f.category_id is not None:
        where.append(t.category_id == f.category_id)
    if f.subcategory_id is not None:
        where.append(t.subcategory_id == f.subcategory_id)
    if f.county_id is not None:
        where.append(t.county_id == f.county_id)
    if f.status:
        where.append(t.status == f.status)
    if f.since is not None:
        where.append(t.created_at >= f.since)
    if f.until is not None:
        where.append(t.created_at < f.until)
    if f.text and f.text.strip():
        where.append(
            t.search.op("@@")(
                func.websearch_to_tsquery(SIMPLE, cast(literal(f.text.strip()), Text))
            )
        )
    if f.open_only:
        where.append(t.status.not_in(FINAL_STATUSES))
    if f.owner_id is not None:
        where.append(t.owner_id == f.owner_id)
    if f.overdue_at is not None:
        where.append(overdue(f.overdue_at))
    return where


def overdue(now: datetime) -> ColumnElement[bool]:
    """An active dispatch past its deadline (to accept when offered, to finish once
    accepted), or a ticket still ``new`` longer than :data:`NEW_OVERDUE_AFTER`."""
    d = Dispatch
    late_dispatch = exists().where(
        d.ticket_id == Ticket.id,
        d.status.in_([s.value for s in ACTIVE_DISPATCH_STATUSES]),
        or_(
            and_(d.status == DispatchStatus.OFFERED.value, d.accept_by < now),
            d.finish_by < now,
        ),
    )
    stale_new = and_(
        Ticket.status == TicketStatus.NEW.value, Ticket.created_at < now - NEW_OVERDUE_AFTER
    )
    return or_(late_dispatch, stale_new)


def page_query(
    filters: Filters,
    scope: access.Scope,
    *,
    after: tuple[datetime, int] | None = None,
    limit: int = PAGE_SIZE,
) -> Select[tuple[Ticket]]:
    """One page of tickets, newest first; ``limit + 1`` rows are asked for so the caller
    knows whether an older page exists.

    With a company, the page is read from that company's dispatches in their tickets'
    order (``Dispatch.ticket_created_at`` is the ticket's ``created_at``, so the order and
    the cursor are the same): a ticket dispatched to the same company twice comes twice,
    next to each other (:func:`distinct_rows` drops the copy)."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    key: tuple = (Ticket.created_at, Ticket.id)
    if filters.company_id is None:
        stmt = select(Ticket).where(*conditions(filters, scope))
    else:
        # The date range is said once, on the dispatch's copy below: said on the ticket as
        # well, the planner takes the two for independent and expects 1/24th of the rows
        # it will find, so it reads a whole month of the company's tickets to sort them
        # instead of walking them newest first and stopping at a page.
        stmt = select(Ticket).where(*conditions(replace(filters, since=None, until=None), scope))
        d = Dispatch
        stmt = stmt.join(d, and_(d.ticket_id == Ticket.id, d.company_id == filters.company_id))
        key = (d.ticket_created_at, d.ticket_id)
        if filters.status:  # the dispatch's copy: the walk reads that status's range only
            stmt = stmt.where(d.ticket_status == filters.status)
        # the same range said on the dispatch's copy, so the walk starts and stops in it
        if filters.since is not None:
            stmt = stmt.where(d.ticket_created_at >= filters.since)
        if filters.until is not None:
            stmt = stmt.where(d.ticket_created_at < filters.until)
    if after is not None:
        stmt = stmt.where(tuple_(*key) < tuple_(*after))
    return stmt.order_by(key[0].desc(), key[1].desc()).limit(limit + 1)


def distinct_rows(rows: list[Ticket]) -> list[Ticket]:
    """The page's tickets once each, in order."""
    return list(dict.fromkeys(rows))


def tab_filters(
    tab: Tab, user_id: int, county_id: int | None, now: datetime, search: Filters
) -> Filters:
    """The filters a list tab stands for (the search tab is the form's own); "my county's"
    is every county's for a user without one."""
    if tab is Tab.MINE:
        return Filters(open_only=True, owner_id=user_id)
    if tab is Tab.COUNTY:
        return Filters(open_only=True, county_id=county_id)
    if tab is Tab.OVERDUE:
        return Filters(overdue_at=now)
    return search
