"""What the routing integration tests share: the seeded rules, the actor their changes are
made as, and the ``cti routing`` runner (a real process, as an operator runs it). Fixtures
are in ``conftest.py``."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from cti.routing.service import Actor

ROOT = Path(__file__).resolve().parents[3]
ACTOR = Actor(None, "tester", "127.0.0.1")
#: The rules ``cti db seed`` writes (one DID per county): what every test starts from and
#: leaves behind, since the run shares one database.
SEEDED = {
    "dids": [
        {"did": "9615601", "county": "north"},
        {"did": "9615602", "county": "south"},
        {"did": "9615603", "county": "east"},
        {"did": "9615604", "county": "west"},
    ]
}
CTI = [sys.executable, "-m", "cti.cli", "routing"]


async def cti(env, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """``cti routing <args>`` in a child process with ``env`` (the ``env`` fixture)."""
    return await asyncio.to_thread(
        subprocess.run,
        [*CTI, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=env["CTI_DATA_DIR"],
    )
