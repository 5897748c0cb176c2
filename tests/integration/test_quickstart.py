"""The README's first command on a fresh checkout: no CTI_DATABASE_URL, so the backend starts
its own private Postgres (pgserver) under var/, seeds it, prints the first admin's password,
and that admin can log in to the running backend."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys

import httpx
import pytest

from cti.embedded_pg import stop_embedded_postgres
from tests.conftest import REPO_ROOT, free_port, wait_for_port

CTI = [sys.executable, "-m", "cti.cli"]
DATA_DIR = REPO_ROOT / "var" / "test-quickstart"


@pytest.fixture
def fresh_data_dir():
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    yield DATA_DIR
    stop_embedded_postgres(DATA_DIR / "pg")
    shutil.rmtree(DATA_DIR, ignore_errors=True)


@pytest.mark.slow
async def test_seed_then_serve_on_the_embedded_postgres(fresh_data_dir):
    env = {k: v for k, v in os.environ.items() if k != "CTI_DATABASE_URL"}
    env.update(
        CTI_DATA_DIR=str(fresh_data_dir),
        CTI_LOG_JSON="false",
        CTI_AGI_BIND=f"127.0.0.1:{free_port()}",
    )
    seed = await asyncio.create_subprocess_exec(
        *CTI,
        "db",
        "seed",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(seed.communicate(), 120)
    assert seed.returncode == 0, err.decode()
    password = re.search(r"password: (\S+)", out.decode()).group(1)
    assert (fresh_data_dir / "pg" / "PG_VERSION").exists()

    port = free_port()
    serve = await asyncio.create_subprocess_exec(
        *CTI,
        "serve",
        "--port",
        str(port),
        "--role",
        "api",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_for_port("127.0.0.1", port, timeout=60)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            page = await client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            response = await client.post(
                "/login",
                data={"username": "admin", "password": password, "csrf_token": token},
            )
            assert response.status_code == 303
            me = await client.get("/api/me")
            assert me.json()["role"] == "admin"
            # The starter articles are there, and search works without pg_trgm (the
            # embedded server has none): words by full text, part of a title by substring.
            found = (await client.get("/api/knowledge/articles?q=nanny")).json()
            assert found["results"][0]["title"] == "Live-in nanny"
            if not found["typo_tolerant"]:
                part = (await client.get("/api/knowledge/articles?q=anny")).json()["results"]
                assert [(r["title"], r["how"]) for r in part] == [("Live-in nanny", "similar")]
    finally:
        serve.send_signal(signal.SIGTERM)
        await asyncio.wait_for(serve.wait(), 20)
