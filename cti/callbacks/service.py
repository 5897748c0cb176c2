"""Callback requests in Postgres: the list agents work from, and recording an attempt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.callbacks.rules import (
    AttemptResult,
    CallbackError,
    State,
    after_attempt,
    clean_note,
)
from cti.store import audit
from cti.store.base import utcnow
from cti.store.callbacks import CallbackRequest
from cti.store.calls import Call
from cti.store.counties import County
from cti.store.users import User

#: The most requests one list returns (oldest first: the longest-waiting citizen first).
LIST_LIMIT = 200


@dataclass(frozen=True, slots=True)
class CallbackView:
    id: int
    number: str
    caller_name: str | None
    county: str | None
    did: str | None
    requested_at: datetime
    status: str
    attempts: int
    last_attempt_at: datetime | None
    handled_by: str | None
    note: str | None


def _scope(user: User) -> list:
    """A county's staff see their county's requests and those of no county (a call whose
    county was unknown would otherwise reach nobody); centre-wide staff see all."""
    if user.county_id is None:
        return []
    return [or_(CallbackRequest.county_id.is_(None), CallbackRequest.county_id == user.county_id)]


def _select():
    handler = User.__table__.alias("handler")
    return (
        select(
            CallbackRequest,
            Call.caller_name,
            Call.did,
            County.code,
            handler.c.username,
        )
        .join(Call, Call.id == CallbackRequest.call_id)
        .outerjoin(County, County.id == CallbackRequest.county_id)
        .outerjoin(handler, handler.c.id == CallbackRequest.handled_by)
    )


def _view(row) -> CallbackView:
    request, caller_name, did, county, handled_by = row
    return CallbackView(
        id=request.id,
        number=request.number,
        caller_name=caller_name,
        county=county,
        did=did,
        requested_at=request.requested_at,
        status=request.status,
        attempts=request.attempts,
        last_attempt_at=request.last_attempt_at,
        handled_by=handled_by,
        note=request.note,
    )


async def list_requests(
    db: AsyncSession, user: User, *, status: str, county_id: int | None = None
) -> list[CallbackView]:
    stmt = _select().where(CallbackRequest.status == status, *_scope(user))
    if county_id is not None:
        stmt = stmt.where(CallbackRequest.county_id == county_id)
    stmt = stmt.order_by(CallbackRequest.requested_at, CallbackRequest.id).limit(LIST_LIMIT)
    return [_view(row) for row in await db.execute(stmt)]


async def record_attempt(
    db: AsyncSession,
    user: User,
    request_id: int,
    result: AttemptResult,
    note: str | None,
    *,
    ip: str | None = None,
) -> CallbackView:
    """Apply one attempt (row locked: concurrent attempts are serialised) and audit it.
    Raises ``LookupError`` for a request the user may not see, ``CallbackError`` else."""
    text = clean_note(note)
    request = await db.scalar(
        select(CallbackRequest)
        .where(CallbackRequest.id == request_id, *_scope(user))
        .with_for_update()
    )
    if request is None:
        raise LookupError(request_id)
    state = after_attempt(State(request.status, request.attempts), result)
    request.status = state.status
    request.attempts = state.attempts
    request.last_attempt_at = utcnow()
    request.handled_by = user.id
    if text is not None:
        request.note = text
    audit.record(
        db,
        actor_id=user.id,
        actor_name=user.username,
        action="callback.attempt",
        object_type="callback_request",
        object_id=request.id,
        detail={"result": result.value, "status": state.status, "attempts": state.attempts},
        ip=ip,
    )
    await db.flush()
    row = (await db.execute(_select().where(CallbackRequest.id == request.id))).one()
    return _view(row)


__all__ = [
    "LIST_LIMIT",
    "AttemptResult",
    "CallbackError",
    "CallbackView",
    "list_requests",
    "record_attempt",
]
