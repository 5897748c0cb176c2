"""The same handlers as classic, process-per-call AGI scripts (``agi_scripts/*.py``).

Asterisk starts the script with the AGI environment on stdin; the request's parameters
are its first argument (``AGI(/path/call_start.py,<query>)``), the same query string the
FastAGI form carries. The record goes into the same journal, fsync'd, and the same
acknowledgement (``CTI_AGI_STATUS=OK``) goes back; the FastAGI service's writer (``cti
serve --role agi``, or ``cti agi drain``) moves it to Postgres. The dialplan never waits
on the database here either.

pyst2 speaks the protocol. Its own reading of the environment splits at every ':' and
lets a later duplicate win, so the raw lines it reads are recorded and parsed with
``cti.agi.protocol.parse_environment`` instead. Its debug output goes to /dev/null.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from cti.agi import protocol
from cti.agi.handlers import HANDLERS, AgiRequest, HandlerContext
from cti.agi.journal import Journal, journal_dir
from cti.agi.protocol import STATUS_VARIABLE
from cti.agi.records import RecordRejected
from cti.numbers import NumberPlan

#: ``cti.settings.Settings().data_dir``'s default (``<project>/var``).
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent.parent / "var"

MAX_LINE = 64 * 1024


class RecordingInput:
    """Line reader handed to pyst2: decodes for it (invalid UTF-8 -> U+FFFD, where pyst2
    would raise) and keeps the raw environment lines for our own parser."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.recording = True
        self.recorded: list[bytes] = []

    def readline(self) -> str:
        line = self._raw.readline(MAX_LINE)
        if self.recording:
            self.recorded.append(line)
        return protocol.decode(line)

    @property
    def reached_eof(self) -> bool:
        """Asterisk closed stdin before the empty line that ends the environment."""
        return not self.recorded or not self.recorded[-1].endswith(b"\n")

    def environment_lines(self) -> list[bytes]:
        """The recorded lines before the empty one, without their newline."""
        lines: list[bytes] = []
        for raw in self.recorded:
            line = raw.rstrip(b"\n")
            if line.strip() == b"":
                break
            lines.append(line)
        return lines


def run(
    script: str,
    argv: list[str],
    *,
    stdin: BinaryIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Serve one classic AGI request for ``script`` (``call-start`` / ``call-end``).

    Promises: the record is durable in the journal before ``CTI_AGI_STATUS=OK`` is set;
    a malformed request is answered ``REJECTED`` and logged in Asterisk's log; the
    process never waits on Postgres. Returns the exit status (0, or 1 for a journal
    failure, which leaves CTI_AGI_STATUS empty so the dialplan retries).
    """
    from asterisk.agi import AGI, AGIException  # pyst2; imported here: it traps SIGHUP

    received_at = time.time()
    reader = RecordingInput(stdin if stdin is not None else sys.stdin.buffer)
    with open(os.devnull, "w") as devnull:
        agi = AGI(stdin=reader, stdout=stdout or sys.stdout, stderr=devnull)
        reader.recording = False
        if reader.reached_eof:
            return 0  # nobody left to answer (pyst2 would fail parsing an empty response)
        try:
            return _serve(agi, script, argv, reader, received_at, classic_settings())
        except (AGIException, ValueError, OSError):
            # Asterisk hung up, closed the pipe or refused a command. Whatever was
            # journaled before stays journaled; the dialplan retries what was not acked.
            return 0


@dataclass(frozen=True, slots=True)
class ClassicSettings:
    """The three settings a classic script needs."""

    data_dir: Path
    node_name: str
    number_plan: NumberPlan


#: The ``cti.settings.Settings`` fields the scripts read, and their defaults there.
_PLAN = ("country_code", "trunk_prefix", "international_prefix")
_FIELDS = ("data_dir", "node_name", *_PLAN)


def classic_settings(environ: Mapping[str, str] | None = None) -> ClassicSettings:
    """``cti.settings.Settings()``'s values for these fields, without importing pydantic.

    A classic script is a new interpreter per request, and importing pydantic-settings
    was most of its CPU (bench/bench_agi.py's classic figure). Same sources and
    precedence for the fields used: ``CTI_<FIELD>`` in the environment (any case), then
    ``.env`` in the working folder, then the defaults. When a ``.env`` file is there,
    ``Settings`` itself reads it (its dotenv rules are not copied here).
    """
    environ = os.environ if environ is None else environ
    if os.path.exists(".env"):
        from cti.settings import Settings

        settings = Settings()
        return ClassicSettings(settings.data_dir, settings.node_name, settings.number_plan)
    found = {k.lower(): v for k, v in environ.items() if k[:4].lower() == "cti_"}
    values = {name: found.get(f"cti_{name}") for name in _FIELDS}
    plan = NumberPlan(**{k: v for k, v in values.items() if k in _PLAN and v is not None})
    data_dir = Path(values["data_dir"]) if values["data_dir"] is not None else DEFAULT_DATA_DIR
    node_name = values["node_name"] if values["node_name"] is not None else "asterisk"
    return ClassicSettings(data_dir, node_name, plan)


def _serve(agi, script, argv, reader, received_at, settings) -> int:  # noqa: ANN001
    handler = HANDLERS[script]
    try:
        env = protocol.parse_environment(reader.environment_lines())
        params = protocol.parse_query(argv[1]) if len(argv) > 1 else {}
    except protocol.MalformedRequest as exc:
        _refuse(agi, f"malformed request: {exc}")
        return 0
    pulled = {}
    for param, variable in handler.missing(params).items():
        pulled[param] = agi.get_variable(variable) or None
    context = HandlerContext(node=settings.node_name, plan=settings.number_plan)
    try:
        outcome = handler.build(AgiRequest(script, params, env, received_at), pulled, context)
    except RecordRejected as exc:
        _refuse(agi, str(exc))
        return 0
    journal = Journal(journal_dir(settings.data_dir))
    try:
        journal.append([outcome.record.to_json()])
    except Exception as exc:
        agi.verbose(f"cti {script}: journal write failed: {exc}", 1)
        return 1
    finally:
        journal.close()
    for note in outcome.notes:
        agi.verbose(f"cti {script} {outcome.record.uniqueid}: {note}", 2)
    agi.set_variable(STATUS_VARIABLE, "OK")
    return 0


def _refuse(agi, reason: str) -> None:  # noqa: ANN001
    agi.verbose(f"cti: AGI request refused: {reason}"[:500], 1)
    agi.set_variable(STATUS_VARIABLE, "REJECTED")


def main(script: str) -> None:
    """Entry point of ``agi_scripts/<script>.py``."""
    sys.exit(run(script, sys.argv))
