"""Replay the FastAGI sessions a real Asterisk 22 sent (shared/asterisk-traces) over TCP
into a running AgiService, and check what lands in ``calls``."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cti.store.counties import County
from cti.store.users import User
from tests.integration.agi.conftest import rows_for, wait_for
from tests.integration.agi.fake_asterisk import play
from tests.unit.agi.traces import (
    GROUND_TRUTH,
    all_sessions,
    call_variables,
    capture2_sessions,
    channel_lookup,
)

SESSIONS = capture2_sessions()
CALLS = call_variables(SESSIONS)
LOGGED = [s for s in SESSIONS if s.script in ("call-start", "call-end")]


async def _replay(service, sessions):
    results = {}
    for session in sessions:
        results[session.name] = await play(
            service.port, session.env_chunks, channel_lookup(session, CALLS)
        )
    return results


async def test_captured_calls_land_in_the_table_as_they_happened(
    make_service, session_factory, seeded, node
):
    service = await make_service()
    results = await _replay(service, SESSIONS)
    for session in SESSIONS:
        exchange = results[session.name]
        assert exchange.closed_by_server
        if session.script == "route":  # not a request this server knows
            assert exchange.status == "UNKNOWN"
            assert exchange.commands == ['SET VARIABLE CTI_AGI_STATUS "UNKNOWN"']
        else:
            assert exchange.status == "OK", session.name
            assert exchange.commands[-1] == 'SET VARIABLE CTI_AGI_STATUS "OK"'
    await wait_for(lambda: service.writer.stats.committed >= len(LOGGED))

    rows = await rows_for(session_factory, node)
    assert set(rows) == set(GROUND_TRUTH)
    async with session_factory() as db:
        counties = {c.code: c for c in (await db.scalars(select(County))).all()}
        agents = {
            u.interface: u.id
            for u in (await db.scalars(select(User).where(User.interface.is_not(None)))).all()
        }
    for linkedid, truth in GROUND_TRUTH.items():
        row = rows[linkedid]
        county = counties[truth["county"]]
        assert (row.uniqueid, row.direction) == (linkedid, "inbound")
        assert (row.caller_number, row.caller_number_raw) == (truth["number"], truth["number"])
        assert row.caller_name == truth["name"]
        assert (row.county_id, row.queue) == (county.id, county.queue_name)
        assert row.did == {"north": "9615601", "south": "9615602"}[truth["county"]]
        assert row.disposition == truth["disposition"]
        assert (row.wait_s, row.talk_s) == (truth["wait"], truth["talk"])
        assert row.agent_interface == truth["agent"]
        assert row.agent_id == agents.get(truth["agent"])
        assert row.hangup_cause == truth["cause"]
        assert row.started_at.timestamp() == float(linkedid.split(".")[0])
        assert row.ended_at.timestamp() == float(CALLS[linkedid]["EPOCH"])
        assert row.channel.startswith("PJSIP/pstn-gw-")


async def test_reversed_and_repeated_sessions_give_the_same_rows(
    make_service, session_factory, seeded, node, agi_settings, tmp_path
):
    """call-end before call-start, and every request twice (Asterisk retries)."""
    service = await make_service()
    await _replay(service, LOGGED)
    await wait_for(lambda: service.writer.stats.committed >= len(LOGGED))
    expected = await rows_for(session_factory, node)

    other = agi_settings.model_copy(
        update={"node_name": node + "-b", "data_dir": tmp_path / "data-b"}
    )
    service_b = await make_service(other)
    await _replay(service_b, list(reversed(LOGGED)) + LOGGED[::2])
    await wait_for(lambda: service_b.writer.stats.committed >= len(LOGGED) + len(LOGGED[::2]))
    got = await rows_for(session_factory, node + "-b")

    ignored = {"id", "node", "created_at", "updated_at"}
    columns = [c.key for c in expected[next(iter(expected))].__table__.columns]
    assert set(got) == set(expected)
    for linkedid, row in expected.items():
        for column in columns:
            if column not in ignored:
                assert getattr(got[linkedid], column) == getattr(row, column), column


@pytest.mark.parametrize(
    "session",
    [s for s in all_sessions() if s.script not in ("call-start", "call-end")],
    ids=lambda s: s.name,
)
async def test_other_captured_scripts_are_refused_cleanly(make_service, session):
    service = await make_service()
    exchange = await play(service.port, session.env_chunks)
    assert exchange.status == "UNKNOWN" and exchange.closed_by_server
    assert service.sessions.stats.unknown_script == 1
