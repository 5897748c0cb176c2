"""The SQL that applies a batch of journal records to ``calls``, in Postgres.

The writer hands Postgres the batch as it is in the journal, its payloads joined into a
JSON array per kind (one text parameter), and Postgres does the rest: it reads the
records (``json_to_recordset``), looks up each county's id and default queue and each
agent's user id (joins), and upserts. The writer does not decode, check, fold or
re-encode a record in Python: that was most of its CPU per record, on the same two cores
that answer Asterisk (docs/performance.md, "The drain, halved").

The rules are ``cti.agi.rows``'s (its ``apply`` is the reference model the tests hold
these statements to). ON CONFLICT DO UPDATE may touch a row only once per statement, so a
batch is applied in rounds: round *n* applies the *n*-th call-start of each call (then,
in the end statement, the *n*-th call-end). Starts commute with ends, and the rounds
keep each call's records of one kind in journal order, so this is the same as applying
the records one by one. Nearly every batch has one round of each: a second start or end
of a call in one batch is a retry by the dialplan.

What is checked where: a record was checked by ``CallRecord`` when a handler made it,
and its line carries a CRC, so a line that begins as ``to_json`` writes a record is
trusted to be one. Any other line is read as a ``CallRecord`` (checked again) before it
joins a batch, and is refused if it is none (``RecordRejected``). A statement counts the
records that are not of its kind (``BadRecords``). Values Postgres cannot store (too
long, NUL, not a number, not JSON, an unknown direction or disposition) fail the
statement with SQLSTATE class 22 or 23. The writer isolates the record behind any of
these by splitting the batch, and keeps it in ``rejected.jnl``.

Every value is a parameter; the column names are this module's constants.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cti.agi.records import CallRecord
from cti.agi.rows import END_FIELDS, START_FIELDS

#: The record's JSON keys the statements read, with their SQL types (``to_json``'s
#: names; epochs are float seconds). ``received_at`` is not stored.
RECORD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("kind", "text"),
    ("node", "text"),
    ("linkedid", "text"),
    ("uniqueid", "text"),
    ("channel", "text"),
    ("caller_number", "text"),
    ("caller_number_raw", "text"),
    ("caller_name", "text"),
    ("did", "text"),
    ("county", "text"),
    ("queue", "text"),
    ("started_at", "float8"),
    ("ended_at", "float8"),
    ("queued_at", "float8"),
    ("answered_at", "float8"),
    ("wait_s", "int4"),
    ("talk_s", "int4"),
    ("disposition", "text"),
    ("hangup_cause", "int4"),
    ("agent_interface", "text"),
    ("direction", "text"),
)
_EPOCHS = {name for name, kind in RECORD_COLUMNS if kind == "float8"}
_DEFINITION = ", ".join(f"{name} {kind}" for name, kind in RECORD_COLUMNS)
_NAMES = ", ".join(name for name, _ in RECORD_COLUMNS)

#: One statement's records with their place in the batch (``ord``) and the round they
#: belong to (``nth``: the how-many-th record of this kind for this call in the batch).
_RECORDS = f"""records AS (
    SELECT r.*, row_number() OVER (PARTITION BY r.node, r.linkedid ORDER BY r.ord) AS nth
    FROM ROWS FROM (json_to_recordset($1::json) AS ({_DEFINITION}))
         WITH ORDINALITY AS r({_NAMES}, ord)
)"""  # noqa: S608 (constants only)


def _value(name: str) -> str:
    """The SQL expression of one start/end field's value, from ``records r`` and the
    joined ``counties co`` / ``users u``."""
    if name in _EPOCHS:
        return f"to_timestamp(r.{name})"
    if name == "caller_number":
        return "COALESCE(r.caller_number, '')"
    if name == "queue":
        return "COALESCE(r.queue, co.queue_name)"  # the county's queue by default
    return f"r.{name}"


#: calls' columns for the start fields (``county`` is stored as ``county_id``).
_START_COLUMNS = [c for c in START_FIELDS if c != "county"]
_START_VALUES = [_value(c) for c in _START_COLUMNS]
_END_COLUMNS = list(END_FIELDS)
_END_VALUES = [_value(c) for c in _END_COLUMNS]


def _upsert(kind: str, insert: list[str], values: list[str], updates: list[str], joins: str) -> str:
    """One round of one kind's records: insert or update their calls, and say how many
    rounds the batch needs, how many ends ask for a callback, and how many records are
    not of this kind (``BadRecords``)."""
    # Identifiers and ``kind`` are this module's constants; the records and the round
    # are $1 and $2.
    return f"""WITH {_RECORDS},
applied AS (
    INSERT INTO calls ({", ".join(insert)})
    SELECT {", ".join(values)}
    FROM records r {joins}
    WHERE r.nth = $2
    ORDER BY r.ord
    ON CONFLICT (node, linkedid) DO UPDATE SET {", ".join(updates)}
)
SELECT COALESCE(max(nth), 0),
       count(*) FILTER (WHERE disposition = 'callback'),
       count(*) FILTER (WHERE kind IS DISTINCT FROM '{kind}')
FROM records"""  # noqa: S608


def _keep_first(first: str, second: str) -> list[str]:
    """``SET`` clauses for the start columns: ``first``'s value (``EXCLUDED`` or
    ``calls``) unless it is null; for ``caller_number``, unless it is empty too."""
    columns = [c for c in _START_COLUMNS if c != "caller_number"] + ["county_id"]
    return [
        *(f"{c} = COALESCE({first}.{c}, {second}.{c})" for c in columns),
        f"caller_number = COALESCE(NULLIF({first}.caller_number, ''), {second}.caller_number)",
    ]


#: A new row's direction (an existing row keeps its own: a call keeps the direction it
#: began with).
_DIRECTION = "COALESCE(r.direction, 'inbound')"
_COUNTY = "LEFT JOIN counties co ON co.code = r.county"
_AGENT = "LEFT JOIN users u ON u.interface = r.agent_interface"

#: call-start records: their non-null start fields win.
START_UPSERT = _upsert(
    "call-start",
    ["node", "linkedid", "direction", "disposition", *_START_COLUMNS, "county_id"],
    ["r.node", "r.linkedid", _DIRECTION, "'in_progress'", *_START_VALUES, "co.id"],
    [*_keep_first("EXCLUDED", "calls"), "updated_at = now()"],
    _COUNTY,
)
#: call-end records: their end fields replace, their start fields only fill gaps.
END_UPSERT = _upsert(
    "call-end",
    [
        "node",
        "linkedid",
        "direction",
        *_START_COLUMNS,
        "county_id",
        *_END_COLUMNS,
        "agent_id",
    ],
    ["r.node", "r.linkedid", _DIRECTION, *_START_VALUES, "co.id", *_END_VALUES, "u.id"],
    [
        *_keep_first("calls", "EXCLUDED"),
        *(f"{c} = EXCLUDED.{c}" for c in _END_COLUMNS),
        "agent_id = EXCLUDED.agent_id",
        "updated_at = now()",
    ],
    f"{_COUNTY} {_AGENT}",
)

#: After the ends, in the same transaction: a call whose end says "callback" (the county
#: was closed) gets its callback request. ``call_id`` is unique and a request is never
#: touched again here, so a replayed batch changes nothing, and an agent's work on the
#: request survives a late duplicate of the call's end. A withheld number cannot be
#: called back: such a request starts as "unreachable" (kept, so the call is accounted
#: for). The row's own disposition decides (a later end in the batch may say otherwise).
CALLBACK_INSERT = """INSERT INTO callback_requests
    (call_id, county_id, number, requested_at, status, attempts)
SELECT c.id, c.county_id, c.caller_number, COALESCE(c.started_at, c.ended_at, now()),
       CASE WHEN c.caller_number = '' THEN 'unreachable' ELSE 'open' END, 0
FROM calls AS c
JOIN (SELECT DISTINCT node, linkedid
      FROM json_to_recordset($1::json) AS e(node text, linkedid text, disposition text)
      WHERE disposition = 'callback') AS k
  ON c.node = k.node AND c.linkedid = k.linkedid
WHERE c.disposition = 'callback'
ON CONFLICT (call_id) DO NOTHING"""


class BadRecords(ValueError):
    """A statement's records are not all of its kind; the caller rolls back."""


#: How a payload ``CallRecord.to_json`` wrote begins (its first key is ``kind``).
_START_PREFIX = b'{"kind":"call-start"'
_END_PREFIX = b'{"kind":"call-end"'


@dataclass(slots=True)
class Batch:
    """A batch's payloads by kind, each list in journal order."""

    starts: list[bytes] = field(default_factory=list)
    ends: list[bytes] = field(default_factory=list)

    @classmethod
    def of(cls, payloads: Iterable[bytes]) -> Batch:
        """Sort payloads by kind from how they begin; one that begins otherwise (written
        by another version, say) is read as a ``CallRecord`` and written anew.

        Raises ``RecordRejected`` for a payload that is not a call record at all.
        """
        batch = cls()
        starts, ends = batch.starts, batch.ends
        for payload in payloads:
            if payload.startswith(_START_PREFIX):
                starts.append(payload)
            elif payload.startswith(_END_PREFIX):
                ends.append(payload)
            else:
                record = CallRecord.from_json(payload)
                (starts if record.kind == "call-start" else ends).append(record.to_json())
        return batch


#: ``fetchrow(sql, *args)``: run one statement in the caller's transaction, return its
#: first row as a sequence.
FetchRow = Callable[..., Awaitable[Sequence[Any]]]


def json_array(payloads: Sequence[bytes]) -> str:
    """Payloads (one JSON object each) as one JSON array.

    Raises ``UnicodeDecodeError`` for a payload that is not UTF-8.
    """
    return (b"[" + b",".join(payloads) + b"]").decode()


async def _apply(fetchrow: FetchRow, sql: str, records: str) -> int:
    """Every round of one kind's statement; returns how many records ask for a callback."""
    rounds, callbacks, foreign = await fetchrow(sql, records, 1)
    if foreign:
        raise BadRecords(f"{foreign} record(s) of another kind in the batch")
    for n in range(2, rounds + 1):
        await fetchrow(sql, records, n)
    return callbacks


async def apply_batch(fetchrow: FetchRow, batch: Batch) -> None:
    """Apply ``batch`` in the caller's transaction: its starts, then its ends, then the
    callback requests of the calls it ended as such.

    Raises ``BadRecords`` (the caller must roll back), ``UnicodeDecodeError``, or what
    Postgres raises.
    """
    if batch.starts:
        await _apply(fetchrow, START_UPSERT, json_array(batch.starts))
    if batch.ends:
        ends = json_array(batch.ends)
        if await _apply(fetchrow, END_UPSERT, ends):
            await fetchrow(CALLBACK_INSERT, ends)
