"""Callback requests API: the open requests of the agent's county, and the result of a
call back (agents and supervisors; admins read)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from cti.callbacks import service
from cti.callbacks.rules import MAX_NOTE, AlreadyHandled, AttemptResult, CallbackError
from cti.store.callbacks import CallbackStatus
from cti.store.counties import UnknownCounty, county_id_by_code
from cti.store.users import Role
from cti.web.deps import DbSession, RequireRole, client_ip
from cti.web.errors import Conflict, Invalid, NotFound, documented
from cti.web.sessions import AuthContext

router = APIRouter(prefix="/api/callbacks")

Reader = Annotated[AuthContext, Depends(RequireRole(Role.AGENT, Role.SUPERVISOR, Role.ADMIN))]
Worker = Annotated[AuthContext, Depends(RequireRole(Role.AGENT, Role.SUPERVISOR))]


class AttemptIn(BaseModel):
    result: AttemptResult
    # Checked again (and precisely) by the service; this bounds the request body.
    note: str | None = Field(default=None, max_length=MAX_NOTE + 1000)


@router.get("", summary="List callback requests, oldest first", responses=documented(Invalid))
async def list_callbacks(
    ctx: Reader,
    db: DbSession,
    status: Annotated[CallbackStatus, Query()] = CallbackStatus.OPEN,
    county: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = None,
) -> list[service.CallbackView]:
    """Oldest first, at most ``service.LIST_LIMIT``."""
    try:
        county_id = await county_id_by_code(db, county)
    except UnknownCounty as e:
        raise Invalid(f"no county {e.code!r}", fields={"county": "unknown county"}) from None
    return await service.list_requests(db, ctx.user, status=status.value, county_id=county_id)


#: A row id: a Postgres integer (a bigger number is a 422, not a driver error).
RequestId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post(
    "/{request_id}/attempts",
    summary="Record an attempt to call a citizen back",
    responses=documented(NotFound, Invalid, Conflict),
)
async def add_attempt(
    request_id: RequestId, body: AttemptIn, ctx: Worker, db: DbSession, request: Request
) -> service.CallbackView:
    try:
        view = await service.record_attempt(
            db, ctx.user, request_id, body.result, body.note, ip=client_ip(request)
        )
    except LookupError:
        raise NotFound(f"no callback request {request_id}") from None
    except AlreadyHandled as exc:
        raise Conflict(str(exc)) from None
    except CallbackError as exc:
        raise Invalid(str(exc), fields={exc.field: str(exc)}) from None
    await db.commit()
    return view
