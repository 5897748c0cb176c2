"""Wallboard scoping over a real server: the page, the JSON snapshot and the socket show a
county supervisor their county only; centre-wide supervisors and admins see all; other
roles are refused; an overdue dispatch reaches only the supervisors it is addressed to."""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from cti.store.users import Role
from cti.wallboard.publisher import WALLBOARD_CHANNEL
from cti.web.sessions import COOKIE_NAME
from tests.conftest import login
from tests.live import live_server

pytestmark = pytest.mark.asyncio

NORTH = {"type": "queue", "county": "north", "waiting": 2, "oldest_since": 1.0}
SOUTH = {"type": "queue", "county": "south", "waiting": 5, "oldest_since": 2.0}
SOUTH_AGENT = {
    "type": "agent",
    "county": "south",
    "id": "n:PJSIP/2001",
    "interface": "PJSIP/2001",
    "name": "<b>Agent</b>",
    "state": "paused",
    "reason": "lunch",
    "since": 1.0,
}


@pytest.fixture
async def server(app):
    async with live_server(app) as base:
        yield base, app


async def _client(base: str, username: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base)
    assert (await login(client, username)).status_code == 303
    return client


@contextlib.asynccontextmanager
async def _closing(*clients: httpx.AsyncClient):
    try:
        yield
    finally:
        for client in clients:
            await client.aclose()


def _ws(base: str, cookie: str | None, origin: str | None = None):
    headers = {"Cookie": f"{COOKIE_NAME}={cookie}"} if cookie else {}
    return connect(
        base.replace("http", "ws") + "/ws/wallboard",
        additional_headers=headers,
        origin=origin or base,
        open_timeout=5,
    )


async def _recv(ws, timeout=5.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def _close_code(base, cookie, origin=None) -> int:
    async with _ws(base, cookie, origin) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    return closed.value.rcvd.code


async def _user_id(client: httpx.AsyncClient) -> int:
    return (await client.get("/api/me")).json()["id"]


async def test_page_and_snapshot_are_scoped(server, make_user):
    base, app = server
    app.state.wallboard_hub.dispatch(NORTH)
    app.state.wallboard_hub.dispatch(SOUTH)
    app.state.wallboard_hub.dispatch(SOUTH_AGENT)
    north = await _client(base, await make_user(Role.SUPERVISOR, county="north"))
    everyone = await _client(base, await make_user(Role.SUPERVISOR))
    admin = await _client(base, await make_user(Role.ADMIN))
    async with _closing(north, everyone, admin):
        page = (await north.get("/supervisor")).text
        assert 'data-county="north"' in page and 'data-county="south"' not in page
        assert 'href="/supervisor"' in page  # the nav link
        body = (await north.get("/api/wallboard")).json()
        assert [c["code"] for c in body["counties"]] == ["north"]
        assert [i for i in body["items"] if i.get("county")] == [NORTH]
        for client in (everyone, admin):
            page = (await client.get("/supervisor?wall=1")).text
            assert 'data-county="south"' in page and "wallboard wall" in page
            items = (await client.get("/api/wallboard")).json()["items"]
            assert NORTH in items and SOUTH in items and SOUTH_AGENT in items
    for role in (Role.AGENT, Role.INSPECTOR, Role.COMPANY):
        other = await _client(base, await make_user(role))
        async with _closing(other):
            assert (await other.get("/supervisor")).status_code == 403
            assert (await other.get("/api/wallboard")).status_code == 403
    async with httpx.AsyncClient(base_url=base) as anonymous:
        assert (await anonymous.get("/api/wallboard")).status_code == 401


async def test_socket_refuses_other_roles_and_other_origins(server, make_user):
    base, _ = server
    assert await _close_code(base, None) == 4401
    for role in (Role.AGENT, Role.INSPECTOR):
        c = await _client(base, await make_user(role))
        async with _closing(c):
            assert await _close_code(base, c.cookies[COOKIE_NAME]) == 4403
    c = await _client(base, await make_user(Role.SUPERVISOR))
    async with _closing(c):
        assert await _close_code(base, c.cookies[COOKIE_NAME], "http://evil.example") == 4403


async def test_socket_delivers_only_the_supervisors_counties(server, make_user):
    base, app = server
    bus = app.state.bus
    north = await _client(base, await make_user(Role.SUPERVISOR, county="north"))
    everyone = await _client(base, await make_user(Role.SUPERVISOR))
    async with _closing(north, everyone):
        north_id, everyone_id = await _user_id(north), await _user_id(everyone)
        async with (
            _ws(base, north.cookies[COOKIE_NAME]) as n_ws,
            _ws(base, everyone.cookies[COOKIE_NAME]) as e_ws,
        ):
            hello = await _recv(n_ws)
            assert hello["type"] == "hello"
            assert [c["code"] for c in hello["counties"]] == ["north"]
            assert (await _recv(e_ws))["type"] == "hello"
            await bus.publish(WALLBOARD_CHANNEL, SOUTH)
            await bus.publish(WALLBOARD_CHANNEL, NORTH)
            assert await _recv(e_ws) == SOUTH
            assert await _recv(e_ws) == NORTH
            assert await _recv(n_ws) == NORTH  # south's delta never reached it
            overdue = {
                "type": "dispatch_overdue",
                "dispatch_id": 7,
                "ticket": "T-1",
                "county": "south",
                "company": "Acme",
                "late": "acceptance",
                "due_by": "2026-12-07T08:00:00+00:00",
                "to": [everyone_id],
            }
            await bus.publish("supervisors", overdue)
            await bus.publish("supervisors", {**overdue, "dispatch_id": 8, "to": [north_id]})
            await bus.publish(WALLBOARD_CHANNEL, {**NORTH, "waiting": 3})
            assert await _recv(e_ws) == overdue
            # Addressed to north's supervisor, but about a south ticket: outside the scope.
            assert (await _recv(n_ws))["waiting"] == 3
            link = {"type": "link", "nodes": {"pbx1": "disconnected"}, "at": 5.0}
            await bus.publish(WALLBOARD_CHANNEL, link)
            assert await _recv(n_ws) == link
