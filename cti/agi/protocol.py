"""The AGI wire protocol, as Asterisk 22 speaks it (see shared/asterisk-traces). Pure: bytes
in, values out; the socket lives in ``cti.agi.session``.

A FastAGI session is: Asterisk sends ``agi_<name>: <value>`` lines and one empty line (the
environment), then the server sends commands (one line each) and reads one response per
command. Traps the captures show:

* The environment arrives in several TCP reads (478 + 136 bytes in one capture): read
  lines, never packets.
* Asterisk prints each variable with ``agi_%s: %s\\n`` and no escaping, so a caller name
  with a newline in it continues on the next line.
* A syntax error answers with a multi-line block ``520-Invalid command syntax...`` that
  ends with ``520 End of proper usage.``; inside it is the text ``Example return code:
  200 result=1 (testvariable)``. A parser matching ``^200`` on every line is fooled.
* After the caller hangs up during a command, Asterisk sends an unsolicited ``HANGUP``
  line before the response to the next command, and keeps the socket open.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote_plus


class AgiProtocolError(Exception):
    """The peer broke the protocol (the session cannot go on)."""


class MalformedRequest(AgiProtocolError):
    """The environment or the request URL cannot be understood."""


# --- environment -------------------------------------------------------------------------

_KEY = re.compile(r"[A-Za-z0-9_]{1,64}")
#: One ``agi_<key>: <value>`` line (the fast path of ``parse_environment``): the same
#: key rule as ``_KEY``, then ":", one optional space, the rest of the line.
_LINE = re.compile(r"^agi_([A-Za-z0-9_]{1,64}): ?(.*)$", re.MULTILINE)
MAX_QUERY_FIELDS = 64


@dataclass(frozen=True, slots=True)
class AgiEnvironment:
    """The ``agi_*`` variables of one request, keyed without the ``agi_`` prefix.

    ``duplicates`` names keys that appeared more than once (the first value is kept);
    ``continuations`` counts lines that were not ``agi_x: y`` and were joined (with a
    newline) to the value before them.
    """

    values: Mapping[str, str]
    duplicates: tuple[str, ...] = ()
    continuations: int = 0

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    @property
    def args(self) -> list[str]:
        """``agi_arg_1..N`` in order (stops at the first gap)."""
        out: list[str] = []
        while (value := self.values.get(f"arg_{len(out) + 1}")) is not None:
            out.append(value)
        return out


def decode(raw: bytes) -> str:
    """Bytes from Asterisk as text: UTF-8, with each invalid byte replaced by U+FFFD."""
    return raw.decode("utf-8", errors="replace")


def parse_environment(lines: Iterable[bytes] | bytes) -> AgiEnvironment:
    """Parse the environment: its lines (without ``\\n``, without the final empty line),
    or the same bytes joined by ``\\n``.

    Promises: every value is kept verbatim (decoded with ``decode``; a single space after
    the colon is the separator, anything after it is the value, trailing spaces included);
    a line that is not ``agi_<name>:`` continues the previous value, joined with ``\\n``
    (Asterisk does not escape newlines inside a caller name); the first occurrence of a
    key wins, because Asterisk prints agi_network_script, agi_channel and agi_uniqueid
    before the caller-controlled agi_callerid/agi_calleridname, so a duplicate can only be
    a line smuggled in through a caller ID. Raises ``MalformedRequest`` when there is no
    variable at all or the first line is not one.
    """
    raw = lines if isinstance(lines, bytes) else b"\n".join(lines)
    text = decode(raw)
    # Fast path, the usual request: every line is a variable and no key repeats. One
    # regex pass over the whole text; anything else takes the general loop below.
    pairs = _LINE.findall(text)
    if pairs and len(pairs) == text.count("\n") + 1:
        values = dict(pairs)
        if len(values) == len(pairs):
            return AgiEnvironment(values)
    return parse_environment_lines(text)


def parse_environment_lines(text: str) -> AgiEnvironment:
    """``parse_environment``'s general case, line by line, on the decoded text (also the
    reference the fast path is tested against)."""
    values: dict[str, str] = {}
    duplicates: list[str] = []
    continuations = 0
    current: str | None = None  # key the last line belonged to (None: a dropped duplicate)
    for line in text.split("\n"):
        key, colon, value = line.partition(":")
        if colon and key.startswith("agi_") and _KEY.fullmatch(key, 4):
            key = key[4:]
            if value.startswith(" "):
                value = value[1:]
            if key in values:
                duplicates.append(key)
                current = None  # lines that follow a duplicate belong to it: dropped
                continue
            values[key] = value
            current = key
            continue
        if not values and not duplicates:
            raise MalformedRequest(f"environment does not start with agi_: {line[:80]!r}")
        continuations += 1
        if current is not None:
            values[current] = values[current] + "\n" + line
    if not values:
        raise MalformedRequest("empty environment")
    return AgiEnvironment(values, tuple(duplicates), continuations)


#: The order Asterisk 22 prints the FastAGI environment in (agi_arg_N follow).
ENVIRONMENT_ORDER = (
    "network",
    "network_script",
    "request",
    "channel",
    "language",
    "type",
    "uniqueid",
    "version",
    "callerid",
    "calleridname",
    "callingpres",
    "callingani2",
    "callington",
    "callingtns",
    "dnid",
    "rdnis",
    "context",
    "extension",
    "priority",
    "enhanced",
    "accountcode",
    "threadid",
)


def format_environment(values: Mapping[str, str], args: Iterable[str] = ()) -> bytes:
    """The environment as Asterisk sends it (``agi_<key>: <value>`` lines in Asterisk's
    order, then ``agi_arg_N``, then an empty line). For tests and benchmarks: values are
    written unescaped, exactly as Asterisk does."""
    keys = [k for k in ENVIRONMENT_ORDER if k in values]
    keys += [k for k in values if k not in ENVIRONMENT_ORDER]
    lines = [f"agi_{key}: {values[key]}" for key in keys]
    lines += [f"agi_arg_{n}: {arg}" for n, arg in enumerate(args, start=1)]
    return ("\n".join(lines) + "\n\n").encode()


# --- the request: script name and parameters ---------------------------------------------

_SCRIPT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class RequestTarget:
    """What the dialplan asked for: ``agi://host/<script>?<query>``."""

    script: str
    params: Mapping[str, str] = field(default_factory=dict)


def parse_query(query: str) -> dict[str, str]:
    """``a=1&b=%2F`` -> ``{"a": "1", "b": "/"}``; first value of a repeated key wins.

    Promises: blank values are kept (``a=`` -> ``""``: the dialplan says "unset");
    ``%XX`` and ``+`` are decoded as in a URL query (URIENCODE's output), invalid UTF-8
    becomes U+FFFD; more than ``MAX_QUERY_FIELDS`` fields raise ``MalformedRequest``.
    """
    params: dict[str, str] = {}
    parts = [p for p in query.split("&") if p]
    if len(parts) > MAX_QUERY_FIELDS:
        raise MalformedRequest(f"more than {MAX_QUERY_FIELDS} query fields")
    for part in parts:
        key, _, value = part.partition("=")
        if "%" in key or "+" in key:
            key = unquote_plus(key, errors="replace")
        if "%" in value or "+" in value:
            value = unquote_plus(value, errors="replace")
        params.setdefault(key, value)
    return params


def parse_target(network_script: str | None) -> RequestTarget:
    """Split ``agi_network_script`` (``call-start?county=north&did=9615601``).

    Raises ``MalformedRequest`` when it is missing or the script name is not a plain name.
    """
    if not network_script:
        raise MalformedRequest("no agi_network_script (not a FastAGI request?)")
    path, _, query = network_script.partition("?")
    name = path.strip("/")
    if not _SCRIPT_NAME.fullmatch(name):
        raise MalformedRequest(f"bad script name {name[:80]!r}")
    return RequestTarget(name, parse_query(query))


#: The channel variable the acknowledgement sets: ``OK`` once the record is durable,
#: ``REJECTED`` / ``UNKNOWN`` for requests the dialplan must not retry.
STATUS_VARIABLE = "CTI_AGI_STATUS"

# --- commands ----------------------------------------------------------------------------

_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,79}(\([A-Za-z0-9_,]{0,80}\))?")


def quote(value: str) -> str:
    """Quote one command argument the way res_agi's parse_args reads it back.

    Promises: the result is one token for Asterisk (double quotes; ``"`` and ``\\``
    escaped with a backslash). Raises ``ValueError`` for CR, LF or NUL, which no AGI
    command can carry (a command is one line, and C strings end at NUL).
    """
    if any(ch in value for ch in "\r\n\0"):
        raise ValueError("an AGI argument cannot contain CR, LF or NUL")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_variable_name(name: str) -> str:
    """A channel variable or function name we send unquoted (``CHANNEL(linkedid)``)."""
    if not _VARIABLE_NAME.fullmatch(name):
        raise ValueError(f"not a channel variable name: {name!r}")
    return name


def get_variable(name: str) -> bytes:
    """``GET VARIABLE <name>``: answered ``200 result=1 (<value>)`` or ``200 result=0``."""
    return f"GET VARIABLE {check_variable_name(name)}\n".encode()


def set_variable(name: str, value: str) -> bytes:
    """``SET VARIABLE <name> "<value>"`` (works on dead channels too: capture2)."""
    return f"SET VARIABLE {check_variable_name(name)} {quote(value)}\n".encode()


def verbose(message: str, level: int = 1) -> bytes:
    """``VERBOSE "<message>" <level>`` (newlines in ``message`` become spaces)."""
    text = message.replace("\r", " ").replace("\n", " ").replace("\0", " ")
    return f"VERBOSE {quote(text)} {int(level)}\n".encode()


# --- responses ---------------------------------------------------------------------------

_FINAL = re.compile(r"(\d{3}) (.*)", re.DOTALL)
_BLOCK_START = re.compile(r"(\d{3})-(.*)", re.DOTALL)
_RESULT = re.compile(r"result=(-?\d+)(?: \((.*)\))?(?: endpos=(-?\d+))?\s*", re.DOTALL)
#: Lines that are neither a response nor HANGUP tolerated before giving up on the peer.
MAX_STRAY_LINES = 64


@dataclass(frozen=True, slots=True)
class AgiResponse:
    """One response. ``result``/``data``/``endpos`` are parsed for code 200 only."""

    code: int
    text: str
    result: int | None = None
    data: str | None = None
    endpos: int | None = None

    @property
    def ok(self) -> bool:
        return self.code == 200


def parse_result_line(code: int, text: str) -> AgiResponse:
    """Build the response for ``<code> <text>`` (``200 result=1 (north)``)."""
    if code != 200:
        return AgiResponse(code, text)
    match = _RESULT.fullmatch(text)
    if match is None:
        return AgiResponse(code, text)
    endpos = int(match.group(3)) if match.group(3) is not None else None
    return AgiResponse(code, text, int(match.group(1)), match.group(2), endpos)


class ResponseParser:
    """Turns response lines into ``AgiResponse`` objects, one command at a time.

    Feed each line (without ``\\n``); ``feed`` returns the response once it is complete,
    else None. ``HANGUP`` lines set ``hangup_seen`` and are otherwise skipped; inside a
    ``NNN-`` block every line up to ``NNN <text>`` belongs to the block, whatever it looks
    like. Up to ``MAX_STRAY_LINES`` lines that are none of these are counted in ``stray``
    and skipped; one more raises ``AgiProtocolError``.
    """

    def __init__(self) -> None:
        self.hangup_seen = False
        self.stray = 0
        self._block_code: str | None = None
        self._block: list[str] = []

    def feed(self, raw: bytes) -> AgiResponse | None:
        line = decode(raw).rstrip("\r")
        if self._block_code is not None:
            if line.startswith(self._block_code + " "):
                text = "\n".join([*self._block, line[4:]])
                code = int(self._block_code)
                self._block_code, self._block = None, []
                return AgiResponse(code, text)
            self._block.append(line)
            return None
        if line == "HANGUP":
            self.hangup_seen = True
            return None
        if match := _FINAL.fullmatch(line):
            return parse_result_line(int(match.group(1)), match.group(2))
        if match := _BLOCK_START.fullmatch(line):
            self._block_code, self._block = match.group(1), [match.group(2)]
            return None
        if re.fullmatch(r"\d{3}", line):
            return AgiResponse(int(line), "")
        self.stray += 1
        if self.stray > MAX_STRAY_LINES:
            raise AgiProtocolError("too many lines that are not AGI responses")
        return None
