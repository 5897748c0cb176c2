"""Fixtures for the AGI integration tests: a running AgiService on a free port, with its
journal in a temporary folder and a node name of its own (rows never collide with other
tests in the shared database)."""

from __future__ import annotations

import asyncio
import inspect
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import select

from cti.agi.service import AgiService
from cti.agi.writer import WriterOptions
from cti.settings import Settings
from cti.store.calls import Call


@pytest.fixture
def node() -> str:
    return f"test-{secrets.token_hex(4)}"


@pytest.fixture
def agi_settings(tmp_path, node) -> Settings:
    return Settings(
        _env_file=None, data_dir=tmp_path / "data", agi_bind="127.0.0.1:0", node_name=node
    )


ServiceMaker = Callable[..., AgiService]


@pytest.fixture
async def make_service(agi_settings, session_factory) -> AsyncIterator[ServiceMaker]:
    started: list[AgiService] = []

    async def make(settings: Settings | None = None, factory=None, **kwargs) -> AgiService:
        kwargs.setdefault("writer_options", WriterOptions(poll_interval=0.05, backoff_max=0.5))
        service = AgiService(settings or agi_settings, factory or session_factory, **kwargs)
        await service.start()
        started.append(service)
        return service

    yield make
    for service in started:
        await service.stop()


async def rows_for(session_factory, node: str) -> dict[str, Call]:
    """The ``calls`` rows of one node, by Linkedid."""
    async with session_factory() as db:
        calls = (await db.scalars(select(Call).where(Call.node == node))).all()
    return {c.linkedid: c for c in calls}


async def wait_for(condition: Callable[[], bool | Awaitable[bool]], timeout: float = 30.0) -> None:
    """Wait until ``condition()`` holds (a bound on waiting, not a speed requirement)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not reached within {timeout} s")
        await asyncio.sleep(0.02)
