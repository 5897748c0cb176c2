"""The event bus: in memory, and Postgres LISTEN/NOTIFY between two 'processes'."""

import asyncio

import pytest

from cti.bus import BusError, InMemoryBus, PostgresBus, libpq_dsn


async def _next(subscription, timeout=5.0):
    return await asyncio.wait_for(subscription.__anext__(), timeout)


async def test_in_memory_round_trip_and_isolation_between_channels():
    bus = InMemoryBus()
    pops = await bus.subscribe("screenpop")
    other = await bus.subscribe("wallboard")
    await bus.publish("screenpop", {"type": "pop", "name": "José 张伟"})
    assert await _next(pops) == {"type": "pop", "name": "José 张伟"}
    with pytest.raises(TimeoutError):
        await _next(other, 0.05)
    pops.close()
    other.close()


async def test_postgres_bus_carries_messages_between_two_connections(database_url):
    publisher, listener = PostgresBus(libpq_dsn(database_url)), PostgresBus(libpq_dsn(database_url))
    try:
        subscription = await listener.subscribe("screenpop")
        message = {"type": "pop", "interface": "PJSIP/1001", "caller_name": 'O\\\'Brien "x"'}
        await publisher.publish("screenpop", message)
        assert await _next(subscription) == message
    finally:
        await publisher.close()
        await listener.close()


@pytest.mark.parametrize("bus_kind", ["memory", "postgres"])
async def test_limits_are_the_same_for_both_buses(bus_kind, database_url):
    bus = InMemoryBus() if bus_kind == "memory" else PostgresBus(libpq_dsn(database_url))
    try:
        with pytest.raises(BusError):
            await bus.publish("screenpop", {"blob": "x" * 8000})  # NOTIFY's payload limit
        for channel in ("bad channel", "x;DROP TABLE calls", "", "Upper"):
            with pytest.raises(BusError):
                await bus.publish(channel, {})
    finally:
        await bus.close()


async def test_postgres_bus_listens_again_after_its_connection_is_killed(database_url, engine):
    from sqlalchemy import text

    publisher, listener = PostgresBus(libpq_dsn(database_url)), PostgresBus(libpq_dsn(database_url))
    try:
        subscription = await listener.subscribe("screenpop")
        pid = listener._conn.get_server_pid()
        async with engine.connect() as conn:  # what a Postgres restart does to the listener
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        for _ in range(200):  # until a *new* connection (another backend pid) listens again
            conn = listener._conn
            if (
                conn is not None
                and not conn.is_closed()
                and conn.get_server_pid() != pid
                and "screenpop" in listener._listening
            ):
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the bus did not reconnect and LISTEN again within 10 s")
        await publisher.publish("screenpop", {"after": "restart"})
        assert await _next(subscription) == {"after": "restart"}
    finally:
        await publisher.close()
        await listener.close()


async def test_postgres_bus_posts_a_burst_in_order_in_few_round_trips(database_url):
    """600 posts without waiting (the AMI side's way), repeats of one payload among them
    (Postgres folds identical NOTIFYs of one transaction: each must still arrive), then a
    publish that waits: everything arrives once, in order, in far fewer round trips."""
    publisher, listener = PostgresBus(libpq_dsn(database_url)), PostgresBus(libpq_dsn(database_url))
    try:
        subscription = await listener.subscribe("screenpop")
        sent = []
        for i in range(600):
            message = {"type": "agent_state", "state": "ringing"} if i % 7 == 0 else {"n": i}
            publisher.post("screenpop", message)
            sent.append(message)
        await publisher.publish("screenpop", {"last": True})
        sent.append({"last": True})
        got = [await _next(subscription) for _ in sent]
        assert got == sent
        with pytest.raises(TimeoutError):
            await _next(subscription, 0.2)  # nothing doubled
        assert publisher.round_trips < 600 // 7 + 10, publisher.round_trips
        with pytest.raises(BusError):
            publisher.post("screenpop", {"blob": "x" * 8000})  # refused at once, not later
    finally:
        await publisher.close()
        await listener.close()


async def test_postgres_bus_publish_raises_and_post_counts_when_postgres_is_unreachable():
    bus = PostgresBus("postgresql://postgres@127.0.0.1:1/nowhere")
    try:
        bus.post("screenpop", {"n": 1})
        with pytest.raises(BusError):
            await bus.publish("screenpop", {"n": 2})
        assert bus.post_failures == 1
    finally:
        await bus.close()
