"""Live servers for the tests.

This module: ``live_server`` runs an ASGI app under a real uvicorn server on a free
loopback port, in the test's loop (the e2e and WebSocket tests).

The package: the live suite, real SIP calls through a real Asterisk 22 (``pbx.py``,
``sipp.py``, ``backend.py``, ``conftest.py``, the scenarios ``test_*.py``; docs/asterisk.md, "Live
tests and the lab"). ``lab.py`` is the same setup by hand (``scripts/lab``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import uvicorn

from tests.conftest import free_port, wait_for_port


@contextlib.asynccontextmanager
async def live_server(app) -> AsyncIterator[str]:
    """Yields the base URL (``http://127.0.0.1:PORT``); lifespan runs, so services start."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        ws="websockets-sansio",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await wait_for_port("127.0.0.1", port)  # uvicorn binds after lifespan startup
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
