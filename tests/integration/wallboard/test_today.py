"""The board's "answered/abandoned today" start from today's call rows when the AMI side
starts (and again after a restart), counted with the county's own service-level N; live
calls add to them. A county made for the test, calls written for it (real Postgres, the
rollup trigger), the publisher's start as the AMI side runs it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cti.bus import InMemoryBus
from cti.store.calls import Call
from cti.store.reports import CountyServiceLevel
from cti.wallboard.publisher import WallboardPublisher
from cti.wallboard.watch import AlertWatch
from tests.integration.dispatch.factories import make_county

pytestmark = pytest.mark.asyncio


class NoAmi:
    """The publisher's view of the AMI side, with no node connected."""

    connections: list = []

    def add_listener(self, _listener) -> None:
        return None


def call(county, at: datetime, disposition: str, wait: int, talk: int) -> Call:
    answered = at + timedelta(seconds=wait) if disposition in ("answered", "transferred") else None
    return Call(
        node="today-" + uuid.uuid4().hex[:8], linkedid=uuid.uuid4().hex[:20], uniqueid="u",
        caller_number="", county_id=county.id, queue=county.queue_name, started_at=at,
        answered_at=answered, ended_at=(answered or at) + timedelta(seconds=talk or wait),
        wait_s=wait, talk_s=talk, disposition=disposition,
    )  # fmt: skip


def stats(publisher: WallboardPublisher, code: str) -> dict:
    return next(d for d in publisher.board.snapshot(code) if d["type"] == "stats")


async def test_today_starts_from_the_call_rows_and_again_after_a_restart(session_factory, seeded):
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    at = max(midnight + timedelta(seconds=1), now - timedelta(minutes=5))
    async with session_factory() as db, db.begin():
        county = await make_county(db)
        db.add(CountyServiceLevel(county_id=county.id, answer_within_s=10))
        db.add_all(
            [
                call(county, at, "answered", 5, 60),  # within 10 s
                call(county, at, "answered", 15, 30),  # answered late
                call(county, at, "transferred", 3, 20),  # answered, then transferred
                call(county, at, "abandoned", 40, 0),
                call(county, at, "voicemail", 0, 0),  # neither
                call(county, midnight - timedelta(hours=2), "answered", 1, 10),  # yesterday
                call(county, at, "in_progress", 2, 0),  # not ended
            ]
        )
    code = county.code
    expected = {
        "day": now.date().isoformat(),
        "answered": 3,
        "abandoned": 1,
        "answered_in_sl": 2,
        "sl_s": 10,
        "service_level": 50.0,
        "avg_wait_s": round((5 + 15 + 3) / 3, 1),
        "avg_handle_s": round((60 + 30 + 20) / 3, 1),
    }
    for _start in ("first start", "restart"):
        watch = AlertWatch(session_factory)
        await watch.load()
        publisher = WallboardPublisher(NoAmi(), InMemoryBus(), alerts=watch, heartbeat_s=60)
        await publisher.start()
        try:
            got = stats(publisher, code)
            assert {k: got[k] for k in expected} == expected
        finally:
            await publisher.stop()

    # A live answer adds to what the rows said (HoldTime 12: over the county's 10 s).
    publisher.board.feed(
        {
            "Event": "AgentConnect",
            "Queue": county.queue_name,
            "Uniqueid": "live-1",
            "Linkedid": "live-1",
            "HoldTime": "12",
        }
    )
    got = stats(publisher, code)
    assert (got["answered"], got["answered_in_sl"], got["service_level"]) == (4, 2, 40.0)
