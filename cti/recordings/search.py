"""The inspector's search: filters → one SELECT on ``recordings``, keyset pagination.

Pure query building: nothing here runs a statement. Every filter is a bound parameter.
Sorting is by ``started_at`` (default newest first) or by duration, always with ``id`` as
the tie-breaker, and the next page starts after the cursor ``(sort value, id)`` (no
OFFSET, so page 1000 costs what page 1 costs). Counts are capped (``COUNT_CAP``): "more
than 10 000" is the honest answer at millions of rows and keeps the count cheap.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Select, and_, func, select, tuple_

from cti.store.recordings import Recording
from cti.store.tickets import Ticket

COUNT_CAP = 10_000


class Sort(StrEnum):
    NEWEST = "newest"
    OLDEST = "oldest"
    LONGEST = "longest"
    SHORTEST = "shortest"


@dataclass(frozen=True, slots=True)
class Filters:
    caller: str | None = None  # normalised key (cti.numbers)
    agent_id: int | None = None
    county_id: int | None = None
    did: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_duration_ms: int | None = None
    max_duration_ms: int | None = None
    disposition: str | None = None
    ticket: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    orphan: bool | None = None
    call_id: int | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """What the user may see: their county (None = all) and, for an agent, their calls."""

    county_id: int | None = None
    agent_id: int | None = None
    #: Scoped staff never see orphans (no county): only centre-wide staff do.
    everything: bool = False


class InvalidCursor(ValueError):
    pass


def encode_cursor(sort: Sort, value: object, rid: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([sort.value, value, rid], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: Sort) -> tuple[object, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, value, rid = json.loads(raw)
        if kind != sort.value or not isinstance(rid, int):
            raise ValueError("cursor belongs to another sort order")
        if sort in (Sort.NEWEST, Sort.OLDEST):
            value = datetime.fromisoformat(value)
        elif not isinstance(value, int):
            raise ValueError("bad duration in cursor")
    except (ValueError, TypeError) as exc:
        raise InvalidCursor(f"invalid cursor: {exc}") from None
    return value, rid


def conditions(filters: Filters, scope: Scope) -> list:
    r = Recording
    where = []
    if not scope.everything:
        if scope.agent_id is not None:
            where.append(r.agent_id == scope.agent_id)
        if scope.county_id is not None:
            where.append(r.county_id == scope.county_id)
    f = filters
    if f.caller is not None:
        where.append(r.caller_number == f.caller)
    if f.agent_id is not None:
        where.append(r.agent_id == f.agent_id)
    if f.county_id is not None:
        where.append(r.county_id == f.county_id)
    if f.did is not None:
        where.append(r.did == f.did)
    if f.since is not None:
        where.append(r.started_at >= f.since)
    if f.until is not None:
        where.append(r.started_at < f.until)
    if f.min_duration_ms is not None:
        where.append(r.duration_ms >= f.min_duration_ms)
    if f.max_duration_ms is not None:
        where.append(r.duration_ms <= f.max_duration_ms)
    if f.disposition is not None:
        where.append(r.disposition == f.disposition)
    if f.ticket is not None:
        where.append(
            r.call_id.in_(
                select(Ticket.call_id).where(Ticket.number == f.ticket, Ticket.call_id.is_not(None))
            )
        )
    if f.min_score is not None:
        where.append(r.qa_score >= f.min_score)
    if f.max_score is not None:
        where.append(r.qa_score <= f.max_score)
    if f.orphan is True:
        where.append(r.call_id.is_(None))
    elif f.orphan is False:
        where.append(r.call_id.is_not(None))
    if f.call_id is not None:
        where.append(r.call_id == f.call_id)
    return where


def _key(sort: Sort):
    return Recording.duration_ms if sort in (Sort.LONGEST, Sort.SHORTEST) else Recording.started_at


def page_query(
    filters: Filters,
    scope: Scope,
    sort: Sort = Sort.NEWEST,
    cursor: str | None = None,
    limit: int = 50,
) -> Select:
    """The rows of one page (fetch ``limit + 1`` to know whether there is a next page)."""
    key = _key(sort)
    descending = sort in (Sort.NEWEST, Sort.LONGEST)
    where = conditions(filters, scope)
    if cursor:
        value, rid = decode_cursor(cursor, sort)
        pair = tuple_(key, Recording.id)
        where.append(pair < tuple_(value, rid) if descending else pair > tuple_(value, rid))
    order = (key.desc(), Recording.id.desc()) if descending else (key.asc(), Recording.id.asc())
    return select(Recording).where(and_(True, *where)).order_by(*order).limit(limit + 1)


def next_cursor(sort: Sort, last: Recording) -> str:
    value = last.duration_ms if sort in (Sort.LONGEST, Sort.SHORTEST) else last.started_at
    return encode_cursor(sort, value, last.id)


def count_query(filters: Filters, scope: Scope, cap: int = COUNT_CAP) -> Select:
    """How many rows match, counted up to ``cap + 1`` (more means "over cap")."""
    inner = select(Recording.id).where(and_(True, *conditions(filters, scope))).limit(cap + 1)
    return select(func.count()).select_from(inner.subquery())


__all__ = [
    "COUNT_CAP",
    "Filters",
    "InvalidCursor",
    "Scope",
    "Sort",
    "count_query",
    "decode_cursor",
    "encode_cursor",
    "next_cursor",
    "page_query",
]
