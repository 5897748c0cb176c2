"""Tickets written before the service process (0006) move to its states in 0007: open and
in progress become new, the others keep their names, each with a ``migrate`` event; and
back down to 0006's states.

(This found 0007 adding the new status check before moving the rows: the upgrade failed
on any database holding an ``open`` ticket; the rows now move between drop and add.)"""

import pytest
from sqlalchemy import text

from cti.store import migrate
from cti.store.db import make_engine
from tests.databases import throwaway_database


@pytest.fixture
async def database_at_0006(admin_url):
    async with throwaway_database(admin_url, "cti_mig_tickets", migrated=False) as url:
        await migrate.upgrade(url, "0006")
        yield url


async def test_old_ticket_states_upgrade_to_new_with_an_event(database_at_0006):
    engine = make_engine(database_at_0006)
    try:
        async with engine.begin() as conn:
            for number, status in (
                ("T2025-000001", "open"),
                ("T2025-000002", "in_progress"),
                ("T2025-000003", "answered"),
                ("T2025-000004", "closed"),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO tickets (number, status, description) "
                        "VALUES (:n, :s, 'written before 0007')"
                    ),
                    {"n": number, "s": status},
                )
        await migrate.upgrade(database_at_0006, "0007")
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT t.number, t.status, t.channel, t.priority, e.kind, "
                        "e.from_status, e.to_status, e.actor_role "
                        "FROM tickets t JOIN ticket_events e ON e.ticket_id = t.id "
                        "ORDER BY t.number"
                    )
                )
            ).all()
        await migrate.downgrade(database_at_0006, "0006")  # and back
        async with engine.connect() as conn:
            back = (
                await conn.execute(text("SELECT number, status FROM tickets ORDER BY number"))
            ).all()
    finally:
        await engine.dispose()
    assert [tuple(r) for r in back] == [
        ("T2025-000001", "open"),
        ("T2025-000002", "open"),
        ("T2025-000003", "answered"),
        ("T2025-000004", "closed"),
    ]
    assert [tuple(r) for r in rows] == [
        ("T2025-000001", "new", "phone", "normal", "migrate", "open", "new", "system"),
        ("T2025-000002", "new", "phone", "normal", "migrate", "in_progress", "new", "system"),
        (
            "T2025-000003",
            "answered",
            "phone",
            "normal",
            "migrate",
            "answered",
            "answered",
            "system",
        ),
        ("T2025-000004", "closed", "phone", "normal", "migrate", "closed", "closed", "system"),
    ]
