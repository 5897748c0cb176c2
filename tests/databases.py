"""Throwaway Postgres databases for the tests and the benchmarks: made, migrated, and
dropped afterwards whatever happens."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.engine import make_url

from cti.store import migrate
from cti.store.db import make_engine


@contextlib.asynccontextmanager
async def throwaway_database(
    admin_url: str, prefix: str, *, migrated: bool = True
) -> AsyncIterator[str]:
    """A new database ``<prefix>_<random hex>`` on ``admin_url``'s server, with every
    migration applied unless ``migrated`` is False; yields its URL and drops it (with
    ``FORCE``: connections still open are closed) on the way out, also after an error.

    ``prefix`` is the caller's constant (a database name cannot be a parameter).
    """
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=False)
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
            if migrated:
                await migrate.upgrade(url)
            yield url
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()
