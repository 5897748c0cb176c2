"""0020 splits a dispatch's one overdue flag into one per deadline: a flag set before
``finish_by`` was for the acceptance only; one set at or after it may have been for
either, so it stands for both (nobody is told again about an old job); and back down."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from cti.store import migrate
from cti.store.db import make_engine
from tests.databases import throwaway_database

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
FINISH_BY = T0 + timedelta(hours=6)


@pytest.fixture
async def database_at_0019(admin_url):
    async with throwaway_database(admin_url, "cti_mig_flags", migrated=False) as url:
        await migrate.upgrade(url, "0019")
        yield url


async def test_one_flag_becomes_one_per_deadline(database_at_0019):
    flags = {
        "never": None,
        "late-to-accept": T0 + timedelta(minutes=50),  # before finish_by: acceptance
        "late-either": FINISH_BY + timedelta(minutes=1),  # at/after finish_by: either
    }
    engine = make_engine(database_at_0019)
    try:
        async with engine.begin() as conn:
            company = await conn.scalar(
                text(
                    "INSERT INTO companies (name, licence_number, status) "
                    "VALUES ('Flags Ltd', 'LIC-FLAGS', 'approved') RETURNING id"
                )
            )
            for i, flagged in enumerate(flags.values()):
                ticket = await conn.scalar(
                    text(
                        "INSERT INTO tickets (number, status, description) "
                        "VALUES (:n, 'dispatched', 'before 0020') RETURNING id"
                    ),
                    {"n": f"T2026-99000{i}"},
                )
                await conn.execute(
                    text(
                        "INSERT INTO dispatches (ticket_id, company_id, dispatched_at, "
                        "accept_by, finish_by, status, overdue_flagged_at) "
                        "VALUES (:t, :c, :t0, :accept, :finish, 'offered', :flagged)"
                    ),
                    {
                        "t": ticket,
                        "c": company,
                        "t0": T0,
                        "accept": T0 + timedelta(minutes=45),
                        "finish": FINISH_BY,
                        "flagged": flagged,
                    },
                )
        await migrate.upgrade(database_at_0019, "0020")
        query = "SELECT accept_late_flagged_at, finish_late_flagged_at FROM dispatches ORDER BY id"
        async with engine.connect() as conn:
            after = [tuple(r) for r in await conn.execute(text(query))]
        await migrate.downgrade(database_at_0019, "0019")
        async with engine.connect() as conn:
            back = (
                await conn.scalars(text("SELECT overdue_flagged_at FROM dispatches ORDER BY id"))
            ).all()
    finally:
        await engine.dispose()
    assert after == [
        (None, None),
        (flags["late-to-accept"], None),
        (flags["late-either"], flags["late-either"]),
    ]
    assert back == list(flags.values())
