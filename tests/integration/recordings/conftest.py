"""Recordings tests: a private database (captured Uniqueids also appear in other tests'
call rows), a recordings folder, and helpers that file captured MixMonitor files into it."""

from __future__ import annotations

import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cti.seed import seed
from cti.store.calls import Call
from cti.store.db import make_engine, make_session_factory
from tests.databases import throwaway_database

CAPTURED = {
    # name in shared/asterisk-traces/recordings -> (Uniqueid, bytes, duration ms)
    "north-13800138000-1795710920.0.wav": ("1795710920.0", 96364, 6020),
    "south-13900139000-1795710933.2.wav": ("1795710933.2", 127404, 7960),
    "followup-13800138000-1795710973.6.wav": ("1795710973.6", 64684, 4040),
}


@pytest.fixture(scope="module")
async def rec_url(admin_url):
    async with throwaway_database(admin_url, "cti_rec") as url:
        yield url


@pytest.fixture(scope="module")
async def rec_factory(rec_url):
    engine = make_engine(rec_url)
    factory = make_session_factory(engine)
    async with factory() as db:
        await seed(db)
        await db.commit()
    yield factory
    await engine.dispose()


def age(path: Path, seconds: float = 120.0) -> None:
    """Make a file look finished (last written ``seconds`` ago)."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def file_capture(traces_dir: Path, root: Path, name: str, dest: str) -> Path:
    target = root / dest
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(traces_dir / "recordings" / name, target)
    age(target)
    return target


async def add_call(factory, linkedid: str, **fields) -> int:
    values = {
        "node": "asterisk",
        "linkedid": linkedid,
        "uniqueid": linkedid,
        "caller_number": "13800138000",
        "did": "9615601",
        "disposition": "answered",
        "started_at": datetime.fromtimestamp(float(linkedid.split("-")[-1]), UTC),
        "ended_at": datetime.fromtimestamp(float(linkedid.split("-")[-1]) + 10, UTC),
    }
    values.update(fields)
    async with factory() as db:
        call = Call(**values)
        db.add(call)
        await db.commit()
        return call.id
