"""The AMI listener (``AmiService``: connection + tracker + publish) over real TCP against
a small AMI server that replays captured bytes.

No assertion is about time: ``until`` only guards against a hang; timeouts and backoff
are set short so that reconnects happen quickly, and long where they must not interfere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from cti.ami.connection import AmiConnection, Backoff, ConnectionState
from cti.ami.events import DomainEvent, NodeResynced
from cti.ami.service import AmiService
from cti.numbers import NumberPlan
from cti.settings import AmiNode
from tests.integration.ami.fake_asterisk import FakeAsterisk, Session, until
from tests.unit.ami.support import (
    abandoned,
    agent,
    answered,
    blocks_of,
    ended,
    is_event,
    join,
    offered,
    split_after,
    trace,
    withdrawn,
    without_login,
)

FAST = {
    "backoff": Backoff(initial=0.01, maximum=0.05, jitter=0.0),
    "ping_interval": 60.0,
    "connect_timeout": 5.0,
    "action_timeout": 5.0,
    "stable_after": 3600.0,
}
L_AFTER = "1795711897.0"
IDLE_AGENTS = [
    agent("PJSIP/1001", "idle"),
    agent("PJSIP/1002", "idle"),
    agent("PJSIP/2001", "idle"),
]
OFFER = offered(
    L_AFTER,
    "13800138032",
    "Citizen After Restart",
    "9615601",
    "north",
    "county-north",
    "PJSIP/1001",
    "2026-11-26T16:51:37.303783+00:00",
)


class Listener:
    def __init__(self, server: FakeAsterisk, **options: object) -> None:
        self.events: list[DomainEvent] = []
        self.resyncs: list[NodeResynced] = []
        node = AmiNode("pbx1", "127.0.0.1", server.port, "hotline", "hotline-secret")
        self.service = AmiService([node], NumberPlan(), self.publish, **{**FAST, **options})
        self.connection = self.service.connections[0]

    async def publish(self, event: DomainEvent) -> None:
        # The resync's summary (``node_resynced``) is checked on its own, in
        # tests/integration/ami/test_restart.py; the call events are compared here.
        if isinstance(event, NodeResynced):
            self.resyncs.append(event)
            return
        self.events.append(event)

    def dicts(self) -> list[dict]:
        out = []
        for event in self.events:
            data = event.to_dict()
            assert data.pop("node") == "pbx1"
            out.append(data)
        return out

    def has(self, kind: str) -> bool:
        return any(e.type == kind for e in self.events)


@pytest.fixture
async def server() -> AsyncIterator[FakeAsterisk]:
    fake = FakeAsterisk()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def listener(server: FakeAsterisk) -> AsyncIterator[Listener]:
    lis = Listener(server)
    await lis.service.start()
    yield lis
    await lis.service.stop()


async def connect(server: FakeAsterisk, canned: str, connection: AmiConnection) -> Session:
    """Accept the listener's next connection, log it in, answer its resync from
    ``canned``, and return once the listener has received all of the answers."""
    session = await server.next_session()
    assert await session.login()
    done = connection.stats.resyncs_done
    session.serve_actions(trace(canned))
    await until(lambda: connection.stats.resyncs_done > done)
    return session


def ringing_cut() -> tuple[bytes, bytes]:
    return split_after(
        trace("capture2/ami-restart-after.txt"), is_event("QueueMemberStatus", Status="6")
    )


async def test_login_and_resync_actions(server: FakeAsterisk, listener: Listener) -> None:
    """Login asks for the narrow event classes; every connect resyncs with Ping,
    QueueStatus, Status, CoreShowChannels; stop() logs off."""
    session = await connect(server, "resync-empty.txt", listener.connection)
    login = session.received[0]
    assert login["Events"] == "call,agent,user,system"
    assert (login["Username"], login["Secret"]) == ("hotline", "hotline-secret")
    assert session.actions() == ["Login", "Ping", "QueueStatus", "Status", "CoreShowChannels"]
    await until(lambda: len(listener.events) == 3)
    assert listener.dicts() == IDLE_AGENTS
    health = listener.service.health()
    assert health.ok
    assert health.detail["nodes"]["pbx1"]["state"] == "connected"
    assert 'cti_ami_connected{node="pbx1"} 1' in listener.service.metrics()
    await listener.service.stop()
    assert session.actions()[-1] == "Logoff"
    assert listener.connection.state is ConnectionState.STOPPED


async def test_disconnect_while_ringing_then_resync_no_lost_no_duplicate_pop(
    server: FakeAsterisk, listener: Listener
) -> None:
    """Call l-after: the connection drops while 1001 rings; the listener reconnects, the
    resync finds the call still ringing: the pop was shown once and is not shown again,
    and the answer and the end arrive over the new session."""
    head, tail = ringing_cut()
    first = await connect(server, "resync-empty.txt", listener.connection)
    await first.write(without_login(head))
    await until(lambda: listener.has("call_offered"))
    first.close()
    second = await connect(server, "resync-ringing.txt", listener.connection)
    await second.write(tail)
    await until(lambda: listener.has("call_ended"))
    assert listener.dicts() == [
        *IDLE_AGENTS,
        OFFER,
        agent("PJSIP/1001", "ringing"),
        answered(L_AFTER, "PJSIP/1001", 2),
        agent("PJSIP/1001", "in_call"),
        agent("PJSIP/1001", "idle"),
        ended(L_AFTER, "answered", 2, 4),
    ]
    stats = listener.connection.stats
    assert (stats.logins, stats.disconnects, stats.resyncs) == (2, 1, 2)


async def test_disconnect_while_ringing_answered_meanwhile(
    server: FakeAsterisk, listener: Listener
) -> None:
    """Same cut, but 1001 answered while we were away: the resync reports the answer
    (keeping 1001's pop), and AgentComplete later supplies the wait and talk times."""
    head, _ = ringing_cut()
    _, tail = split_after(
        trace("capture2/ami-restart-after.txt"), is_event("BridgeEnter", Uniqueid=L_AFTER)
    )
    first = await connect(server, "resync-empty.txt", listener.connection)
    await first.write(without_login(head))
    await until(lambda: listener.has("call_offered"))
    first.close()
    second = await connect(server, "resync-answered.txt", listener.connection)
    await second.write(tail)
    await until(lambda: listener.has("call_ended"))
    assert listener.dicts() == [
        *IDLE_AGENTS,
        OFFER,
        agent("PJSIP/1001", "ringing"),
        agent("PJSIP/1001", "in_call"),
        answered(L_AFTER, "PJSIP/1001", None),
        agent("PJSIP/1001", "idle"),
        ended(L_AFTER, "answered", 2, 4),
    ]


async def test_disconnect_while_ringing_call_gone_meanwhile(
    server: FakeAsterisk, listener: Listener
) -> None:
    head, _ = ringing_cut()
    first = await connect(server, "resync-empty.txt", listener.connection)
    await first.write(without_login(head))
    await until(lambda: listener.has("call_offered"))
    first.close()
    await connect(server, "resync-empty.txt", listener.connection)
    await until(lambda: listener.has("call_ended"))
    assert listener.dicts() == [
        *IDLE_AGENTS,
        OFFER,
        agent("PJSIP/1001", "ringing"),
        agent("PJSIP/1001", "idle"),
        withdrawn(L_AFTER, "PJSIP/1001", "vanished"),
        ended(L_AFTER, "unknown", None, None),
    ]


async def test_utf8_character_split_between_two_reads(
    server: FakeAsterisk, listener: Listener
) -> None:
    """The caller's Newchannel is cut between the two bytes of 'é'. A member status event
    goes first in the same write, so once the listener has counted it we know it has
    read up to the cut; then the rest follows."""
    data = trace("capture2/ami-events-call-agent-user.txt").replace(
        b"Citizen Filtered", "José 张伟".encode()
    )
    body = without_login(data)
    _, blocks = blocks_of(trace("capture2/ami-member-state-changes.txt"))
    member = next(b for b in blocks if b.startswith("Event: QueueMemberStatus"))
    chunk = join(None, [member]) + body
    cut = chunk.index("é".encode()) + 1
    session = await connect(server, "resync-empty.txt", listener.connection)
    seen = listener.connection.stats.events
    await session.write(chunk[:cut])
    await until(lambda: listener.connection.stats.events == seen + 1)
    await session.write(chunk[cut:])
    await until(lambda: listener.has("call_ended"))
    pop = next(e for e in listener.events if e.type == "call_offered")
    assert pop.caller_name == "José 张伟"


async def test_failed_login_is_reported_and_retried(server: FakeAsterisk) -> None:
    """Asterisk answers a wrong secret with 'Authentication failed' and closes: the node
    shows auth_failed (unhealthy), and the listener keeps trying."""
    lis = Listener(server)
    lis.connection.node = AmiNode("pbx1", "127.0.0.1", server.port, "hotline", "wrong-secret")
    await lis.service.start()
    try:
        for _ in range(2):
            session = await server.next_session()
            assert not await session.login()
        await until(lambda: lis.connection.stats.login_failures == 2)
        await until(lambda: lis.connection.state is ConnectionState.AUTH_FAILED)
        health = lis.service.health()
        assert not health.ok
        assert health.detail["nodes"]["pbx1"]["last_error"] == (
            "login refused: Authentication failed"
        )
        assert lis.connection.stats.logins == 0
        assert 'cti_ami_login_failures_total{node="pbx1"} 2' in lis.service.metrics()
    finally:
        await lis.service.stop()


async def test_unanswered_ping_drops_a_dead_peer_and_reconnects(server: FakeAsterisk) -> None:
    """A peer that stops answering (half-open TCP, hung Asterisk) is noticed by the
    keep-alive Ping; the listener reconnects and resyncs."""
    lis = Listener(server, ping_interval=0.05, ping_timeout=0.2)
    await lis.service.start()
    try:
        first = await connect(server, "resync-empty.txt", lis.connection)
        first.answer_pings = False
        second = await connect(server, "resync-empty.txt", lis.connection)
        assert lis.connection.stats.ping_timeouts == 1
        assert "Ping" in first.actions()[5:]
        await until(lambda: lis.connection.state is ConnectionState.CONNECTED)
        assert second.actions()[:5] == [
            "Login",
            "Ping",
            "QueueStatus",
            "Status",
            "CoreShowChannels",
        ]
    finally:
        await lis.service.stop()


async def test_fully_booted_after_resync_resyncs_again(
    server: FakeAsterisk, listener: Listener
) -> None:
    """Logged in while Asterisk was still booting: its later FullyBooted triggers a
    second resync on the same session."""
    session = await connect(server, "resync-empty.txt", listener.connection)
    await session.write(
        b"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 3\r\n"
        b"LastReload: 3\r\nStatus: Fully Booted\r\n\r\n"
    )
    await until(lambda: listener.connection.stats.resyncs_done == 2)
    assert session.actions()[5:9] == ["Ping", "QueueStatus", "Status", "CoreShowChannels"]
    assert listener.connection.stats.resyncs == 2


async def test_publish_failure_does_not_stop_the_stream(server: FakeAsterisk) -> None:
    calls: list[str] = []

    async def flaky(event: DomainEvent) -> None:
        calls.append(event.type)
        if len(calls) == 1:
            raise RuntimeError("bus down")

    node = AmiNode("pbx1", "127.0.0.1", server.port, "hotline", "hotline-secret")
    service = AmiService([node], NumberPlan(), flaky, **FAST)
    await service.start()
    try:
        session = await connect(server, "resync-empty.txt", service.connections[0])
        await session.write(without_login(trace("capture2/ami-events-call-agent-user.txt")))
        await until(lambda: "call_ended" in calls)
        assert service.publish_errors == 1
        assert "cti_ami_publish_errors_total 1" in service.metrics()
    finally:
        await service.stop()


def test_duplicate_node_names_are_refused() -> None:
    node = AmiNode("pbx1", "127.0.0.1", 5038, "u", "s")

    async def publish(event: DomainEvent) -> None:
        return None

    with pytest.raises(ValueError, match="unique"):
        AmiService([node, node], NumberPlan(), publish)
    bad = AmiNode("pbx2", "127.0.0.1", 5038, "u", "s\r\nAction: Originate")
    with pytest.raises(ValueError, match="line breaks"):
        AmiService([bad], NumberPlan(), publish)


async def test_backend_started_while_a_call_rings(server: FakeAsterisk, listener: Listener) -> None:
    """A (re)started backend knows nothing; the first resync finds 1001 ringing and pops
    it once (its time is the listener's clock: no event timestamp exists for it)."""
    _, tail = ringing_cut()
    session = await connect(server, "resync-ringing.txt", listener.connection)
    await session.write(tail)
    await until(lambda: listener.has("call_ended"))
    got = listener.dicts()
    offer = got[3]
    assert offer.pop("at")  # the listener's clock
    assert offer == {k: v for k, v in OFFER.items() if k != "at"}
    assert got[:3] + got[4:] == [
        agent("PJSIP/1001", "ringing"),
        agent("PJSIP/1002", "idle"),
        agent("PJSIP/2001", "idle"),
        answered(L_AFTER, "PJSIP/1001", 2),
        agent("PJSIP/1001", "in_call"),
        agent("PJSIP/1001", "idle"),
        ended(L_AFTER, "answered", 2, 4),
    ]


async def test_two_nodes_with_the_same_ids() -> None:
    """Two Asterisk nodes replay the same call (same Uniqueids): each node's events are
    complete and tagged with its name; one node down makes the service unhealthy."""
    servers = [FakeAsterisk(), FakeAsterisk()]
    for fake in servers:
        await fake.start()
    events: list[DomainEvent] = []

    async def publish(event: DomainEvent) -> None:
        events.append(event)

    nodes = [
        AmiNode(name, "127.0.0.1", fake.port, "hotline", "hotline-secret")
        for name, fake in zip(("north-pbx", "south-pbx"), servers, strict=True)
    ]
    service = AmiService(nodes, NumberPlan(), publish, **FAST)
    await service.start()
    try:
        sessions = [
            await connect(fake, "resync-empty.txt", conn)
            for fake, conn in zip(servers, service.connections, strict=True)
        ]
        assert service.health().ok
        body = without_login(trace("capture2/ami-events-call-agent-user.txt"))
        for session in sessions:
            await session.write(body)
        await until(lambda: sum(e.type == "call_ended" for e in events) == 2)
        for node in ("north-pbx", "south-pbx"):
            mine = [e.to_dict() for e in events if e.node == node]
            assert [e["type"] for e in mine].count("call_offered") == 1
            assert mine[-1] == {
                "type": "call_ended",
                "node": node,
                "linkedid": "1795711974.5",
                "disposition": "answered",
                "wait_s": 2,
                "talk_s": 4,
            }
        sessions[1].close()
        await until(lambda: not service.health().ok)
        detail = service.health().detail["nodes"]
        assert detail["north-pbx"]["state"] == "connected"
        assert detail["south-pbx"]["state"] in ("disconnected", "connecting")
    finally:
        await service.stop()
        for fake in servers:
            await fake.stop()


async def test_asterisk_restart_over_tcp(server: FakeAsterisk, listener: Listener) -> None:
    """Scenario l end to end: the first session ends with Shutdown and a close without
    Goodbye; the listener reconnects to the restarted Asterisk (counters back to .0)."""
    first = await connect(server, "resync-empty.txt", listener.connection)
    await first.write(without_login(trace("capture2/ami-restart-before.txt")))
    first.close()
    second = await connect(server, "resync-empty.txt", listener.connection)
    await second.write(without_login(trace("capture2/ami-restart-after.txt")))
    await until(lambda: sum(e.type == "call_ended" for e in listener.events) == 2)
    killed, after = "1795711889.34", L_AFTER
    assert listener.dicts() == [
        *IDLE_AGENTS,
        offered(
            killed,
            "13900139031",
            "Citizen Restart",
            "9615602",
            "south",
            "county-south",
            "PJSIP/2001",
            "2026-11-26T16:51:29.707679+00:00",
        ),
        agent("PJSIP/2001", "ringing"),
        withdrawn(killed, "PJSIP/2001", "shutdown"),
        abandoned(killed, "county-south", 2, 1),
        agent("PJSIP/2001", "idle"),
        ended(killed, "abandoned", 2, 0),
        OFFER,
        agent("PJSIP/1001", "ringing"),
        answered(after, "PJSIP/1001", 2),
        agent("PJSIP/1001", "in_call"),
        agent("PJSIP/1001", "idle"),
        ended(after, "answered", 2, 4),
    ]
    assert listener.connection.stats.logins == 2
