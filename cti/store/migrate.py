"""Run the Alembic migrations in ``db/migrations`` programmatically (``cti db upgrade``,
``cti serve`` at start, the tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from cti.settings import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "db" / "migrations"


def alembic_config(database_url: str, script_location: Path = MIGRATIONS_DIR) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    # ConfigParser interpolation would choke on a '%' in a password.
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


async def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to ``revision``. Runs Alembic in a thread: its env.py owns a loop."""
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), revision)


async def downgrade(database_url: str, revision: str) -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), revision)


async def current(database_url: str) -> None:
    await asyncio.to_thread(command.current, alembic_config(database_url), verbose=True)
