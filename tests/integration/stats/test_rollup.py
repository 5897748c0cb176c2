"""The rollup the trigger keeps agrees with the calls, through inserts, late corrections
and deletes (real Postgres)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update

from cti.stats.calls import figures
from cti.stats.queries import Period, raw_facts, rollup_facts
from cti.store.calls import Call
from cti.store.counties import County

NOV = Period.month(2026, 11)


async def _county(db, code):
    return (await db.scalars(select(County).where(County.code == code))).one()


def _call(node, county, disposition, wait, talk=0, at=datetime(2026, 11, 3, 9, tzinfo=UTC)):
    answered = at + timedelta(seconds=wait) if disposition in ("answered", "transferred") else None
    return Call(
        node=node, linkedid=uuid.uuid4().hex[:20], uniqueid="u", caller_number="",
        county_id=county.id, queue=county.queue_name, started_at=at, answered_at=answered,
        ended_at=at + timedelta(seconds=wait + talk), wait_s=wait, talk_s=talk,
        disposition=disposition,
    )  # fmt: skip


async def test_rollup_follows_inserts_corrections_and_deletes(session_factory, seeded):
    node = "rollup-" + uuid.uuid4().hex[:8]
    async with session_factory() as db:
        north = await _county(db, "north")
        scope = [north.id]
        before = figures(await rollup_facts(db, NOV, scope))
        calls = [
            _call(node, north, "answered", 4, 60),
            _call(node, north, "abandoned", 40),
            _call(node, north, "in_progress", 0),
            _call(node, north, "timeout", 300),
        ]
        db.add_all(calls)
        await db.commit()
        mid = figures(await rollup_facts(db, NOV, scope))
        assert mid.offered - before.offered == 3  # the call in progress is not counted yet
        assert mid.answered - before.answered == 1
        assert mid.abandoned - before.abandoned == 1

        # A late call-end: the call in progress ends answered; and a correction: the
        # abandoned one was answered after all.
        await db.execute(
            update(Call).where(Call.id == calls[2].id).values(
                disposition="answered", wait_s=8, talk_s=30,
                answered_at=calls[2].started_at + timedelta(seconds=8),
                ended_at=calls[2].started_at + timedelta(seconds=38),
            )
        )  # fmt: skip
        await db.execute(
            update(Call).where(Call.id == calls[1].id).values(disposition="answered", talk_s=5)
        )
        await db.commit()
        after = figures(await rollup_facts(db, NOV, scope))
        assert after.offered - before.offered == 4
        assert after.answered - before.answered == 3
        assert after.abandoned == before.abandoned
        assert after == figures(await raw_facts(db, NOV, scope))

        await db.execute(delete(Call).where(Call.node == node))
        await db.commit()
        assert figures(await rollup_facts(db, NOV, scope)) == before
        assert before == figures(await raw_facts(db, NOV, scope))


async def test_outbound_calls_and_other_months_are_not_counted(session_factory, seeded):
    node = "rollup-" + uuid.uuid4().hex[:8]
    async with session_factory() as db:
        south = await _county(db, "south")
        scope = [south.id]
        before = figures(await rollup_facts(db, NOV, scope))
        out = _call(node, south, "answered", 1, 10)
        out.direction = "outbound"
        december = _call(node, south, "answered", 1, 10, at=datetime(2026, 12, 1, tzinfo=UTC))
        db.add_all([out, december])
        await db.commit()
        assert figures(await rollup_facts(db, NOV, scope)) == before
        await db.execute(delete(Call).where(Call.node == node))
        await db.commit()
