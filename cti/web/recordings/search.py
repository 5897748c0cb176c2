"""``GET /api/recordings``: the recordings search (filters, sort, cursor paging, capped count)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from cti.numbers import normalise
from cti.recordings import search
from cti.store.calls import DISPOSITION_VALUES
from cti.store.counties import UnknownCounty, county_id_by_code
from cti.store.users import User
from cti.web.deps import AnyUser, AppSettings, DbSession
from cti.web.errors import Invalid, documented
from cti.web.recordings.shared import RecordingOut, recordings_out, scope_of

router = APIRouter()


class SearchOut(BaseModel):
    items: list[RecordingOut]
    next_cursor: str | None
    #: Matches, counted up to ``count_cap``; ``count_capped`` says there are more.
    count: int
    count_capped: bool
    count_cap: int


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


TEXT = r"^[A-Za-z0-9_.:/@+-]{1,80}$"


@router.get(
    "/api/recordings",
    summary="Search recordings: caller, agent, county, time, duration, score, ticket",
    responses=documented(Invalid),
)
async def search_recordings(
    ctx: AnyUser,
    db: DbSession,
    settings: AppSettings,
    caller: Annotated[str | None, Query(max_length=40)] = None,
    agent: Annotated[str | None, Query(pattern=TEXT)] = None,
    county: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = None,
    did: Annotated[str | None, Query(pattern=r"^[0-9+*#]{1,32}$")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    min_duration: Annotated[float | None, Query(ge=0, le=86400 * 7)] = None,
    max_duration: Annotated[float | None, Query(ge=0, le=86400 * 7)] = None,
    disposition: Annotated[Literal[DISPOSITION_VALUES] | None, Query()] = None,  # type: ignore[valid-type]
    ticket: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9-]{1,24}$")] = None,
    min_score: Annotated[float | None, Query(ge=0, le=100)] = None,
    max_score: Annotated[float | None, Query(ge=0, le=100)] = None,
    orphan: bool | None = None,
    sort: search.Sort = search.Sort.NEWEST,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SearchOut:
    """Filters combine with AND. ``caller`` takes the number in any form (normalised);
    ``agent`` is a username, an interface (``PJSIP/1001``) or an extension (``1001``);
    durations are in seconds; ``since`` is inclusive, ``until`` exclusive."""
    caller_key = None
    if caller is not None:
        caller_key = normalise(caller, settings.number_plan).key
        if not caller_key:
            raise Invalid("caller is not a phone number", fields={"caller": "not a number"})
    agent_id = None
    if agent is not None:
        agent_id = await db.scalar(
            select(User.id).where(
                (User.username == agent)
                | (User.interface == agent)
                | (User.interface == f"PJSIP/{agent}")
            )
        )
        if agent_id is None:
            raise Invalid(f"no agent {agent!r}", fields={"agent": "unknown agent"})
    try:
        county_id = await county_id_by_code(db, county)
    except UnknownCounty as e:
        raise Invalid(f"no county {e.code!r}", fields={"county": "unknown county"}) from None
    filters = search.Filters(
        caller=caller_key,
        agent_id=agent_id,
        county_id=county_id,
        did=did,
        since=_utc(since),
        until=_utc(until),
        min_duration_ms=None if min_duration is None else int(min_duration * 1000),
        max_duration_ms=None if max_duration is None else int(max_duration * 1000),
        disposition=disposition,
        ticket=ticket,
        min_score=min_score,
        max_score=max_score,
        orphan=orphan,
    )
    scope = scope_of(ctx.user)
    try:
        stmt = search.page_query(filters, scope, sort, cursor, limit)
    except search.InvalidCursor as exc:
        raise Invalid(str(exc), fields={"cursor": "invalid"}) from None
    rows = list((await db.scalars(stmt)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    count = await db.scalar(search.count_query(filters, scope)) or 0
    return SearchOut(
        items=await recordings_out(db, rows),
        next_cursor=search.next_cursor(sort, rows[-1]) if more else None,
        count=min(count, search.COUNT_CAP),
        count_capped=count > search.COUNT_CAP,
        count_cap=search.COUNT_CAP,
    )
