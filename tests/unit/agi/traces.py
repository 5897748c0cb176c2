"""The captured FastAGI sessions of shared/asterisk-traces, read as data.

A ``*.transcript`` interleaves both directions: each chunk follows a marker line
``### ASTERISK -> AGI +<s>s <n> bytes ###`` (or ``AGI -> ASTERISK``) and is exactly <n>
bytes; the markers are not protocol bytes. ``Session`` keeps the environment as Asterisk
sent it (chunk by chunk, as the TCP reads arrived) and what the channel's variables were,
as learned from the capture's own GET VARIABLE / GET FULL VARIABLE exchanges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import TRACES_DIR

MARK = re.compile(rb"### (ASTERISK -> AGI|AGI -> ASTERISK) \+([0-9.]+)s (\d+) bytes ###\n")
TRACES = TRACES_DIR
CAPTURE2_AGI = TRACES / "capture2" / "agi"


@dataclass
class Session:
    path: Path
    #: (direction, bytes) in order; direction "in" = Asterisk -> AGI server.
    chunks: list[tuple[str, bytes]]
    env_chunks: list[bytes] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    #: (command line, response bytes) pairs as captured.
    exchanges: list[tuple[bytes, bytes]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def script(self) -> str:
        return self.env["agi_network_script"].partition("?")[0]

    @property
    def uniqueid(self) -> str:
        return self.env["agi_uniqueid"]

    @property
    def env_bytes(self) -> bytes:
        return b"".join(self.env_chunks)

    def variables(self) -> dict[str, str | None]:
        """Channel variables this session's exchanges reveal (None: unset)."""
        known: dict[str, str | None] = {}
        for command, response in self.exchanges:
            line = command.decode().rstrip("\n")
            first = response.split(b"\n", 1)[0].decode()
            value = _value_of(first)
            if line.startswith("GET VARIABLE "):
                known[line[len("GET VARIABLE ") :].strip('"')] = value
            elif line.startswith("GET FULL VARIABLE ") and value is not None:
                names = re.findall(r"\$\{([^}]+)\}", line[len("GET FULL VARIABLE ") :])
                parts = value.split("|")
                if len(names) == len(parts):
                    known.update(zip(names, parts, strict=True))
        return known


def _value_of(line: str) -> str | None:
    match = re.fullmatch(r"200 result=1 \((.*)\)", line)
    return match.group(1) if match else None


def parse_transcript(path: Path) -> Session:
    data = path.read_bytes()
    chunks: list[tuple[str, bytes]] = []
    pos = 0
    while pos < len(data):
        match = MARK.match(data, pos)
        if match is None:  # "### AGI server closed socket ..."
            pos = data.index(b"\n", pos) + 1
            continue
        size = int(match.group(3))
        direction = "in" if match.group(1) == b"ASTERISK -> AGI" else "out"
        chunks.append((direction, data[match.end() : match.end() + size]))
        pos = match.end() + size
    session = Session(path, chunks)
    received = b""
    index = 0
    while b"\n\n" not in received:
        direction, body = chunks[index]
        assert direction == "in", f"{path}: server spoke before the environment ended"
        session.env_chunks.append(body)
        received += body
        index += 1
    for line in received.split(b"\n\n", 1)[0].decode().split("\n"):
        key, _, value = line.partition(": ")
        session.env.setdefault(key, value)
    command: bytes | None = None
    response = b""
    for direction, body in chunks[index:]:
        if direction == "out":
            if command is not None:
                session.exchanges.append((command, response))
            command, response = body, b""
        else:
            response += body
    if command is not None:
        session.exchanges.append((command, response))
    return session


def capture2_sessions() -> list[Session]:
    return [parse_transcript(p) for p in sorted(CAPTURE2_AGI.glob("*.transcript"))]


def all_sessions() -> list[Session]:
    paths = sorted(TRACES.glob("*.transcript")) + sorted((TRACES / "agi").glob("*.transcript"))
    return [parse_transcript(p) for p in paths] + capture2_sessions()


def call_variables(sessions: list[Session]) -> dict[str, dict[str, str | None]]:
    """For each call (by Uniqueid), every variable any of its sessions revealed."""
    out: dict[str, dict[str, str | None]] = {}
    for session in sessions:
        known = out.setdefault(session.uniqueid, {})
        for name, value in session.variables().items():
            if value is not None or name not in known:
                known[name] = value
    return out


#: capture2/README.md, "Ground truth for these calls".
GROUND_TRUTH = {
    "1795711889.34": dict(
        number="13900139031",
        name="Citizen Restart",
        county="south",
        disposition="abandoned",
        wait=2,
        talk=0,
        agent=None,
        cause=0,
    ),
    "1795711897.0": dict(
        number="13800138032",
        name="Citizen After Restart",
        county="north",
        disposition="answered",
        wait=2,
        talk=4,
        agent="PJSIP/1001",
        cause=16,
    ),
    "1795711939.2": dict(
        number="13800138041",
        name="Citizen HH Answered",
        county="north",
        disposition="answered",
        wait=2,
        talk=10,
        agent="PJSIP/1002",
        cause=16,
    ),
    "1795711958.4": dict(
        number="13900139042",
        name="Citizen HH Abandoned",
        county="south",
        disposition="abandoned",
        wait=5,
        talk=0,
        agent=None,
        cause=0,
    ),
    "1795711974.5": dict(
        number="13800138051",
        name="Citizen Filtered",
        county="north",
        disposition="answered",
        wait=2,
        talk=4,
        agent="PJSIP/1001",
        cause=16,
    ),
}


def channel_lookup(session: Session, calls: dict[str, dict[str, str | None]]):
    """What ``GET VARIABLE <name>`` returns on this session's channel, as captured.

    EPOCH is the time of the request: the session's own capture when it shows it (the
    call-end sessions do), else the second the channel was created (call-start runs
    within milliseconds of it: the capture's CALL_START_LOGGED equals that second).
    """
    own = session.variables()
    known = calls.get(session.uniqueid, {})

    def lookup(name: str) -> str | None:
        if name == "EPOCH":
            return own.get("EPOCH") or session.uniqueid.rsplit("-", 1)[-1].split(".")[0]
        if name in own:
            return own[name]
        return known.get(name)

    return lookup
