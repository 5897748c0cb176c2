"""The call report agrees with Asterisk's own account: a real Asterisk 22 writes its
``queue_log`` while the real backend (``cti serve``, FastAGI ``call-start``/``call-end``)
writes the ``calls`` rows of the same calls; the report computed from queue_log alone
(``cti.stats.queue_log``) and the one computed from the rows the way ``/reports`` does
(the ``call_rollup_daily`` the trigger keeps, through ``cti.stats.calls``) are compared
field by field, per queue, and call by call (queue_log's callid is the caller's
Uniqueid, the row's ``uniqueid``).

It runs last in the live suite (file order) and places calls of its own first (answered,
abandoned in the queue, abandoned while ringing, a small burst), so alone or after the
other scenarios both accounts cover every queue call this Asterisk took. Rounding: both
are whole seconds, from different clocks (app_queue's and the dialplan's), so waits and
talk times may differ by 1 s.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cti.stats import queue_log
from cti.stats.calls import OFFERED, figures, grouped
from cti.stats.queries import Period, rollup_facts, thresholds
from cti.store.calls import Call
from tests.live import pbx
from tests.live.conftest import BURST, DIDS, RINGING_ABANDON, Live

pytestmark = pytest.mark.live
if reason := pbx.missing():
    pytest.skip(f"live suite skipped: {reason}", allow_module_level=True)

ROUNDING_S = 1


async def _settled(live: Live, timeout: float = 30.0) -> list[Call]:
    """Every inbound row once none is in progress any more."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with live.db() as db:
            rows = (await db.scalars(select(Call).where(Call.direction == "inbound"))).all()
        if rows and all(r.disposition != "in_progress" and r.ended_at for r in rows):
            return list(rows)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError([(r.linkedid, r.disposition) for r in rows])
        await asyncio.sleep(0.5)


async def test_the_report_agrees_with_queue_log(live: Live):
    callers = [live.caller(BURST) for _ in range(3)]
    await live.call([(c, DIDS["north"]) for c in callers], hold_ms=20000, rate=3, tag="qlog")
    waiting = live.caller("1390008")
    live.pause("3001", "county-east")
    try:
        await live.call([(waiting, DIDS["east"])], hold_ms=7000, tag="qlog-east")
    finally:
        live.pause("3001", "county-east", paused=False)
    ringing = live.caller(RINGING_ABANDON)
    await live.call([(ringing, DIDS["south"])], hold_ms=6000, tag="qlog-south")
    for caller in [*callers, waiting, ringing]:
        await live.ended_call(caller)
    rows = await _settled(live)
    await asyncio.sleep(1)  # app_queue's last lines of the calls
    parsed = queue_log.parse(live.site.queue_log.read_text(errors="replace"))
    assert parsed.bad == []
    logged = queue_log.calls(parsed.entries)
    assert all(c.outcome != "in_queue" for c in logged.values()), logged

    # Call by call: every queue call Asterisk logged has its row, with the same outcome.
    by_uniqueid = {r.uniqueid: r for r in rows}
    queued_rows = [r for r in rows if r.queue]
    for (callid, queue), call in logged.items():
        row = by_uniqueid[callid]
        assert row.queue == queue, callid
        assert row.disposition == call.outcome, (callid, row.disposition, call.outcome)
        assert abs((row.wait_s or 0) - call.wait_s) <= ROUNDING_S, (callid, row.wait_s, call)
        if call.outcome == "answered":
            assert abs((row.talk_s or 0) - call.talk_s) <= ROUNDING_S, (callid, row.talk_s, call)
    assert {r.uniqueid for r in queued_rows if r.disposition in OFFERED} == {
        callid for callid, _ in logged
    }

    # The report: per queue, from the rollup as /reports reads it.
    today = datetime.now(UTC).date()
    period = Period(today - timedelta(days=1), today + timedelta(days=2))
    async with live.db() as db:
        facts = await rollup_facts(db, period, None)
        limits = await thresholds(db, 5)
    ours = grouped(facts, "queue", limits)
    theirs = queue_log.by_queue(logged.values(), short_abandon_s=5)
    assert set(theirs) <= set(ours)
    for queue, q in theirs.items():
        f = ours[queue]
        assert (f.offered, f.answered, f.abandoned, f.short_abandoned) == (
            q.offered, q.answered, q.abandoned, q.short_abandoned,
        ), queue  # fmt: skip
        assert (f.timeout, f.transferred) == (q.timeout, q.transferred), queue
        for name in ("avg_wait_s", "p90_wait_s", "avg_talk_s"):
            a, b = getattr(f, name), getattr(q, name)
            assert (a is None) == (b is None), (queue, name)
            if a is not None:
                assert abs(a - b) <= ROUNDING_S, (queue, name, a, b)
    total = figures(facts, limits)
    assert total.offered == sum(q.offered for q in theirs.values())
