"""The record a handler writes into the journal, and how hostile text becomes storable.

A record is what one AGI request says about one call (``call-start`` or ``call-end``),
already validated and sanitised, so the writer only has to upsert it. Pure.

Text policy (caller name and number are the caller's, hence hostile; they are data):

* stored verbatim: quotes, ``;``, SQL, HTML, newlines, backslashes, any Unicode;
* invalid UTF-8 bytes become U+FFFD when the bytes are decoded (``protocol.decode``);
* NUL becomes U+FFFD too: a Postgres ``text``/``varchar`` cannot hold ``\\x00``;
* longer than the column: cut to the column's length (the cut is logged by the handler).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from math import isfinite
from typing import Literal

Kind = Literal["call-start", "call-end"]
KINDS: tuple[Kind, ...] = ("call-start", "call-end")
Direction = Literal["inbound", "outbound"]
OUTBOUND: Direction = "outbound"
REPLACEMENT = "\ufffd"

#: Column lengths of ``calls`` (cti/store/calls.py) for the text fields a record carries.
LIMITS = {
    "node": 64,
    "linkedid": 64,
    "uniqueid": 64,
    "channel": 128,
    "caller_number": 24,
    "caller_number_raw": 255,
    "caller_name": 255,
    "did": 32,
    "county": 32,
    "queue": 64,
    "agent_interface": 80,
}
#: Uniqueid/Linkedid: ``<epoch>.<seq>``, or ``<systemname>-<epoch>.<seq>``.
CALL_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
NODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class RecordRejected(ValueError):
    """The request cannot become a record (a key is missing or malformed)."""


def clean_text(value: str | None, limit: int) -> tuple[str | None, bool]:
    """``value`` made storable: NUL -> U+FFFD, cut to ``limit`` characters.

    Returns ``(text, was_cut)``; None stays None. Everything else is kept as it is.
    """
    if value is None:
        return None, False
    text = value.replace("\0", REPLACEMENT)
    if len(text) > limit:
        return text[:limit], True
    return text, False


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One journal record. Times are Unix epochs (float seconds, UTC).

    ``call-start`` records fill the start fields only; ``call-end`` records fill the end
    fields and may carry start fields as a fallback (used only where a start is missing).
    """

    kind: Kind
    node: str
    linkedid: str
    uniqueid: str
    received_at: float
    # start fields
    channel: str | None = None
    caller_number: str | None = None
    caller_number_raw: str | None = None
    caller_name: str | None = None
    did: str | None = None
    county: str | None = None
    queue: str | None = None
    started_at: float | None = None
    # end fields
    ended_at: float | None = None
    queued_at: float | None = None
    answered_at: float | None = None
    wait_s: int | None = None
    talk_s: int | None = None
    disposition: str | None = None
    hangup_cause: int | None = None
    agent_interface: str | None = None
    #: None: a citizen's call to the hotline; "outbound": a call the hotline placed (a
    #: revisit). Never updated on an existing row: a call keeps the direction it began with.
    direction: Direction | None = None

    def __post_init__(self) -> None:
        # Runs for every record twice (built by a handler, read back by the writer): kept
        # to plain comparisons, one pass per field group.
        if self.kind not in KINDS:
            raise RecordRejected(f"unknown record kind {self.kind!r}")
        if self.direction is not None and self.direction != OUTBOUND:
            if self.direction != "inbound":
                raise RecordRejected(f"unknown call direction {str(self.direction)[:40]!r}")
            object.__setattr__(self, "direction", None)  # inbound is the default: none
        if not _NODE_MATCH(self.node):
            raise RecordRejected(f"bad node name {self.node[:80]!r}")
        # (The two patterns also bound the keys' length and exclude NUL.)
        for name in _KEY_FIELDS:
            if not _CALL_ID_MATCH(getattr(self, name)):
                raise RecordRejected(f"bad {name} {getattr(self, name)[:80]!r}")
        for name, limit in _TEXT_LIMITS:
            value = getattr(self, name)
            if value is None:
                continue
            if value == "":
                object.__setattr__(self, name, None)  # "" and None mean the same: none
            elif len(value) > limit or "\0" in value:
                raise RecordRejected(f"{name} is not storable (clean it first)")
        for name in _TIME_FIELDS:
            value = getattr(self, name)
            if value is not None and not isfinite(value):
                raise RecordRejected(f"{name} is not a finite time")

    @property
    def key(self) -> tuple[str, str]:
        return (self.node, self.linkedid)

    @property
    def call_direction(self) -> Direction:
        """The ``calls.direction`` column's value."""
        return self.direction or "inbound"

    def to_json(self) -> bytes:
        """One line of JSON (no newline inside: JSON escapes control characters)."""
        # Not asdict(): it deep-copies every value.
        data = {name: value for name in _FIELD_NAMES if (value := getattr(self, name)) is not None}
        return _encode(data).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> CallRecord:
        """Inverse of ``to_json``; raises ``RecordRejected`` for anything else."""
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RecordRejected(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise RecordRejected("not a JSON object")
        try:
            if not _FIELD_SET.issuperset(data):
                data = {k: v for k, v in data.items() if k in _FIELD_SET}
            return cls(**data)
        except TypeError as exc:
            raise RecordRejected(str(exc)) from None


_FIELD_NAMES = tuple(f.name for f in fields(CallRecord))
_FIELD_SET = frozenset(_FIELD_NAMES)
_KEY_FIELDS = ("linkedid", "uniqueid")
_TEXT_LIMITS = tuple((n, limit) for n, limit in LIMITS.items() if n not in ("node", *_KEY_FIELDS))
_TIME_FIELDS = ("received_at", "started_at", "ended_at", "queued_at", "answered_at")
_NODE_MATCH = NODE.fullmatch
_CALL_ID_MATCH = CALL_ID.fullmatch
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
