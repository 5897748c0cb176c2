"""Migrations upgrade from empty, downgrade to empty, and match the models exactly."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

import cti.store  # noqa: F401
from cti.store import migrate
from cti.store.base import Base
from cti.store.db import make_engine
from tests.databases import throwaway_database


@pytest.fixture
async def empty_database(admin_url):
    async with throwaway_database(admin_url, "cti_mig", migrated=False) as url:
        yield url


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


async def test_upgrade_from_empty_then_downgrade_to_empty_then_upgrade_again(empty_database):
    await migrate.upgrade(empty_database)
    assert await _tables(empty_database) == set(Base.metadata.tables)
    await migrate.downgrade(empty_database, "base")
    assert await _tables(empty_database) == set()
    await migrate.upgrade(empty_database)
    assert await _tables(empty_database) == set(Base.metadata.tables)


async def test_models_and_migrations_agree(engine):
    """No pending autogenerate: every model change comes with its migration."""

    def diff(sync_conn):
        ctx = MigrationContext.configure(
            sync_conn, opts={"compare_type": True, "compare_server_default": True}
        )
        return compare_metadata(ctx, Base.metadata)

    async with engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert changes == []


async def test_ticket_number_sequence_exists(engine):
    async with engine.connect() as conn:
        first = await conn.scalar(text("SELECT nextval('ticket_number_seq')"))
        second = await conn.scalar(text("SELECT nextval('ticket_number_seq')"))
    assert second == first + 1
