"""The screen-pop lookup against a real, migrated Postgres (``session_factory`` from
``tests/conftest.py``), fed by the real filtered-login capture (call o)."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.ami.events import CallOffered
from cti.ami.replay import replay
from cti.ami.screenpop import ScreenPop, lookup_caller
from cti.store.calls import Call
from cti.store.citizens import Citizen, CitizenPhone
from cti.store.tickets import Ticket
from tests.unit.ami.support import trace

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def unique_number() -> str:
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


def call_o_from(number: str) -> bytes:
    """Call o (real bytes) coming from ``number`` in its international form."""
    return trace("capture2/ami-events-call-agent-user.txt").replace(
        b"13800138051", ("+86" + number).encode()
    )


async def seed_caller(db: AsyncSession, number: str, node: str) -> dict[str, int]:
    """A citizen with two phones, flags, three past calls, open and closed tickets, the
    current call's own row, and someone else's call and ticket."""
    citizen = Citizen(name="Wang Fang", address="12 Elm Road", flags=["elderly-alone"])
    citizen.phones = [
        CitizenPhone(number=number, label="home"),
        CitizenPhone(number=unique_number(), label="mobile"),
    ]
    other = Citizen(name="Someone Else", flags=[])
    other.phones = [CitizenPhone(number=unique_number())]
    db.add_all([citizen, other])
    await db.flush()
    calls = [
        Call(
            node=node,
            linkedid=f"old.{i}",
            uniqueid=f"old.{i}",
            caller_number=number,
            started_at=T0 + timedelta(days=i),
            disposition=d,
            # The oldest is a revisit call the hotline placed: no queue, no DID.
            direction="outbound" if i == 0 else "inbound",
            queue=None if i == 0 else "county-north",
            agent_interface="PJSIP/1002",
            wait_s=3 + i,
            talk_s=60 * i,
            did=None if i == 0 else "9615601",
        )
        for i, d in enumerate(["answered", "abandoned", "answered"])
    ]
    # The AGI side may already have written the current call: it is not a "last call".
    current = Call(
        node=node,
        linkedid="1795711974.5",
        uniqueid="1795711974.5",
        caller_number=number,
        started_at=T0 + timedelta(days=9),
    )
    stranger = Call(
        node=node, linkedid="x", uniqueid="x", caller_number=unique_number(), started_at=T0
    )
    db.add_all([*calls, stranger])
    await db.flush()
    db.add(current)
    await db.flush()
    tag = secrets.token_hex(3)
    tickets = [
        Ticket(number=f"T-{tag}-1", citizen_id=citizen.id, status="new", description="leak"),
        Ticket(number=f"T-{tag}-2", citizen_id=citizen.id, status="closed", description="x"),
        Ticket(
            number=f"T-{tag}-3",
            call_id=calls[1].id,
            status="dispatched",
            description="no citizen, but called from this number",
        ),
        Ticket(number=f"T-{tag}-4", citizen_id=other.id, status="new", description="other"),
    ]
    db.add_all(tickets)
    await db.commit()
    return {
        "citizen": citizen.id,
        "call0": calls[0].id,
        "call1": calls[1].id,
        "call2": calls[2].id,
        "t1": tickets[0].id,
        "t3": tickets[2].id,
    }


async def test_lookup_finds_citizen_history_and_open_tickets(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    number = unique_number()
    async with session_factory() as db:
        ids = await seed_caller(db, number, node=f"n{number}")
    offer = next(e for e in replay(call_o_from(number), f"n{number}") if isinstance(e, CallOffered))
    assert offer.caller_number == number  # +86... normalised to the stored form
    result = await lookup_caller(session_factory, offer)
    assert result["known"] is True
    [citizen] = result["citizens"]
    assert citizen["id"] == ids["citizen"]
    assert citizen["flags"] == ["elderly-alone"]
    assert citizen["phone_label"] == "home"
    assert [c["id"] for c in result["last_calls"]] == [ids["call2"], ids["call1"], ids["call0"]]
    assert result["last_calls"][1]["disposition"] == "abandoned"
    # Revisit calls are part of the history, and the agent sees which they are.
    assert [c["direction"] for c in result["last_calls"]] == ["inbound", "inbound", "outbound"]
    assert sorted(t["id"] for t in result["open_tickets"]) == sorted([ids["t1"], ids["t3"]])


async def test_unknown_and_withheld_callers(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    offer = next(e for e in replay(call_o_from(unique_number())) if isinstance(e, CallOffered))
    assert await lookup_caller(session_factory, offer) == {
        "known": False,
        "citizens": [],
        "last_calls": [],
        "open_tickets": [],
    }
    withheld = trace("capture2/ami-events-call-agent-user.txt").replace(
        b"CallerIDNum: 13800138051", b"CallerIDNum: anonymous"
    )
    offer = next(e for e in replay(withheld) if isinstance(e, CallOffered))
    assert offer.caller_number == ""
    assert (await lookup_caller(session_factory, offer))["known"] is False


async def test_screenpop_end_to_end_from_captured_bytes(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    """Call o replayed: the pop reaches PJSIP/1001 only, with the citizen's history; it is
    kept on answer, pending for a reconnecting browser, and closed at the end."""
    number = unique_number()
    async with session_factory() as db:
        ids = await seed_caller(db, number, node=f"n{number}")
    pushed: list[tuple[str, dict]] = []

    async def push(interface: str, message: dict) -> None:
        pushed.append((interface, message))

    screen = ScreenPop(session_factory, push)
    events = replay(call_o_from(number), f"n{number}")
    answered_at = next(i for i, e in enumerate(events) if e.type == "call_answered")
    for event in events[:answered_at]:
        await screen.handle(event)
    await screen.drain()
    [(interface, message)] = pushed
    assert interface == "PJSIP/1001"
    pop = message["pop"]
    assert pop["pop_id"] == f"n{number}:1795711974.5:PJSIP/1001"
    assert (pop["did"], pop["county"], pop["queue"]) == ("9615601", "north", "county-north")
    assert pop["caller"] == {"number": number, "name": "Citizen Filtered", "withheld": False}
    assert pop["citizens"][0]["id"] == ids["citizen"]
    assert len(pop["last_calls"]) == 3 and len(pop["open_tickets"]) == 2
    assert screen.pending("PJSIP/1001") == [pop]
    assert screen.pending("PJSIP/1002") == []
    for event in events[answered_at:]:
        await screen.handle(event)
    assert [m for _, m in pushed[1:]] == [
        {"type": "answered", "pop_id": pop["pop_id"]},
        {"type": "ended", "pop_id": pop["pop_id"]},
    ]
    assert screen.pending("PJSIP/1001") == []


async def test_pops_have_a_pool_of_their_own_the_api_cannot_exhaust(
    database_url: str, settings, seeded
) -> None:
    # The process's pool, as small as can be, fully held by "API requests" (a report, a
    # recordings search): the caller lookup of a pop must not wait for it.
    from cti.app import LOOKUP_POOL_SIZE, build_services
    from cti.bus import InMemoryBus
    from cti.store.db import PoolService, make_engine, make_session_factory

    main = make_engine(database_url, pool_size=1, max_overflow=0, pool_timeout=30)
    node_settings = settings.model_copy(
        update={"ami_url": ["ami://hotline:hotline-secret@127.0.0.1:1"]}
    )
    services = build_services(node_settings, {"ami"}, make_session_factory(main), InMemoryBus())
    [pool] = [s for s in services if isinstance(s, PoolService)]
    [ami] = [s for s in services if s.name == "ami"]
    assert pool.name == "pop-lookups" and pool.engine is not main
    assert services.index(pool) < services.index(ami)  # so it is stopped after the AMI side
    relay_factory = ami._publish.screen_pop.session_factory  # the relay the wiring made
    offer = next(e for e in replay(call_o_from(unique_number())) if isinstance(e, CallOffered))
    try:
        async with main.connect():  # the process's only connection, held
            result = await asyncio.wait_for(lookup_caller(relay_factory, offer), 20)
            assert result["known"] is False
            assert pool.health().detail["size"] == LOOKUP_POOL_SIZE
        assert "cti_db_pool_checked_out" in "\n".join(pool.metrics())
    finally:
        await pool.stop()
        await main.dispose()


async def test_a_lookup_is_one_round_trip_and_outlives_a_pooled_connection_killed(
    database_url: str, settings, seeded, session_factory
) -> None:
    """The lookups' pool, as the app builds it, sends the lookup alone: no ping before it
    (the asyncpg dialect's ping is BEGIN, ``;``, ROLLBACK: three round trips more per pop,
    each a wait for the scheduler on a busy machine). A connection that died while pooled
    is replaced, and that pop's lookup still answers."""
    from sqlalchemy import event

    from cti.app import build_services
    from cti.bus import InMemoryBus
    from cti.store.db import PoolService, make_engine, make_session_factory

    main = make_engine(database_url, pool_size=1, max_overflow=0)
    node_settings = settings.model_copy(
        update={"ami_url": ["ami://hotline:hotline-secret@127.0.0.1:1"]}
    )
    services = build_services(node_settings, {"ami"}, make_session_factory(main), InMemoryBus())
    [pool] = [s for s in services if isinstance(s, PoolService)]
    [ami] = [s for s in services if s.name == "ami"]
    factory = ami._publish.screen_pop.session_factory
    statements: list[str] = []
    pids: list[int] = []

    def connected(dbapi_connection, _record) -> None:
        driver = dbapi_connection.driver_connection
        pids.append(driver.get_server_pid())
        driver.add_query_logger(lambda record: statements.append(record.query))

    event.listen(pool.engine.sync_engine, "connect", connected)
    number = unique_number()
    async with session_factory() as db:
        ids = await seed_caller(db, number, "asterisk")
    offer = next(e for e in replay(call_o_from(number)) if isinstance(e, CallOffered))
    try:
        first = await lookup_caller(factory, offer)  # connects (and the dialect's setup)
        assert first["known"] and first["citizens"][0]["id"] == ids["citizen"]
        statements.clear()
        assert await lookup_caller(factory, offer) == first
        assert len(statements) == 1 and "citizen_phones" in statements[0], statements
        # The pooled connection is killed (Postgres restarted, an idle timeout...).
        assert len(pids) == 1
        async with main.connect() as conn:
            killed = await conn.exec_driver_sql(
                f"SELECT pg_terminate_backend({pids[0]}, 10000)"  # waits until it is gone
            )
            assert killed.scalar() is True
        assert await lookup_caller(factory, offer) == first
        assert len(pids) == 2  # a fresh connection took its place
    finally:
        await pool.stop()
        await main.dispose()
