"""Postgres goes away in the middle of a stream of calls and comes back: calls keep being
acknowledged meanwhile, and afterwards every call is in the table exactly once."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from cti.store.calls import Call
from cti.store.db import make_engine, make_session_factory
from tests.integration.agi.conftest import rows_for, wait_for
from tests.integration.agi.proxy import TcpProxy
from tests.integration.agi.traffic import linkedid, started, stream

CALLS = 300


async def test_database_outage_mid_stream_loses_and_duplicates_nothing(
    make_service, session_factory, database_url, seeded, node
):
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    engine = make_engine(url.set(host="127.0.0.1", port=proxy.port).render_as_string(False))
    service = await make_service(factory=make_session_factory(engine))
    writer = service.writer
    try:
        # Postgres up: the first calls are committed.
        assert await stream(service.port, range(0, 100)) == 0
        await wait_for(lambda: writer.stats.committed >= 200)

        # Postgres gone (connections reset, new ones refused) while calls go on: every
        # request is still acknowledged at once, from the journal, and the writer fails.
        await proxy.cut()
        tail = asyncio.create_task(stream(service.port, range(100, 200)))
        await wait_for(lambda: writer.stats.failures > 0)
        assert await tail == 0
        assert await stream(service.port, range(200, 250)) == 0
        assert writer.stats.committed == 200 and service.health().detail["database_ok"] is False

        # Postgres back, with calls still coming.
        await proxy.restore()
        assert await stream(service.port, range(250, CALLS)) == 0
        await wait_for(lambda: writer.stats.committed >= 2 * CALLS, timeout=60)
    finally:
        await proxy.cut()
        await engine.dispose()

    rows = await rows_for(session_factory, node)
    assert sorted(rows) == sorted(linkedid(i) for i in range(CALLS))
    async with session_factory() as db:
        count = await db.scalar(select(func.count()).select_from(Call).where(Call.node == node))
    assert count == CALLS
    for i in range(CALLS):
        row = rows[linkedid(i)]
        assert row.caller_number == f"138{i:08d}" and row.caller_name == f"Citizen {i}"
        assert (row.disposition, row.wait_s, row.talk_s) == ("answered", 5, 30)
        assert row.started_at.timestamp() == started(i)
    await wait_for(lambda: service.health().detail["database_ok"] is True)
