"""The pool's liveness check (``cti.store.db.make_engine``) with no ping round trip: a
pooled connection the server closed (``pg_terminate_backend``, as a restart or an idle
timeout would) is replaced at checkout, so the next request does not fail; and the hook
is what does it (the same engine without it fails that request)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from cti.store.db import PoolService, _refuse_closed, make_engine


async def _pid(engine) -> int:
    async with engine.connect() as conn:
        return await conn.scalar(text("SELECT pg_backend_pid()"))


async def _terminate(admin, pid: int) -> None:
    async with admin.connect() as conn:
        assert await conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    await asyncio.sleep(0.2)  # the event loop reads the server's goodbye on the idle socket


async def test_a_connection_the_server_closed_is_replaced_at_checkout(database_url):
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    admin = make_engine(database_url)
    try:
        first = await _pid(engine)
        await _terminate(admin, first)
        second = await _pid(engine)  # no error: a fresh connection
        assert second != first
    finally:
        await engine.dispose()
        await admin.dispose()


async def test_without_the_hook_the_next_request_fails(database_url):
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    event.remove(engine.sync_engine, "checkout", _refuse_closed)
    admin = make_engine(database_url)
    try:
        await _terminate(admin, await _pid(engine))
        with pytest.raises(DBAPIError):
            await _pid(engine)
    finally:
        await engine.dispose()
        await admin.dispose()


async def test_a_warmed_pool_holds_its_connections_before_first_use(database_url):
    """The screen-pop lookups' pool opens its kept connections at start: the first calls
    of a burst do not each wait for a new Postgres backend."""
    engine = make_engine(database_url, pool_size=3, max_overflow=2)
    service = PoolService("warm", engine, warm=3)
    try:
        await service.start()
        assert engine.pool.checkedin() == 3
        assert service.health().detail == {"size": 3, "checked_out": 0}
    finally:
        await service.stop()


async def test_a_pool_that_cannot_warm_still_starts():
    """Postgres down at start (nothing listens on the port): start() logs and returns."""
    engine = make_engine("postgresql+asyncpg://nobody@127.0.0.1:9/none", pool_size=2)
    service = PoolService("cold", engine, warm=2)
    try:
        await service.start()
        assert engine.pool.checkedin() == 0
    finally:
        await service.stop()
