"""``python -m cti.agi journal status | drain`` on a journal left by a stopped server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from cti.agi.handlers import CALL_END, CALL_START
from cti.agi.journal import Journal, journal_dir
from tests.conftest import REPO_ROOT
from tests.integration.agi.conftest import rows_for
from tests.integration.agi.traffic import end_env, linkedid, start_env
from tests.unit.agi.test_handlers import CTX, _request  # the handlers build the records


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cti.agi", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_status_then_drain(tmp_path, database_url, session_factory, seeded, node):
    journal = Journal(journal_dir(tmp_path))
    records = []
    for i in range(5):
        for handler, raw in ((CALL_START, start_env(i)), (CALL_END, end_env(i))):
            record = handler.build(_request(raw), {}, CTX).record
            records.append(record.to_json().replace(b'"node-a"', json.dumps(node).encode()))
    journal.append(records)
    journal.close()
    env = {**os.environ, "CTI_DATA_DIR": str(tmp_path), "CTI_DATABASE_URL": database_url}

    status = _cli("journal", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["pending_records"] == 10

    drained = _cli("journal", "drain", env=env)
    assert drained.returncode == 0, drained.stderr
    assert drained.stdout.strip() == "committed 10 records"
    assert json.loads(_cli("journal", "status", env=env).stdout)["pending_records"] == 0
    rows = await rows_for(session_factory, node)
    assert sorted(rows) == sorted(linkedid(i) for i in range(5))
    assert {r.disposition for r in rows.values()} == {"answered"}
