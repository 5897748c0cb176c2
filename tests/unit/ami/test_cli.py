"""``cti ami replay FILE``: through its argparse registration, and as a process."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys

import pytest

from cti.ami import cli
from tests.conftest import REPO_ROOT
from tests.unit.ami.support import CAPTURE2, FIXTURES, run, trace

CALL_O = CAPTURE2 / "ami-events-call-agent-user.txt"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cti")
    cli.register(parser.add_subparsers(dest="cmd", required=True))
    return parser.parse_args(argv)


def test_register_adds_ami_replay(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["ami", "replay", str(CALL_O), "--node", "pbx7"])
    assert args.func(args) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {line.pop("node") for line in lines} == {"pbx7"}
    assert lines == run(trace("capture2/ami-events-call-agent-user.txt"))
    assert [line["type"] for line in lines] == [
        "call_offered",
        "agent_state",
        "call_answered",
        "agent_state",
        "agent_state",
        "call_ended",
    ]


def test_unreadable_file_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parse(["ami", "replay", "/nonexistent/ami.txt"])
    assert args.func(args) == 1
    assert "cannot read /nonexistent/ami.txt" in capsys.readouterr().err


def test_stdin_and_fixture_header(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = (FIXTURES / "ring-all.txt").read_bytes()
    assert data.startswith(b"# SYNTHESIZED")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert cli.main(["replay", "-"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    for line in out:
        line.pop("node")
    assert out == run(trace("ring-all.txt"))


def test_as_a_process_utf8_and_json_lines() -> None:
    data = trace("capture2/ami-events-call-agent-user.txt").replace(
        b"Citizen Filtered", "José 张伟".encode()
    )
    proc = subprocess.run(
        [sys.executable, "-m", "cti.ami.cli", "replay", "-"],
        input=data,
        capture_output=True,
        cwd=REPO_ROOT,
        check=True,
    )
    first = json.loads(proc.stdout.decode("utf-8").splitlines()[0])
    assert first["type"] == "call_offered"
    assert first["caller_name"] == "José 张伟"
    assert proc.stderr == b""
