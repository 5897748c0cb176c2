"""``GET /api/recordings/access-log``: the append-only log of who played or downloaded which
recording. Admins read it; nobody edits it (``audio`` writes it)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from cti.store.recordings import RecordingAccess
from cti.web.deps import AdminUser, DbSession

router = APIRouter()


class AccessOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    user_id: int | None
    username: str
    recording_id: int
    action: str
    variant: str
    byte_range: str | None
    ip: Any = None
    user_agent: str | None


@router.get("/api/recordings/access-log", summary="Who listened to or downloaded which recording")
async def read_access_log(
    _: AdminUser,
    db: DbSession,
    recording_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AccessOut]:
    """Newest first; page with ``before_id``."""
    stmt = select(RecordingAccess).order_by(RecordingAccess.id.desc()).limit(limit)
    if recording_id is not None:
        stmt = stmt.where(RecordingAccess.recording_id == recording_id)
    if before_id is not None:
        stmt = stmt.where(RecordingAccess.id < before_id)
    return [
        AccessOut.model_validate(row).model_copy(update={"ip": str(row.ip) if row.ip else None})
        for row in (await db.scalars(stmt)).all()
    ]
