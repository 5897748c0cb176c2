"""The ``cti`` command as an operator runs it: a real process against the test database."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import httpx

from cti import accounts
from tests.conftest import free_port, wait_for_port

CTI = [sys.executable, "-m", "cti.cli"]


def _env(database_url: str, tmp_path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CTI_DATABASE_URL=database_url, CTI_DATA_DIR=str(tmp_path), CTI_LOG_JSON="false")
    return env


async def _cti(env, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return await asyncio.to_thread(
        subprocess.run,
        [*CTI, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_users_add_set_password_disable(database_url, seeded, session_factory, tmp_path):
    env = _env(database_url, tmp_path)
    added = await _cti(
        env,
        "users",
        "add",
        "clerk-1001",
        "--role",
        "agent",
        "--interface",
        "PJSIP/1001",
        "--county",
        "north",
    )
    assert added.returncode == 0, added.stderr
    password = added.stdout.split("password (shown once): ")[1].strip()
    async with session_factory() as db:
        user = await accounts.get_user(db, "clerk-1001")
        assert accounts.verify_password(user.password_hash, password)
        assert user.interface == "PJSIP/1001" and user.role == "agent"

    changed = await _cti(
        env,
        "users",
        "set-password",
        "clerk-1001",
        "--password-stdin",
        stdin="a brand new password\n",
    )
    assert changed.returncode == 0, changed.stderr
    assert "a brand new password" not in changed.stdout  # never echoed
    async with session_factory() as db:
        user = await accounts.get_user(db, "clerk-1001")
        assert accounts.verify_password(user.password_hash, "a brand new password")

    disabled = await _cti(env, "users", "disable", "clerk-1001")
    assert disabled.returncode == 0
    async with session_factory() as db:
        assert not (await accounts.get_user(db, "clerk-1001")).active


async def test_users_add_rejects_bad_values_with_a_clear_error(database_url, seeded, tmp_path):
    env = _env(database_url, tmp_path)
    cases = [
        (["Bad Name;rm", "--role", "agent"], "username must be"),
        (["ok-name", "--role", "agent", "--interface", "PJSIP/1001,evil"], "interface must"),
        (["ok-name", "--role", "agent", "--county", "atlantis"], "unknown county"),
        (["admin", "--role", "agent"], "is taken"),
    ]
    for args, message in cases:
        result = await _cti(env, "users", "add", *args)
        assert result.returncode == 1, args
        assert message in result.stderr, (args, result.stderr)
    short = await _cti(
        env, "users", "add", "pw-short", "--role", "agent", "--password-stdin", stdin="short\n"
    )
    assert short.returncode == 1 and "at least" in short.stderr


async def test_serve_answers_health_and_stops_gracefully(database_url, seeded, tmp_path):
    port = free_port()
    env = _env(database_url, tmp_path)
    env["CTI_AGI_BIND"] = f"127.0.0.1:{free_port()}"
    proc = await asyncio.create_subprocess_exec(
        *CTI,
        "serve",
        "--port",
        str(port),
        "--role",
        "api",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await wait_for_port("127.0.0.1", port, timeout=30)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            health = await client.get("/healthz")
            assert health.status_code == 200
            assert health.json()["database"]["ok"] is True
            metrics = await client.get("/metrics")
            assert "cti_database_up 1" in metrics.text
    finally:
        proc.send_signal(signal.SIGTERM)
        output = (await asyncio.wait_for(proc.communicate(), 20))[0].decode()
    # uvicorn re-raises the signal once shutdown is complete, as a well-behaved daemon does
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output


async def test_unknown_role_is_refused(database_url, tmp_path):
    result = await _cti(_env(database_url, tmp_path), "serve", "--role", "everything")
    assert result.returncode == 2 and "unknown role" in result.stderr
