"""The agent console: the page, and the WebSocket that carries the screen-pops."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, Response
from starlette.websockets import WebSocketState

from cti.store.users import Role
from cti.web.deps import WS_FORBIDDEN, AgentUser, RequireRole
from cti.web.hub import AgentHub
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
    reader = asyncio.create_task(_read(websocket, hub, interface))
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


#: A browser's message is a small JSON object (``{"type": "close", "pop_id"}``).
MAX_MESSAGE = 2048


async def _read(websocket: WebSocket, hub: AgentHub, interface: str) -> None:
    """Hand what the browser sends to the hub (JSON text only, small) until it
    disconnects; anything else is ignored."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        raw = message.get("text")
        if not raw or len(raw) > MAX_MESSAGE:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        await hub.receive(interface, data)
