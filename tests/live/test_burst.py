"""A burst of 20 citizens calling at once, through a real Asterisk 22: every call is
logged once (one row per Linkedid), answered by an agent of its county, recorded, and
popped on the answering agent's socket only.

The calls are spread over the counties in proportion to their agents (north has two), so
each agent takes four in a row; the phones answer these callers after 300 ms and hang up
after 1 s (``conftest._rules``), and each agent then has its 5 s wrap-up.
"""

from __future__ import annotations

import pytest

from tests.live import pbx
from tests.live.conftest import AGENTS, BURST, DIDS, Live

pytestmark = pytest.mark.live
if reason := pbx.missing():
    pytest.skip(f"live suite skipped: {reason}", allow_module_level=True)

CALLS_PER_AGENT = 4


async def test_a_burst_of_20_calls_is_logged_recorded_and_popped_call_by_call(live: Live):
    counties = [AGENTS[e] for e in AGENTS for _ in range(CALLS_PER_AGENT)]
    calls = [(live.caller(BURST), DIDS[county]) for county in counties]
    assert len(calls) == 20
    # All 20 INVITEs within a second; the citizens wait in their queues until answered.
    await live.call(calls, hold_ms=120000, rate=20, tag="burst")

    rows = {caller: await live.ended_call(caller, timeout=30) for caller, _ in calls}
    assert len({row.linkedid for row in rows.values()}) == 20
    answered_by: dict[str, int] = {}
    for (caller, did), county in zip(calls, counties, strict=True):
        row = rows[caller]
        assert row.disposition == "answered", (caller, row.disposition)
        assert (row.did, row.queue, row.direction) == (did, f"county-{county}", "inbound")
        answerer = row.agent_interface.removeprefix("PJSIP/")
        assert AGENTS[answerer] == county, (caller, row.agent_interface)
        assert row.linkedid == row.uniqueid and row.caller_number == caller
        assert row.talk_s is not None and 0 <= row.talk_s <= 3, row.talk_s
        answered_by[answerer] = answered_by.get(answerer, 0) + 1
        frames = await live.frames_settled(row.linkedid)
        assert frames == {answerer: ["pop", "answered", "ended"]}, (caller, frames)
        pop = live.frame(row.linkedid, answerer, "pop")["pop"]
        assert pop["caller"]["number"] == caller
    # The single-agent counties' agents took all four of theirs; north's two shared eight.
    assert {e: n for e, n in answered_by.items() if AGENTS[e] != "north"} == {
        "2001": 4, "3001": 4, "4001": 4
    }  # fmt: skip
    assert answered_by.get("1001", 0) + answered_by.get("1002", 0) == 8

    # queue_log names the answering member by its name in queues.conf, not its interface
    # (log_membername_as_agent does not change CONNECT; the comment there says so).
    connects = {
        fields[1]: fields[3]
        for fields in (line.split("|") for line in live.site.queue_log.read_text().splitlines())
        if len(fields) > 4 and fields[4] == "CONNECT"
    }
    for row in rows.values():
        assert connects[row.uniqueid] == f"Agent {row.agent_interface.removeprefix('PJSIP/')}"

    recordings = [await live.recording_of(row) for row in rows.values()]
    assert sorted(r.uniqueid for r in recordings) == sorted(r.linkedid for r in rows.values())
    assert len({r.id for r in recordings}) == 20
    live.no_errors()
