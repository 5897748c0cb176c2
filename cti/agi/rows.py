"""How records become one ``calls`` row per call, whatever their order or repetition. Pure.

The rules (the writer's SQL implements exactly these; ``apply`` is the reference model
the tests hold the SQL to):

* A call-start owns the start fields: its non-null values replace the row's, its nulls
  keep them: ``COALESCE(start, row)``.
* A call-end owns the end fields and replaces them all. The start fields it carries only
  fill gaps: ``COALESCE(row, end)``.
* ``caller_number`` is NOT NULL with "" for "none"; for these rules "" counts as null.

So a start and an end give the same row in either order (call-end may arrive before a
slow call-start), and a repeated record changes nothing: replaying any prefix of the
journal twice is harmless, which makes the table exactly-once under at-least-once delivery.
The writer's statements apply a batch in rounds (``cti.agi.upsert``), which is the same as
applying its records one by one.
"""

from __future__ import annotations

from collections.abc import Mapping

from cti.agi.records import CallRecord

START_FIELDS = (
    "uniqueid",
    "channel",
    "caller_number",
    "caller_number_raw",
    "caller_name",
    "did",
    "county",
    "queue",
    "started_at",
)
END_FIELDS = (
    "ended_at",
    "queued_at",
    "answered_at",
    "wait_s",
    "talk_s",
    "disposition",
    "hangup_cause",
    "agent_interface",
)
IN_PROGRESS = "in_progress"

Row = dict[str, object]


def _start_part(record: CallRecord) -> Row:
    return {name: getattr(record, name) for name in START_FIELDS}


def _end_part(record: CallRecord) -> Row:
    return {name: getattr(record, name) for name in END_FIELDS}


def _nullish(value: object) -> bool:
    return value is None or value == ""


def _coalesce(first: object, second: object) -> object:
    return second if _nullish(first) else first


def empty_row() -> Row:
    """A row before any record: every field None, disposition in progress."""
    row: Row = {name: None for name in START_FIELDS + END_FIELDS}
    row["disposition"] = IN_PROGRESS
    return row


def apply(row: Row | None, record: CallRecord) -> Row:
    """The row after ``record`` (reference model: what the SQL upsert must produce).

    ``row`` is None when the call has no row yet. The result maps every START/END field
    plus ``disposition`` (``in_progress`` until an end arrives).
    """
    current: Row = dict(row) if row is not None else empty_row()
    if record.kind == "call-start":
        for name, value in _start_part(record).items():
            current[name] = _coalesce(value, current[name])
    else:
        for name, value in _start_part(record).items():
            current[name] = _coalesce(current[name], value)
        current.update(_end_part(record))
    return current


def normalised(row: Mapping[str, object]) -> Row:
    """A row as the table holds it ("" for a missing caller number)."""
    out = dict(row)
    if out.get("caller_number") is None:
        out["caller_number"] = ""
    return out
