"""Fixtures of the routing integration tests: a copy of the shipped Asterisk configuration
per test, the fake PBX over TCP, the seeded rules around each test, and the environment
of a ``cti routing`` process (``helpers.cti``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cti.routing.service import RoutingService
from tests.integration.routing.fake_pbx import FakePbx
from tests.integration.routing.helpers import ACTOR, ROOT, SEEDED


@pytest.fixture
def conf_dir(tmp_path) -> Path:
    folder = tmp_path / "asterisk"
    shutil.copytree(ROOT / "asterisk_conf", folder)
    return folder


@pytest.fixture
async def pbx(conf_dir):
    fake = FakePbx(conf_dir)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def stored(session_factory, seeded, conf_dir):
    """The seeded rules before and after each test (the database is shared)."""
    service = RoutingService(conf_dir, None)
    async with session_factory() as db:
        await service.save(db, SEEDED, ACTOR)
    yield
    async with session_factory() as db:
        await service.save(db, SEEDED, ACTOR)


@pytest.fixture
def env(database_url, tmp_path, conf_dir, stored) -> dict[str, str]:
    """The environment of a ``cti routing`` process: the test database, this test's
    configuration folder, no routing AMI user (a test adds one to apply)."""
    env = dict(os.environ)
    env.pop("CTI_ROUTING_AMI_URL", None)
    env.update(
        CTI_DATABASE_URL=database_url,
        CTI_DATA_DIR=str(tmp_path),
        CTI_LOG_JSON="false",
        CTI_ASTERISK_CONF_DIR=str(conf_dir),
    )
    return env
