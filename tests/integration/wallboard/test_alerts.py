"""Wallboard alerts end to end on the AMI side: a fake Asterisk replays the captured
answered queue call over a real TCP socket to the real AMI listener; the publisher checks
the board with the alert watch (real Postgres for the settings and the log, a real SMTP
server, aiosmtpd, for the email), and the hub over a real bus keeps what a board shows.

north is set to alert above 0 calls waiting and above 30 s of longest wait, emailed: the
caller joining raises "waiting" (logged, emailed to north's supervisor with an address
and to no one else), the clock moving on raises "longest wait" from a heartbeat, the
answer clears both (cleared times logged). A restarted watch takes the open alerts back
instead of raising them again. north's settings are put back afterwards (the database is
shared by the run).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from sqlalchemy import select, update

from cti.ami.service import AmiService
from cti.bus import InMemoryBus
from cti.dispatch.notifier import SmtpConfig
from cti.numbers import NumberPlan
from cti.settings import AmiNode
from cti.store.users import Role, User
from cti.store.wallboard import WallboardAlert
from cti.wallboard.alerts import Hysteresis
from cti.wallboard.publisher import WallboardPublisher
from cti.wallboard.watch import AlertWatch
from cti.web.wallboard_hub import BoardReplica, WallboardHub, visible
from tests.integration.ami.fake_asterisk import FakeAsterisk, until
from tests.integration.ami.test_listener import FAST, connect
from tests.integration.smtp import Inbox, running
from tests.unit.ami.support import is_event, split_after, trace, without_login

pytestmark = pytest.mark.asyncio

#: The QueueCallerJoin's Timestamp in ami-answered-queue-call.txt.
JOINED = 1795710920.390659


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    with running(inbox) as port:
        yield inbox, port


@pytest.fixture
async def server() -> AsyncIterator[FakeAsterisk]:
    fake = FakeAsterisk()
    await fake.start()
    yield fake
    await fake.stop()


async def _supervisor(session_factory, make_user, county: str, email: str | None) -> str:
    username = await make_user(Role.SUPERVISOR, county=county)
    async with session_factory() as db, db.begin():
        await db.execute(update(User).where(User.username == username).values(email=email))
    return username


async def _alerts(session_factory, county_id: int, since_id: int) -> list[WallboardAlert]:
    async with session_factory() as db:
        return list(
            await db.scalars(
                select(WallboardAlert)
                .where(WallboardAlert.county_id == county_id, WallboardAlert.id > since_id)
                .order_by(WallboardAlert.id)
            )
        )


async def _last_id(session_factory) -> int:
    async with session_factory() as db:
        return await db.scalar(select(WallboardAlert.id).order_by(WallboardAlert.id.desc())) or 0


async def test_a_replayed_call_raises_logs_emails_and_clears(
    server, smtp_server, north_alerts, session_factory, make_user
):
    inbox, port = smtp_server
    tag = secrets.token_hex(3)
    await _supervisor(session_factory, make_user, "north", f"north-{tag}@example.org")
    await _supervisor(session_factory, make_user, "north", None)  # no address: not emailed
    await _supervisor(session_factory, make_user, "south", f"south-{tag}@example.org")
    since_id = await _last_id(session_factory)

    now = [JOINED + 10]
    smtp = SmtpConfig("127.0.0.1", port, "hotline@example.org", starttls=False, timeout_s=5)
    bus = InMemoryBus()

    def make_watch() -> AlertWatch:
        return AlertWatch(
            session_factory,
            bus=bus,
            smtp=smtp,
            hysteresis=Hysteresis(raise_after_s=0, clear_after_s=0, renotify_after_s=600),
            clock=lambda: now[0],
        )

    watch = make_watch()
    node = AmiNode("pbx1", "127.0.0.1", server.port, "hotline", "hotline-secret")

    async def ignore(_event) -> None:
        return None

    ami = AmiService([node], NumberPlan(), ignore, **FAST)
    publisher = WallboardPublisher(ami, bus, alerts=watch, heartbeat_s=0.05)
    hub = WallboardHub(bus)
    data = without_login(trace("ami-answered-queue-call.txt"))
    ringing, rest = split_after(data, is_event("QueueMemberStatus", Status="6"))
    for service in (watch, hub, publisher, ami):
        await service.start()
    try:
        session = await connect(server, "resync-empty.txt", ami.connection("pbx1"))
        await session.write(ringing)
        await until(lambda: "waiting" in hub.replica.alerts.get("north", {}))
        raised = hub.replica.alerts["north"]["waiting"]
        assert (raised["state"], raised["value"], raised["threshold"]) == ("raised", 1, 0)
        assert raised["text"] == "1 calls waiting (limit 0)" and raised["raised_at"] == now[0]
        assert "longest_wait" not in hub.replica.alerts["north"]  # 10 s, limit 30 s

        now[0] = JOINED + 45  # the caller still waits: the heartbeat's check raises it
        await until(lambda: "longest_wait" in hub.replica.alerts.get("north", {}))
        assert hub.replica.alerts["north"]["longest_wait"]["value"] == 45

        await until(lambda: len(inbox.envelopes) == 2)
        assert {tuple(e.rcpt_tos) for e in inbox.envelopes} == {(f"north-{tag}@example.org",)}
        subjects = sorted(
            message_from_bytes(e.content, policy=default_policy)["Subject"] for e in inbox.envelopes
        )
        assert subjects == [
            "Wallboard alert, North County: 1 calls waiting (limit 0)",
            "Wallboard alert, North County: a caller has waited 45 s (limit 30 s)",
        ]
        await until(lambda: watch._jobs.empty())

        # A restart of the AMI side's watch: the open alerts are taken back, not re-raised.
        await watch.stop()
        again = make_watch()
        await again.start()
        assert {(c.county, c.kind) for c in again.tracker.active()} == {
            ("north", "waiting"),
            ("north", "longest_wait"),
        }
        publisher.alerts = again
        watch = again

        now[0] = JOINED + 50
        await session.write(rest)  # answered: nobody waits any more
        await until(lambda: not hub.replica.alerts.get("north"))
        await until(lambda: watch._jobs.empty())
    finally:
        await ami.stop()
        await publisher.stop()
        await hub.stop()
        await watch.stop()

    rows = await _alerts(session_factory, north_alerts, since_id)
    assert [(r.kind, r.value, r.threshold, r.emailed) for r in rows] == [
        ("waiting", 1, 0, 1),
        ("longest_wait", 45, 30, 1),
    ]
    assert [r.raised_at.timestamp() for r in rows] == [JOINED + 10, JOINED + 45]
    assert [r.cleared_at.timestamp() for r in rows] == [JOINED + 50, JOINED + 50]
    assert len(inbox.envelopes) == 2  # nothing emailed again after the restart


async def test_alerts_on_the_hub_are_scoped_like_the_rest_of_the_board() -> None:
    replica = BoardReplica()
    north = {"type": "alert", "county": "north", "kind": "waiting", "state": "raised"}
    replica.apply(north)
    replica.apply({**north, "county": "south", "kind": "no_agent"})
    assert replica.snapshot(frozenset({"south"}), 1) == [
        {**north, "county": "south", "kind": "no_agent"}
    ]
    assert visible(north, frozenset({"north"}), 1) and not visible(north, frozenset({"south"}), 1)
    replica.apply({**north, "state": "cleared"})
    assert replica.snapshot(None, 1) == [{**north, "county": "south", "kind": "no_agent"}]


async def test_a_stale_board_raises_and_clears_nothing(server, north_alerts, session_factory):
    """The AMI link drops while a caller waits: the clock passing the longest-wait limit
    raises nothing while the board is stale, and the raised "waiting" alert stays; after
    the reconnect the re-read (nobody waiting) clears it."""
    now = [JOINED + 10]
    bus = InMemoryBus()
    watch = AlertWatch(
        session_factory,
        bus=bus,
        hysteresis=Hysteresis(raise_after_s=0, clear_after_s=0, renotify_after_s=600),
        clock=lambda: now[0],
    )
    node = AmiNode("pbx1", "127.0.0.1", server.port, "hotline", "hotline-secret")

    async def ignore(_event) -> None:
        return None

    ami = AmiService([node], NumberPlan(), ignore, **FAST)
    publisher = WallboardPublisher(ami, bus, alerts=watch, heartbeat_s=0.05)
    hub = WallboardHub(bus)
    data = without_login(trace("ami-answered-queue-call.txt"))
    ringing, _rest = split_after(data, is_event("QueueMemberStatus", Status="6"))
    for service in (watch, hub, publisher, ami):
        await service.start()
    try:
        session = await connect(server, "resync-empty.txt", ami.connection("pbx1"))
        await session.write(ringing)
        await until(lambda: "waiting" in hub.replica.alerts.get("north", {}))
        session.close()
        await until(lambda: hub.replica.link["nodes"]["pbx1"] != "connected")
        now[0] = JOINED + 45
        published = publisher.published
        await until(lambda: publisher.published >= published + 10)  # heartbeats went by
        assert set(hub.replica.alerts["north"]) == {"waiting"}

        await connect(server, "resync-empty.txt", ami.connection("pbx1"))
        await until(lambda: not hub.replica.alerts.get("north"))
    finally:
        await ami.stop()
        await publisher.stop()
        await hub.stop()
        await watch.stop()
