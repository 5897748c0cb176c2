"""Shared fixtures: a real Postgres database per test session, created and dropped.

Which server: ``CTI_TEST_ADMIN_URL`` when set (an asyncpg URL to a database the tests may
``CREATE DATABASE`` from); else the machine's Postgres on 127.0.0.1:5432 (user postgres,
trust auth, as on CI); else a private embedded server (pgserver) under ``var/test-pg``.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cti import accounts
from cti.app import create_app
from cti.bus import InMemoryBus
from cti.seed import REFERENCE_DIR, load_counties, load_yaml, seed
from cti.settings import Settings
from cti.store.companies import Company, CompanyStatus
from cti.store.db import make_engine, make_session_factory
from cti.store.users import Role
from tests.databases import throwaway_database

REPO_ROOT = Path(__file__).resolve().parents[1]


def _find_traces() -> Path:
    """The captured Asterisk 22 traces: ``CTI_TRACES_DIR``, else ``../shared`` next to the
    checkout (the usual layout), else the team machine's ``/work/shared``."""
    if os.environ.get("CTI_TRACES_DIR"):
        return Path(os.environ["CTI_TRACES_DIR"]).resolve()
    candidates = [
        REPO_ROOT.parent / "shared" / "asterisk-traces",
        Path("/work/shared/asterisk-traces"),
    ]
    return next((c.resolve() for c in candidates if c.is_dir()), candidates[0])


TRACES_DIR = _find_traces()


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
    async with throwaway_database(admin_url, "cti_test") as url:
        yield url


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


# --- the app, users and logging in -------------------------------------------------------

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
async def seeded(session_factory) -> None:
    async with session_factory() as db:
        await seed(db)
        await db.commit()


def _reference_codes() -> tuple[list[str], list[str]]:
    """The counties and catalogue codes the seed makes (db/reference)."""
    catalog = load_yaml(REFERENCE_DIR / "service_catalog.yaml")
    categories = [g["code"] for g in catalog] + [i["code"] for g in catalog for i in g["items"]]
    return [c["code"] for c in load_counties()], categories


@pytest.fixture(autouse=True)
async def _only_the_reference_counties_and_catalogue_stay(request) -> AsyncIterator[None]:
    """The run shares one database, and the routing, seed and catalogue tests read the set
    of counties and categories as the seed made it: a test that adds a county or a category
    (dispatch, companies, the admin pages) has it removed when it ends. What pointed at it
    follows its foreign keys (set null or cascade)."""
    yield
    if "session_factory" not in request.fixturenames:
        return
    factory = request.getfixturevalue("session_factory")
    counties, categories = _reference_codes()
    async with factory() as db:
        await db.execute(
            text("DELETE FROM counties WHERE NOT (code = ANY(:codes))"), {"codes": counties}
        )
        await db.execute(
            text("DELETE FROM service_categories WHERE NOT (code = ANY(:codes))"),
            {"codes": categories},
        )
        await db.commit()


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("data"),
        login_max_failures=5,
    )


@pytest.fixture
async def app(settings, database_url, engine, seeded) -> FastAPI:
    return create_app(
        settings, database_url, roles={"api"}, engine=engine, bus=InMemoryBus(), services=[]
    )


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("10.9.8.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


UserMaker = Callable[..., Awaitable[str]]


@pytest.fixture
def make_user(session_factory) -> UserMaker:
    """Create a user with a unique name and the shared test password; returns the username."""

    async def make(
        role: Role | str,
        *,
        county: str | None = None,
        interface: str | None = None,
        company_id: int | None = None,
    ) -> str:
        """A ``company`` user without ``company_id`` gets an approved company of its own."""
        username = f"{Role(role).value}-{secrets.token_hex(3)}"
        async with session_factory() as db:
            if Role(role) is Role.COMPANY and company_id is None:
                company = Company(
                    name=f"Company of {username}",
                    licence_number=f"LIC-{username}",
                    status=CompanyStatus.APPROVED.value,
                )
                db.add(company)
                await db.flush()
                company_id = company.id
            await accounts.create_user(
                db,
                username=username,
                role=Role(role).value,
                password=PASSWORD,
                county=county,
                interface=interface,
                company_id=company_id,
            )
            await db.commit()
        return username

    return make


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def login(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD
) -> httpx.Response:
    """Log in through the real form (double-submit CSRF cookie included)."""
    page = await client.get("/login")
    token = _CSRF.search(page.text).group(1)
    return await client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
    )


async def csrf_of(client: httpx.AsyncClient) -> str:
    return (await client.get("/api/me")).json()["csrf_token"]
