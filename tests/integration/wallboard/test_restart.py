"""The wallboard across an AMI reconnect, over a real TCP socket to a fake Asterisk that
replays captured bytes: the board is built from the stream, the link goes down (every
board says stale), and after the reconnect the QueueStatus re-read makes the board right
again before the rest of the call arrives. Publisher and hub talk over a real bus."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cti.ami.service import AmiService
from cti.bus import InMemoryBus
from cti.numbers import NumberPlan
from cti.settings import AmiNode
from cti.wallboard.publisher import WallboardPublisher
from cti.web.wallboard_hub import WallboardHub
from tests.integration.ami.fake_asterisk import FakeAsterisk, until
from tests.integration.ami.test_listener import FAST, connect, ringing_cut
from tests.unit.ami.support import without_login

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def server() -> AsyncIterator[FakeAsterisk]:
    fake = FakeAsterisk()
    await fake.start()
    yield fake
    await fake.stop()


async def _ignore(_event) -> None:
    return None


def agent_states(hub: WallboardHub, county: str) -> dict[str, str]:
    return {a["interface"]: a["state"] for a in hub.replica.agents.get(county, {}).values()}


async def test_reconnect_re_reads_queue_status_and_stale_is_shown_while_down(server):
    bus = InMemoryBus()
    node = AmiNode("pbx1", "127.0.0.1", server.port, "hotline", "hotline-secret")
    ami = AmiService([node], NumberPlan(), _ignore, **FAST)
    publisher = WallboardPublisher(ami, bus, heartbeat_s=0.05)
    hub = WallboardHub(bus)
    await hub.start()
    await publisher.start()
    await ami.start()
    try:
        head, tail = ringing_cut()
        first = await connect(server, "resync-empty.txt", ami.connection("pbx1"))
        await first.write(without_login(head))
        await until(lambda: hub.replica.queues.get("north", {}).get("waiting") == 1)
        await until(lambda: agent_states(hub, "north").get("PJSIP/1001") == "ringing")
        await until(lambda: hub.replica.link["nodes"] == {"pbx1": "connected"})

        first.close()
        await until(lambda: hub.replica.link["nodes"]["pbx1"] != "connected")

        # While down, the call was still ringing; the re-read says so (QueueEntry Wait 1,
        # 1001 Status 6 ringing, 1002 idle) and the link is up again.
        second = await connect(server, "resync-ringing.txt", ami.connection("pbx1"))
        await until(lambda: hub.replica.link["nodes"]["pbx1"] == "connected")
        assert hub.replica.queues["north"]["waiting"] == 1
        assert agent_states(hub, "north") == {"PJSIP/1001": "ringing", "PJSIP/1002": "idle"}

        await second.write(tail)
        await until(lambda: hub.replica.stats.get("north", {}).get("answered") == 1)
        await until(lambda: agent_states(hub, "north").get("PJSIP/1001") == "idle")
        assert hub.replica.queues["north"]["waiting"] == 0
        stats = hub.replica.stats["north"]
        assert (stats["avg_wait_s"], stats["service_level"]) == (2.0, 100.0)
        await until(lambda: hub.replica.stats["north"]["avg_handle_s"] == 4.0)
    finally:
        await ami.stop()
        await publisher.stop()
        await hub.stop()


async def test_a_hub_started_later_gets_the_whole_board(server):
    """An API process restarted while the AMI side runs: its request brings every
    county's board back at once."""
    bus = InMemoryBus()
    node = AmiNode("pbx1", "127.0.0.1", server.port, "hotline", "hotline-secret")
    ami = AmiService([node], NumberPlan(), _ignore, **FAST)
    publisher = WallboardPublisher(ami, bus, heartbeat_s=0.05)
    await publisher.start()
    await ami.start()
    hub = WallboardHub(bus)
    try:
        await connect(server, "resync-ringing.txt", ami.connection("pbx1"))
        await until(lambda: "north" in publisher.board.counties())
        await hub.start()
        await until(lambda: hub.replica.queues.get("north", {}).get("waiting") == 1)
        await until(lambda: agent_states(hub, "north").get("PJSIP/1001") == "ringing")
        assert "south" in hub.replica.queues
    finally:
        await ami.stop()
        await publisher.stop()
        await hub.stop()
