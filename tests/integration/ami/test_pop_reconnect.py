"""The AMI link drops mid-ring and mid-call, seen from the agent's WebSocket: the real
app (roles api + ami, the real AMI listener, relay, hub and Postgres) against a fake
Asterisk on a real TCP socket replaying the captured call l-after
(``capture2/ami-restart-after.txt``). The fake closes the socket after the ringing events
(or after AgentConnect), accepts the reconnect and answers the re-read with the state it
has. The agent's socket is open throughout and must get each frame once: the ringing pop
once (none again after the reconnect), and an ended/withdrawn frame for a call that ended
while the link was down.

Only the agent's phone is changed in the bytes (PJSIP/1001 becomes one drawn per run, as
interfaces are unique per user in the shared database)."""

from __future__ import annotations

import asyncio
import json
import secrets

import httpx
import pytest
from websockets.asyncio.client import connect

from cti.app import create_app
from cti.bus import InMemoryBus
from cti.store.users import Role
from cti.web.sessions import COOKIE_NAME
from tests.conftest import login
from tests.integration.ami.fake_asterisk import FakeAsterisk, until
from tests.live import live_server
from tests.unit.ami.support import is_event, split_after, trace, without_login

pytestmark = pytest.mark.asyncio

LINKEDID = "1795711897.0"
CALL_FRAMES = {"pop", "answered", "ended", "withdraw", "closed"}


def _phone(data: bytes, phone: str) -> bytes:
    assert b"PJSIP/1001" in data
    return data.replace(b"PJSIP/1001", phone.encode())


def _canned(name: str, phone: str) -> bytes:
    return trace(name).replace(b"PJSIP/1001", phone.encode())


class Agent:
    """The agent's WebSocket, reading every frame into ``frames`` as it arrives."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.frames: list[dict] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            self.frames.append(json.loads(raw))

    def calls(self) -> list[tuple[str, str | None]]:
        return [
            (f["type"], (f.get("pop") or {}).get("state"))
            for f in self.frames
            if f["type"] in CALL_FRAMES
        ]


@pytest.fixture
async def rig(settings, database_url, engine, seeded, make_user):
    phone = "PJSIP/9" + "".join(secrets.choice("0123456789") for _ in range(4))
    username = await make_user(Role.AGENT, interface=phone)
    asterisk = FakeAsterisk()
    await asterisk.start()
    node_settings = settings.model_copy(
        update={"ami_url": [f"ami://hotline:hotline-secret@127.0.0.1:{asterisk.port}"]}
    )
    app = create_app(
        node_settings, database_url, roles={"api", "ami"}, engine=engine, bus=InMemoryBus()
    )
    try:
        async with live_server(app) as base:
            async with httpx.AsyncClient(base_url=base) as client:
                assert (await login(client, username)).status_code == 303
                cookie = client.cookies[COOKIE_NAME]
            async with connect(
                base.replace("http", "ws") + "/ws/agent",
                additional_headers={"Cookie": f"{COOKIE_NAME}={cookie}"},
                origin=base,
                open_timeout=5,
            ) as ws:
                agent = Agent(ws)
                await until(lambda: any(f["type"] == "hello" for f in agent.frames))
                yield asterisk, agent, phone
                agent.task.cancel()
    finally:
        await asterisk.stop()


async def _session(asterisk: FakeAsterisk, canned: bytes):
    session = await asterisk.next_session()
    assert await session.login()
    session.serve_actions(canned)
    await session.resynced.wait()
    return session


async def test_link_drops_mid_ring_the_pop_is_sent_once(rig):
    """Still ringing at the re-read: no second pop; the answer and the end arrive over
    the new AMI session."""
    asterisk, agent, phone = rig
    data = _phone(trace("capture2/ami-restart-after.txt"), phone)
    head, tail = split_after(data, is_event("QueueMemberStatus", Status="6"))
    first = await _session(asterisk, _canned("resync-empty.txt", phone))
    await first.write(without_login(head))
    await until(lambda: agent.calls() == [("pop", "ringing")])
    first.close()
    second = await _session(asterisk, _canned("resync-ringing.txt", phone))
    await second.write(tail)
    await until(lambda: any(t == "ended" for t, _ in agent.calls()))
    await asyncio.sleep(0.3)  # anything late (a duplicate) would arrive now
    assert agent.calls() == [("pop", "ringing"), ("answered", None), ("ended", None)]


async def test_link_drops_mid_call_and_the_call_ends_while_down(rig):
    """Cut after AgentConnect; the re-read finds no channel: the agent gets "ended" for
    the pop it has (kept, the agent may still be writing)."""
    asterisk, agent, phone = rig
    data = _phone(trace("capture2/ami-restart-after.txt"), phone)
    ringing, rest = split_after(data, is_event("QueueMemberStatus", Status="6"))
    connected, _ = split_after(rest, is_event("AgentConnect"))
    first = await _session(asterisk, _canned("resync-empty.txt", phone))
    await first.write(without_login(ringing))
    await until(lambda: agent.calls() == [("pop", "ringing")])
    await first.write(connected)
    await until(lambda: agent.calls() == [("pop", "ringing"), ("answered", None)])
    first.close()
    await _session(asterisk, _canned("resync-empty.txt", phone))
    await until(lambda: any(t in ("ended", "withdraw") for t, _ in agent.calls()))
    await asyncio.sleep(0.3)
    assert agent.calls() == [("pop", "ringing"), ("answered", None), ("ended", None)]
    pop_id = agent.frames[-1]["pop_id"]
    assert pop_id.endswith(f":{LINKEDID}:{phone}")


async def test_link_drops_mid_ring_and_the_call_is_gone_at_the_re_read(rig):
    """The caller hung up while the link was down: the pop is withdrawn, once."""
    asterisk, agent, phone = rig
    data = _phone(trace("capture2/ami-restart-after.txt"), phone)
    head, _ = split_after(data, is_event("QueueMemberStatus", Status="6"))
    first = await _session(asterisk, _canned("resync-empty.txt", phone))
    await first.write(without_login(head))
    await until(lambda: agent.calls() == [("pop", "ringing")])
    first.close()
    await _session(asterisk, _canned("resync-empty.txt", phone))
    await until(lambda: any(t == "withdraw" for t, _ in agent.calls()))
    await asyncio.sleep(0.3)
    assert agent.calls() == [("pop", "ringing"), ("withdraw", None)]
    assert agent.frames[-1]["reason"] == "vanished"
