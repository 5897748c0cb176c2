"""The classic AGI scripts (pyst2, process per call) run the same handlers into the same
journal, and answer the same way."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import pytest

from cti.agi.journal import Journal, Position, journal_dir
from cti.agi.protocol import format_environment
from tests.conftest import REPO_ROOT
from tests.integration.agi.fake_asterisk import Exchange, answer
from tests.integration.agi.traffic import end_env, linkedid, start_env

SCRIPTS = REPO_ROOT / "agi_scripts"


async def run_classic(script: str, raw_env: bytes, query: str | None, data_dir, variables=None):
    """Start the script as Asterisk does (argv = script path + query, env on stdin) and
    answer its commands like Asterisk over the pipes."""
    argv = [sys.executable, str(SCRIPTS / script)] + ([query] if query is not None else [])
    env = {**os.environ, "CTI_DATA_DIR": str(data_dir), "CTI_NODE_NAME": "classic"}
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env
    )
    exchange = Exchange()
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(raw_env)
    await proc.stdin.drain()
    if not raw_env:
        proc.stdin.close()  # Asterisk went away
    lookup = (variables or {}).get
    async with asyncio.timeout(30):
        while line := await proc.stdout.readline():
            command = line.decode().rstrip("\n")
            exchange.commands.append(command)
            proc.stdin.write(answer(command, lookup, exchange))
            await proc.stdin.drain()
        returncode = await proc.wait()
    return returncode, exchange


def _query_of(raw: bytes) -> str:
    line = next(x for x in raw.decode().split("\n") if x.startswith("agi_network_script: "))
    return line.split("?", 1)[1]


def _records(data_dir) -> list[dict]:
    journal = Journal(journal_dir(data_dir))
    try:
        return [json.loads(e.payload) for e in journal.read(Position(1, 0)).entries]
    finally:
        journal.close()


async def test_classic_start_and_end_write_the_same_records_as_fastagi(tmp_path):
    for script, raw in (("call_start.py", start_env(7)), ("call_end.py", end_env(7))):
        classic_env = raw.replace(b"agi_network: yes\n", b"").replace(
            b"agi_network_script: ", b"agi_x_script: "
        )
        code, exchange = await run_classic(script, classic_env, _query_of(raw), tmp_path)
        assert code == 0 and exchange.status == "OK", exchange.commands
        assert exchange.commands == ['SET VARIABLE "CTI_AGI_STATUS" "OK"']
    start, end = _records(tmp_path)
    assert (start["kind"], start["node"], start["linkedid"]) == (
        "call-start",
        "classic",
        linkedid(7),
    )
    assert start["caller_name"] == "Citizen 7" and start["queue"] == "county-north"
    assert (end["kind"], end["disposition"], end["talk_s"], end["agent_interface"]) == (
        "call-end",
        "answered",
        30,
        "PJSIP/1001",
    )


async def test_classic_reads_missing_parameters_from_the_channel(tmp_path):
    raw = format_environment(
        {
            "request": "/agi_scripts/call_start.py",
            "uniqueid": "1795711939.2",
            "callerid": "13800138041",
            "calleridname": "Citizen \xe9",
        }
    )
    variables = {"CHANNEL(linkedid)": "1795711939.2", "COUNTY": "north", "EPOCH": "1795711939"}
    code, exchange = await run_classic("call_start.py", raw, None, tmp_path, variables)
    assert code == 0 and exchange.status == "OK"
    assert exchange.commands[0] == 'GET VARIABLE "CHANNEL(linkedid)"'
    [record] = _records(tmp_path)
    assert (record["county"], record["started_at"], record["caller_name"]) == (
        "north",
        1795711939.0,
        "Citizen \xe9",
    )


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"agi_calleridname: \xff\xfe\x00bad\nagi_uniqueid: 1.2\n\n", "OK"),
        (b"agi_calleridname: x\n\n", "REJECTED"),  # no Uniqueid
        (b"garbage line\n\n", "REJECTED"),
        (b"", None),  # Asterisk went away before the environment: nothing to answer
    ],
)
async def test_classic_handles_broken_input_without_crashing(tmp_path, raw, status):
    code, exchange = await run_classic("call_start.py", raw, "linkedid=1.2&t=1795711939", tmp_path)
    assert code == 0 and exchange.status == status
    records = _records(tmp_path)
    assert len(records) == (1 if status == "OK" else 0)
    if records:
        assert records[0]["caller_name"] == "\ufffd\ufffd\ufffdbad"
