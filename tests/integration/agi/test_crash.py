"""kill -9 of the FastAGI server in the middle of a stream of calls: after a restart,
every call is in the table exactly once, including those that were acknowledged but only
in the journal when the process died."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from cti.agi.background import STATUS_FILE
from cti.agi.journal import Journal, journal_dir
from tests.conftest import REPO_ROOT, free_port, wait_for_port
from tests.integration.agi.conftest import rows_for, wait_for
from tests.integration.agi.proxy import TcpProxy
from tests.integration.agi.traffic import linkedid, started, stream

CALLS = 300


def _spawn(env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "cti.agi", "run"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


@pytest.mark.slow
async def test_kill_9_mid_stream_then_restart_loses_and_duplicates_nothing(
    tmp_path, database_url, session_factory, seeded, node
):
    url = make_url(database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    await proxy.cut()  # Postgres unreachable: acknowledged calls exist only in the journal
    port = free_port()
    env = {
        **os.environ,
        "CTI_DATABASE_URL": url.set(host="127.0.0.1", port=proxy.port).render_as_string(False),
        "CTI_DATA_DIR": str(tmp_path / "data"),
        "CTI_AGI_BIND": f"127.0.0.1:{port}",
        "CTI_NODE_NAME": node,
        "CTI_LOG_LEVEL": "ERROR",
    }
    first = _spawn(env, tmp_path / "server-1.log")
    second: subprocess.Popen | None = None
    killed = asyncio.Event()

    def on_ack(acked: int) -> None:
        if acked == CALLS:  # half-way through the 2 * CALLS requests
            os.kill(first.pid, signal.SIGKILL)
            killed.set()

    try:
        await wait_for_port("127.0.0.1", port)
        status_file = journal_dir(tmp_path / "data") / STATUS_FILE
        await wait_for(status_file.exists)  # its journal writer process is up
        traffic = asyncio.create_task(stream(port, range(CALLS), concurrency=30, on_ack=on_ack))
        await killed.wait()
        assert await asyncio.to_thread(first.wait, 10) == -signal.SIGKILL
        # Its journal writer (a child process) does not outlive it.
        status = json.loads(status_file.read_text())
        await wait_for(lambda: not Path(f"/proc/{status['pid']}").exists(), timeout=10)
        journal = Journal(journal_dir(tmp_path / "data"))
        assert journal.backlog_bytes(journal.load_checkpoint()) > 0  # nothing reached Postgres
        journal.close()
        second = _spawn(env, tmp_path / "server-2.log")
        await proxy.restore()
        retries = await traffic
        assert retries > 0  # requests in flight at the kill were sent again

        async def complete() -> bool:
            rows = await rows_for(session_factory, node)
            return len(rows) == CALLS and all(r.disposition == "answered" for r in rows.values())

        await wait_for(complete, timeout=60)
        second.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(second.wait, 20) == 0
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        await proxy.cut()

    rows = await rows_for(session_factory, node)
    assert sorted(rows) == sorted(linkedid(i) for i in range(CALLS))  # once each, no more
    for i in range(CALLS):
        row = rows[linkedid(i)]
        assert row.caller_name == f"Citizen {i}" and row.started_at.timestamp() == started(i)
        assert (row.disposition, row.wait_s, row.talk_s, row.hangup_cause) == (
            "answered",
            5,
            30,
            16,
        )
    journal = Journal(journal_dir(tmp_path / "data"))
    assert journal.backlog_bytes(journal.load_checkpoint()) == 0
    journal.close()
