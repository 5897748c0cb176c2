"""The audit log, read-only, for admins. There is no route that edits or deletes it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from cti.store.audit import AuditEntry
from cti.web.deps import AdminUser, DbSession

router = APIRouter(prefix="/api")


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_name: str
    action: str
    object_type: str
    object_id: str | None
    detail: dict[str, Any]
    ip: Any = None


@router.get("/audit", summary="Read the audit log, newest first")
async def read_audit(
    _: AdminUser,
    db: DbSession,
    before_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditOut]:
    """Newest first; page with ``before_id`` (keyset pagination)."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    rows = (await db.scalars(stmt)).all()
    return [
        AuditOut.model_validate(row).model_copy(update={"ip": str(row.ip) if row.ip else None})
        for row in rows
    ]
