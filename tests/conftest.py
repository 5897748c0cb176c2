"""Shared fixtures: a real Postgres database per test session, created and dropped.

Which server: ``CTI_TEST_ADMIN_URL`` when set (an asyncpg URL to a database the tests may
``CREATE DATABASE`` from); else the machine's Postgres on 127.0.0.1:5432 (user postgres,
trust auth, as on CI); else a private embedded server (pgserver) under ``var/test-pg``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cti.store import migrate
from cti.store.db import make_engine, make_session_factory

REPO_ROOT = Path(__file__).resolve().parents[1]
TRACES_DIR = (REPO_ROOT.parent / "shared" / "asterisk-traces").resolve()


def _local_postgres_up(host: str = "127.0.0.1", port: int = 5432) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _admin_url() -> str:
    if url := os.environ.get("CTI_TEST_ADMIN_URL"):
        return url
    if _local_postgres_up():
        return "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    from cti.embedded_pg import start_embedded_postgres

    return start_embedded_postgres(REPO_ROOT / "var" / "test-pg", database="postgres")


@pytest.fixture(scope="session")
def traces_dir() -> Path:
    if not TRACES_DIR.is_dir():
        pytest.fail(f"captured Asterisk traces not found at {TRACES_DIR}")
    return TRACES_DIR


@pytest.fixture(scope="session")
def admin_url() -> str:
    return _admin_url()


@pytest.fixture(scope="session")
async def database_url(admin_url: str) -> AsyncIterator[str]:
    """A fresh database with every migration applied; dropped after the session."""
    name = f"cti_test_{secrets.token_hex(4)}"
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=False)
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        await migrate.upgrade(url)
        yield url
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(database_url)
    yield eng
    await eng.dispose()


@pytest.fixture(scope="session")
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_session_factory(engine)


@pytest.fixture(scope="session", autouse=True)
def _no_proxy_for_loopback() -> None:
    # httpx/websockets honour *_proxy variables; tests only ever talk to loopback.
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)
        else:
            writer.close()
            await writer.wait_closed()
            return
