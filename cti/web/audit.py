"""The audit log, read-only, for admins. There is no route that edits or deletes it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from cti.store.audit import AuditFilter, read_page
from cti.web.deps import AdminUser, DbSession
from cti.web.errors import Invalid, documented

router = APIRouter(prefix="/api")


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor_name: str
    action: str
    object_type: str
    object_id: str | None
    detail: dict[str, Any]
    ip: str | None = None


#: Filters as query parameters, shared by the API and the page (``/admin/audit``).
Text = Annotated[str | None, Query(max_length=64, pattern=r"^[\x20-\x7e]*$")]


class AuditQuery(BaseModel):
    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None
    limit: int = 100


def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


def time_problem(name: str, value: str | None) -> tuple[str, str] | None:
    """What is wrong with a time filter, as (detail, field message); ``None``: fine. An
    ISO 8601 time with its UTC offset; empty (a blank form field) means none."""
    if not value:
        return None
    at = _parse_time(value)
    if at is None:
        return f"bad {name}", "an ISO time, e.g. 2027-01-04T09:30:00Z"
    if at.tzinfo is None:
        return f"{name} needs a UTC offset", "give a UTC offset, e.g. Z"
    return None


def filter_problems(raw: AuditFilters) -> dict[str, tuple[str, str]]:
    """Per time filter, what is wrong with it (empty: the filters are fine)."""
    found = {}
    for name in ("since", "until"):
        if problem := time_problem(name, getattr(raw, name)):
            found[name] = problem
    return found


class AuditFilters(BaseModel):
    """The filters as they were typed (the page shows them again when one is refused)."""

    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: str | None = None
    until: str | None = None
    before_id: int | None = None
    limit: int = 100


def audit_filters(
    actor: Text = None,
    action: Text = None,
    object_type: Text = None,
    object_id: Text = None,
    since: Annotated[Text, Query(description="from this time (ISO 8601, with offset)")] = None,
    until: Annotated[Text, Query(description="before this time (ISO 8601, with offset)")] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditFilters:
    return AuditFilters(
        actor=actor or None,
        action=action or None,
        object_type=object_type or None,
        object_id=object_id or None,
        since=since or None,
        until=until or None,
        before_id=before_id,
        limit=limit,
    )


def query_of(raw: AuditFilters) -> AuditQuery:
    """The query filters ask for that ``filter_problems`` found fine."""
    return AuditQuery(
        **raw.model_dump(exclude={"since", "until"}),
        since=_parse_time(raw.since) if raw.since else None,
        until=_parse_time(raw.until) if raw.until else None,
    )


def audit_query(raw: Annotated[AuditFilters, Depends(audit_filters)]) -> AuditQuery:
    """The API's filters; a bad time is a 422 naming its field."""
    problems = filter_problems(raw)
    if problems:
        name, (detail, message) = next(iter(problems.items()))  # since before until
        raise Invalid(detail, fields={name: message})
    return query_of(raw)


AuditFilterParams = Annotated[AuditFilters, Depends(audit_filters)]
AuditParams = Annotated[AuditQuery, Depends(audit_query)]


async def read_entries(db: DbSession, q: AuditQuery) -> list[AuditOut]:
    where = AuditFilter(
        actor=q.actor,
        action=q.action,
        object_type=q.object_type,
        object_id=q.object_id,
        since=q.since,
        until=q.until,
    )
    rows = await read_page(db, where, before_id=q.before_id, limit=q.limit)
    return [
        AuditOut(
            id=row.id,
            at=row.at,
            actor_name=row.actor_name,
            action=row.action,
            object_type=row.object_type,
            object_id=row.object_id,
            detail=row.detail,
            ip=str(row.ip) if row.ip else None,
        )
        for row in rows
    ]


@router.get(
    "/audit",
    summary="Read the audit log, newest first",
    responses=documented(Invalid),
)
async def read_audit(_: AdminUser, db: DbSession, q: AuditParams) -> list[AuditOut]:
    """Newest first; page with ``before_id`` (keyset pagination): pass the last ``id`` of
    a page to get the next. ``actor`` and ``action`` match exactly or, ending in ``*``, by
    prefix (``user.*``)."""
    return await read_entries(db, q)
