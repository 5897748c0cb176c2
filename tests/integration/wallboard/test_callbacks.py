"""The wallboard's open callback requests are live: a request written (as the FastAGI
side writes it, straight into Postgres) reaches the hub's board within the count's
interval, and so does its being done. A county made for the test; real bus and hub."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from cti.bus import InMemoryBus
from cti.store.callbacks import CallbackRequest, CallbackStatus
from cti.wallboard.publisher import WallboardPublisher
from cti.wallboard.watch import AlertWatch
from cti.web.wallboard_hub import WallboardHub
from tests.integration.ami.fake_asterisk import until
from tests.integration.dispatch.factories import make_county
from tests.integration.wallboard.test_today import NoAmi, call

pytestmark = pytest.mark.asyncio


async def test_open_callbacks_are_pushed_when_requested_and_done(session_factory, seeded):
    async with session_factory() as db, db.begin():
        county = await make_county(db)
    code = county.code
    bus = InMemoryBus()
    watch = AlertWatch(session_factory)
    await watch.load()
    publisher = WallboardPublisher(NoAmi(), bus, alerts=watch, heartbeat_s=60, callbacks_s=0.05)
    hub = WallboardHub(bus)
    await hub.start()
    await publisher.start()

    def shown() -> int | None:
        message = hub.replica.callbacks.get(code)
        return message["open"] if message else None

    try:
        await until(lambda: shown() == 0)
        now = datetime.now(UTC)
        async with session_factory() as db, db.begin():
            rows = [call(county, now, "callback", 0, 0) for _ in range(2)]
            db.add_all(rows)
            await db.flush()
            requests = [
                CallbackRequest(call_id=r.id, county_id=county.id, number="", requested_at=now)
                for r in rows
            ]
            db.add_all(requests)
        await until(lambda: shown() == 2)
        assert {"type": "callbacks", "county": code, "open": 2} in hub.replica.snapshot(
            frozenset({code}), 1
        )
        async with session_factory() as db, db.begin():
            await db.execute(
                update(CallbackRequest)
                .where(CallbackRequest.id == requests[0].id)
                .values(status=CallbackStatus.DONE.value)
            )
        await until(lambda: shown() == 1)
    finally:
        await publisher.stop()
        await hub.stop()
