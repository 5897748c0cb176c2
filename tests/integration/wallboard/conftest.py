"""Shared by the wallboard alert tests: north set to alert, and put back afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, select, update

from cti.store.counties import County
from cti.store.reports import CountyServiceLevel
from cti.store.wallboard import WallboardAlert


@pytest.fixture
async def north_alerts(session_factory, seeded) -> AsyncIterator[int]:
    """north alerting above 0 waiting and 30 s waited, emailed; put back afterwards."""
    async with session_factory() as db, db.begin():
        north = await db.scalar(select(County.id).where(County.code == "north"))
        before = await db.get(CountyServiceLevel, north)
        kept = (
            None
            if before is None
            else {c: getattr(before, c) for c in ("answer_within_s", "alert_waiting_above")}
        )
        if before is None:
            db.add(CountyServiceLevel(county_id=north))
            await db.flush()
        await db.execute(
            update(CountyServiceLevel)
            .where(CountyServiceLevel.county_id == north)
            .values(
                alert_waiting_above=0,
                alert_longest_wait_s=30,
                alert_no_agent=False,
                alert_email=True,
            )
        )
    try:
        yield north
    finally:
        async with session_factory() as db, db.begin():
            if kept is None:
                await db.execute(
                    delete(CountyServiceLevel).where(CountyServiceLevel.county_id == north)
                )
            else:
                await db.execute(
                    update(CountyServiceLevel)
                    .where(CountyServiceLevel.county_id == north)
                    .values(
                        **kept,
                        alert_longest_wait_s=None,
                        alert_no_agent=False,
                        alert_email=False,
                    )
                )
            await db.execute(
                update(WallboardAlert)
                .where(WallboardAlert.county_id == north, WallboardAlert.cleared_at.is_(None))
                .values(cleared_at=WallboardAlert.raised_at)
            )
