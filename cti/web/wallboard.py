"""The supervisors' live wallboard: the page (``/supervisor``, ``?wall=1`` for a wall
display), its JSON snapshot and the WebSocket that pushes the deltas. A supervisor sees
the counties they are assigned to (``User.county_id``; none: every county); an admin sees
every county. The same scope applies to the page, the snapshot and the socket."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.websockets import WebSocketState

from cti.store.callbacks import CallbackRequest, CallbackStatus
from cti.store.counties import County
from cti.store.users import Role, User
from cti.web.deps import DbSession, RequireRole
from cti.web.sessions import AuthContext

router = APIRouter()
SupervisorUser = Annotated[AuthContext, Depends(RequireRole(Role.SUPERVISOR, Role.ADMIN))]


class CountyOut(BaseModel):
    code: str
    name: str
    open_callbacks: int


class WallboardOut(BaseModel):
    counties: list[CountyOut]
    #: The current board as the socket's deltas (``queue``, ``agent``, ``stats``,
    #: ``link``, ``alert``, ``callbacks``, ``dispatch_overdue``), scoped like the socket.
    items: list[dict[str, Any]]


async def visible_counties(db: AsyncSession, user: User) -> list[CountyOut]:
    """The counties ``user`` may watch, with their open callback requests."""
    query = select(County).where(County.retired_at.is_(None)).order_by(County.code)
    if user.role != Role.ADMIN.value and user.county_id is not None:
        query = query.where(County.id == user.county_id)
    counties = (await db.scalars(query)).all()
    counts = dict(
        (
            await db.execute(
                select(CallbackRequest.county_id, func.count())
                .where(CallbackRequest.status == CallbackStatus.OPEN.value)
                .group_by(CallbackRequest.county_id)
            )
        ).all()
    )
    return [
        CountyOut(code=c.code, name=c.name, open_callbacks=counts.get(c.id, 0)) for c in counties
    ]


def scope(user: User, counties: list[CountyOut]) -> frozenset[str] | None:
    """None (every county) for an admin or a centre-wide supervisor."""
    if user.role == Role.ADMIN.value or user.county_id is None:
        return None
    return frozenset(c.code for c in counties)


@router.get("/supervisor", response_class=HTMLResponse, summary="The live wallboard")
async def page(
    request: Request,
    ctx: SupervisorUser,
    db: DbSession,
    wall: Annotated[bool, Query(description="big-screen layout for a wall display")] = False,
) -> Response:
    counties = await visible_counties(db, ctx.user)
    return request.app.state.templates.TemplateResponse(
        request,
        "wallboard.html",
        {"user": ctx.user, "csrf_token": ctx.csrf_token, "counties": counties, "wall": wall},
    )


@router.get("/api/wallboard", summary="The wallboard now, for the caller's counties")
async def snapshot(request: Request, ctx: SupervisorUser, db: DbSession) -> WallboardOut:
    counties = await visible_counties(db, ctx.user)
    hub = request.app.state.wallboard_hub
    items = hub.replica.snapshot(scope(ctx.user, counties), ctx.user.id) if hub else []
    return WallboardOut(counties=counties, items=items)


@router.websocket("/ws/wallboard")
async def wallboard_socket(websocket: WebSocket, ctx: SupervisorUser, db: DbSession) -> None:
    """Deltas of the caller's counties. Close codes: 4401 log in, 4403 refused."""
    counties = await visible_counties(db, ctx.user)
    await db.commit()  # a socket lives for a shift: hold no pooled connection meanwhile
    await websocket.accept()
    hub = websocket.app.state.wallboard_hub
    hello = {"counties": [c.model_dump() for c in counties]}
    sender = asyncio.create_task(
        hub.serve(websocket, scope(ctx.user, counties), ctx.user.id, hello)
    )
    reader = asyncio.create_task(_ignore_until_closed(websocket))
    try:
        await asyncio.wait({sender, reader}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, reader):
            task.cancel()
        for task in (sender, reader):
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task
        if websocket.client_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close()


async def _ignore_until_closed(websocket: WebSocket) -> None:
    """The board is read-only: what the browser sends is read and dropped until it
    disconnects."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
