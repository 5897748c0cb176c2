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


def _when(name: str, value: str | None) -> datetime | None:
    """An ISO 8601 time with its UTC offset; empty (a blank form field) means none."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Invalid(
            f"bad {name}", fields={name: "an ISO time, e.g. 2027-01-04T09:30:00Z"}
        ) from None
    if at.tzinfo is None:
        raise Invalid(f"{name} needs a UTC offset", fields={name: "give a UTC offset, e.g. Z"})
    return at


def audit_query(
    actor: Text = None,
    action: Text = None,
    object_type: Text = None,
    object_id: Text = None,
    since: Annotated[Text, Query(description="from this time (ISO 8601, with offset)")] = None,
    until: Annotated[Text, Query(description="before this time (ISO 8601, with offset)")] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditQuery:
    return AuditQuery(
        actor=actor or None,
        action=action or None,
        object_type=object_type or None,
        object_id=object_id or None,
        since=_when("since", since),
        until=_when("until", until),
        before_id=before_id,
        limit=limit,
    )


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
