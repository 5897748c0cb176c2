"""The agent console: the page, and the WebSocket that carries the screen-pops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, Response
from starlette.websockets import WebSocketState

from cti.store.users import Role
from cti.web.deps import WS_FORBIDDEN, AgentUser, RequireRole
from cti.web.sessions import AuthContext

log = logging.getLogger(__name__)
router = APIRouter()


@router.get(
    "/agent", response_class=HTMLResponse, summary="The agent console (screen-pop, callbacks)"
)
async def console(request: Request, ctx: AgentUser) -> Response:
    return request.app.state.templates.TemplateResponse(
        request,
        "agent.html",
        {"user": ctx.user, "csrf_token": ctx.csrf_token},
    )


@router.websocket("/ws/agent")
async def agent_socket(
    websocket: WebSocket,
    ctx: Annotated[AuthContext, Depends(RequireRole(Role.AGENT))],
) -> None:
    """Pops for the logged-in agent's phone only. Close codes: 4401 log in, 4403 refused."""
    interface = ctx.user.interface
    await websocket.accept()
    if not interface:
        await websocket.close(WS_FORBIDDEN, "no phone interface assigned to this agent")
        return
    hub = websocket.app.state.hub
    # The hub only sends; a closed browser is noticed by reading. Run both and stop at the
    # first to finish, so no handler outlives its socket (uvicorn waits for them at exit).
    sender = asyncio.create_task(hub.serve(websocket, interface))
    reader = asyncio.create_task(_drain(websocket))
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


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the browser sends until it disconnects."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
