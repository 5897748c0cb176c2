"""The backend of a live run: ``cti serve`` (every role) against the site's Asterisk, the
agents' browser sockets, and ``cti`` commands with the same environment."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from cti.web.sessions import COOKIE_NAME
from tests.live.pbx import Site, free_port

CTI = Path(sys.executable).parent / "cti"


def environment(site: Site, database_url: str, data_dir: Path) -> dict[str, str]:
    """What ``cti serve`` and the ``cti`` commands of this run read (``CTI_*``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTI_")}
    env.update(
        CTI_DATABASE_URL=database_url,
        CTI_AMI_URL=site.ami_url(),
        CTI_ROUTING_AMI_URL=site.routing_ami_url(),
        CTI_AGI_BIND=f"127.0.0.1:{site.agi_port}",
        CTI_DATA_DIR=str(data_dir),
        CTI_RECORDINGS_DIR=str(site.recordings),
        CTI_ASTERISK_CONF_DIR=str(site.etc),
        CTI_LOG_JSON="false",
        # MixMonitor closes its file at hangup; on loopback 2 s unchanged is settled
        # (the default 10 s is for a busy production disk), and the suite saves ~50 s.
        CTI_RECORDINGS_SETTLE_S="2",
        NO_PROXY="127.0.0.1,localhost",
    )
    return env


class Backend:
    """``cti serve --role all`` in a child process; ``base`` is its URL."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self, timeout: float = 60.0) -> None:
        self.process = subprocess.Popen(  # noqa: S603, ASYNC220 (spawns, does not wait)
            [str(CTI), "serve", "--role", "all", "--port", str(self.port)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.base, timeout=2) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"cti serve exited: {self.log_path.read_text()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    health = (await client.get("/healthz")).json()
                    ami = health.get("ami", {})
                    if health.get("status") == "ok" and ami.get("ok") and ami.get("nodes"):
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cti serve not ready: {self.log_path.read_text()[-3000:]}")
                await asyncio.sleep(0.3)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def command(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """A ``cti`` command with this run's environment (e.g. ``routing apply``)."""
        return subprocess.run(  # noqa: S603
            [str(CTI), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@dataclass
class AgentSocket:
    """An agent's browser: logged in, ``/ws/agent`` open, every frame kept in order."""

    username: str
    interface: str
    frames: list[dict[str, Any]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def for_call(self, linkedid: str) -> list[dict[str, Any]]:
        """The frames about one call (its ``pop_id`` names the Linkedid)."""
        return [f for f in self.frames if f"{linkedid}:" in str(f.get("pop_id", ""))]

    def pops(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("type") in ("pop", "answered", "withdraw", "ended")]


@contextlib.asynccontextmanager
async def agent_socket(
    base: str, username: str, password: str, interface: str
) -> AsyncIterator[AgentSocket]:
    from tests.conftest import login

    async with httpx.AsyncClient(base_url=base) as client:
        response = await login(client, username, password)
        assert response.status_code == 303, response.text
        cookie = client.cookies[COOKIE_NAME]
    sock = AgentSocket(username, interface)
    ready = asyncio.Event()

    async def run() -> None:
        async with connect(
            base.replace("http", "ws") + "/ws/agent",
            additional_headers={"Cookie": f"{COOKIE_NAME}={cookie}"},
            origin=base,
            open_timeout=10,
        ) as ws:
            async for raw in ws:
                frame = json.loads(raw)
                sock.frames.append(frame)
                if frame.get("type") == "hello":
                    ready.set()

    sock.task = asyncio.create_task(run())
    await asyncio.wait_for(ready.wait(), 10)
    try:
        yield sock
    finally:
        sock.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sock.task
