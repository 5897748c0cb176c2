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
Within one batch, records of the same call are folded with ``merge_*`` so that one SQL
statement touches each row once, with the same result as applying them one by one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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


@dataclass(slots=True)
class Folded:
    """All of one batch's records for one call, folded: at most one start part (None if
    the batch has no call-start for it) and one end part (likewise)."""

    node: str
    linkedid: str
    #: ``calls.direction``, set when the row is created (the first record says it).
    direction: str = "inbound"
    start: Row | None = None
    end: Row | None = None  # end fields, plus start fields as fallback values


def merge_start(earlier: Row, later: Row) -> Row:
    """Two call-start parts of one call as one: the later one's non-null values win."""
    return {name: _coalesce(later[name], earlier[name]) for name in START_FIELDS}


def merge_end(earlier: Row, later: Row) -> Row:
    """Two call-end parts as one: the later end fields; the earlier fallbacks first."""
    merged = {name: _coalesce(earlier[name], later[name]) for name in START_FIELDS}
    merged.update({name: later[name] for name in END_FIELDS})
    return merged


def fold(records: Iterable[CallRecord]) -> list[Folded]:
    """Fold a batch into one entry per call, in order of first appearance.

    Applying, for each entry, its start part (start rule) and then its end part (end
    rule) gives the same rows as applying the records one by one: starts commute with
    ends, and ``merge_*`` are the sequential compositions.
    """
    out: dict[tuple[str, str], Folded] = {}
    for record in records:
        entry = out.get(record.key)
        if entry is None:
            entry = out[record.key] = Folded(record.node, record.linkedid, record.call_direction)
        if record.kind == "call-start":
            part = _start_part(record)
            entry.start = part if entry.start is None else merge_start(entry.start, part)
        else:
            part = {**_start_part(record), **_end_part(record)}
            entry.end = part if entry.end is None else merge_end(entry.end, part)
    return list(out.values())


def apply_folded(row: Row | None, entry: Folded) -> Row:
    """Reference model of the writer's two statements for one folded entry."""
    current: Row = dict(row) if row is not None else empty_row()
    if entry.start is not None:
        for name in START_FIELDS:
            current[name] = _coalesce(entry.start[name], current[name])
    if entry.end is not None:
        for name in START_FIELDS:
            current[name] = _coalesce(current[name], entry.end[name])
        for name in END_FIELDS:
            current[name] = entry.end[name]
    return current


def normalised(row: Mapping[str, object]) -> Row:
    """A row as the table holds it ("" for a missing caller number)."""
    out = dict(row)
    if out.get("caller_number") is None:
        out["caller_number"] = ""
    return out
