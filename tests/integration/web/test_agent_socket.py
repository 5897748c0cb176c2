"""The agent WebSocket over a real server: who may connect, and which pops reach whom."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from cti.store.users import Role
from cti.web.sessions import COOKIE_NAME
from tests.conftest import login
from tests.live import live_server

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def server(app):
    async with live_server(app) as base:
        yield base, app


async def _cookie(base: str, username: str) -> str:
    async with httpx.AsyncClient(base_url=base) as client:
        assert (await login(client, username)).status_code == 303
        return client.cookies[COOKIE_NAME]


def _ws(base: str, cookie: str | None, origin: str | None = None):
    headers = {"Cookie": f"{COOKIE_NAME}={cookie}"} if cookie else {}
    return connect(
        base.replace("http", "ws") + "/ws/agent",
        additional_headers=headers,
        origin=origin if origin is not None else base,
        open_timeout=5,
    )


async def _close_code(base, cookie, origin=None) -> int:
    async with _ws(base, cookie, origin) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
    return closed.value.rcvd.code


async def _recv(ws, timeout=5.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def test_anonymous_socket_is_closed_with_4401(server):
    base, _ = server
    assert await _close_code(base, None) == 4401
    assert await _close_code(base, "forged-token") == 4401


async def test_roles_other_than_agent_are_refused_with_4403(server, make_user):
    base, _ = server
    for role in (Role.INSPECTOR, Role.SUPERVISOR, Role.ADMIN):
        assert await _close_code(base, await _cookie(base, await make_user(role))) == 4403


async def test_cross_origin_socket_is_refused(server, make_user):
    base, _ = server
    cookie = await _cookie(base, await make_user(Role.AGENT, interface="PJSIP/7001"))
    assert await _close_code(base, cookie, origin="http://evil.example") == 4403


async def test_agent_without_a_phone_is_refused(server, make_user):
    base, _ = server
    assert await _close_code(base, await _cookie(base, await make_user(Role.AGENT))) == 4403


def _pop_id(interface: str, linkedid: str) -> str:
    return f"pbx1:{linkedid}:{interface}"


def _pop(interface: str, linkedid: str) -> dict:
    """A message as cti.ami.relay publishes it (payload trimmed to what the hub reads)."""
    return {
        "type": "pop",
        "interface": interface,
        "pop_id": _pop_id(interface, linkedid),
        "pop": {
            "pop_id": _pop_id(interface, linkedid),
            "state": "ringing",
            "node": "pbx1",
            "linkedid": linkedid,
            "caller": {"number": "13800138000", "name": "Citizen", "withheld": False},
        },
    }


async def test_pop_reaches_only_the_ringing_agent_and_survives_a_reconnect(server, make_user):
    base, app = server
    ringing = await _cookie(base, await make_user(Role.AGENT, interface="PJSIP/7101"))
    other = await _cookie(base, await make_user(Role.AGENT, interface="PJSIP/7102"))
    bus = app.state.bus
    async with _ws(base, ringing) as ws1, _ws(base, other) as ws2:
        assert (await _recv(ws1))["type"] == "hello"
        assert (await _recv(ws2))["type"] == "hello"
        await bus.publish("screenpop", _pop("PJSIP/7101", "1795710920.0"))
        got = await _recv(ws1)
        assert got["type"] == "pop" and got["pop"]["linkedid"] == "1795710920.0"
        with pytest.raises(TimeoutError):
            await _recv(ws2, timeout=0.3)

    # The browser reconnects while the phone still rings: the pop is sent again, once.
    await bus.publish("screenpop", _pop("PJSIP/7101", "1795710920.0"))  # duplicate publish
    async with _ws(base, ringing) as ws:
        assert (await _recv(ws))["type"] == "hello"
        again = await _recv(ws)
        assert again["type"] == "pop" and again["pop"]["linkedid"] == "1795710920.0"
        with pytest.raises(TimeoutError):
            await _recv(ws, timeout=0.3)
        await bus.publish(
            "screenpop",
            {
                "type": "withdraw",
                "pop_id": _pop_id("PJSIP/7101", "1795710920.0"),
                "interface": "PJSIP/7101",
                "reason": "answered_elsewhere",
            },
        )
        assert (await _recv(ws))["type"] == "withdraw"

    async with _ws(base, ringing) as ws:  # withdrawn: nothing pending any more
        assert (await _recv(ws))["type"] == "hello"
        with pytest.raises(TimeoutError):
            await _recv(ws, timeout=0.3)


async def test_answered_pop_stays_pending_for_the_answering_agent(server, make_user):
    base, app = server
    cookie = await _cookie(base, await make_user(Role.AGENT, interface="PJSIP/7201"))
    bus = app.state.bus
    await bus.publish("screenpop", _pop("PJSIP/7201", "1795711939.2"))
    await bus.publish(
        "screenpop",
        {
            "type": "answered",
            "pop_id": _pop_id("PJSIP/7201", "1795711939.2"),
            "interface": "PJSIP/7201",
        },
    )
    async with _ws(base, cookie) as ws:
        await _recv(ws)
        pending = await _recv(ws)
        assert pending["type"] == "pop" and pending["pop"]["state"] == "answered"


async def test_healthz_counts_the_hub(server, make_user):
    base, _ = server
    cookie = await _cookie(base, await make_user(Role.AGENT, interface="PJSIP/7301"))
    async with _ws(base, cookie) as ws:
        await _recv(ws)
        async with httpx.AsyncClient(base_url=base) as client:
            hub = (await client.get("/healthz")).json()["hub"]
    assert hub["ok"] is True and hub["sockets"] >= 1


async def test_an_open_socket_holds_no_database_connection(server, make_user, engine):
    # Agents keep the socket open all day: one pooled connection each would exhaust the
    # pool (and Postgres) long before a floor of agents is connected.
    base, _ = server
    cookies = [
        await _cookie(base, await make_user(Role.AGENT, interface=f"PJSIP/740{i}"))
        for i in range(3)
    ]
    before = engine.pool.checkedout()
    async with _ws(base, cookies[0]) as ws1, _ws(base, cookies[1]) as ws2:
        async with _ws(base, cookies[2]) as ws3:
            for ws in (ws1, ws2, ws3):
                assert (await _recv(ws))["type"] == "hello"
            assert engine.pool.checkedout() == before
