"""Alembic environment: async engine (asyncpg), models from ``cti.store``.

The URL comes from the Alembic config (set by ``cti.store.migrate``), never from a file in
the repository, so the same migrations run against the embedded and a real Postgres.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import cti.store  # noqa: F401  (registers every model on Base.metadata)
from cti.store.base import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        literal_binds=connection is None,
    )


def run_migrations_offline() -> None:
    _configure(url=config.get_main_option("sqlalchemy.url"))
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # called from inside a running event loop (tests, cti serve)
        await connection.run_sync(_run_sync)
        return
    engine = create_async_engine(config.get_main_option("sqlalchemy.url"))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run_sync)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    coro = run_migrations_online()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coro)
    else:  # pragma: no cover - cti.store.migrate runs Alembic in a worker thread instead
        raise RuntimeError("alembic env.py must not run inside an event loop")
