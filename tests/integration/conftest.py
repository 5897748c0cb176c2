"""Fixtures for tests that need the app and users in a real database."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from cti import accounts
from cti.app import create_app
from cti.seed import seed
from cti.settings import Settings
from cti.store.users import Role

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
async def seeded(session_factory) -> None:
    async with session_factory() as db:
        await seed(db)
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
    return create_app(settings, database_url, roles={"api"}, engine=engine, services=[])


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
        role: Role | str, *, county: str | None = None, interface: str | None = None
    ) -> str:
        username = f"{Role(role).value}-{secrets.token_hex(3)}"
        async with session_factory() as db:
            await accounts.create_user(
                db,
                username=username,
                role=Role(role).value,
                password=PASSWORD,
                county=county,
                interface=interface,
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
