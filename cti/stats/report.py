"""A call report: figures per group of one period and county scope, labelled. Pure."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from cti.stats.calls import CallFigures, Fact, Thresholds, figures, grouped, week_label


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    by: str
    #: (group label, figures), in the group's order.
    rows: list[tuple[str, CallFigures]]
    total: CallFigures

    def table(self) -> tuple[list[str], list[list[object]]]:
        """Header and body rows: the group label, then ``CallFigures.row``'s columns."""
        header = [self.by, *self.total.row().keys()]
        body = [[label, *f.row().values()] for label, f in self.rows]
        body.append(["total", *self.total.row().values()])
        return header, body


def label(by: str, key: Hashable, names: Mapping[str, Mapping[int, str]]) -> str:
    """How a group key is shown: a county's or agent's name, a day, ``2026-W45``..."""
    if by in ("county", "agent"):
        if key == 0:
            return "(none)"
        return names.get(by, {}).get(key, f"#{key}")  # type: ignore[arg-type]
    if by == "queue":
        return str(key) or "(none)"
    if by == "hour":
        return f"{key:02d}:00"
    if by == "day":
        return key.isoformat() if isinstance(key, date) else str(key)
    if by == "week":
        return week_label(key)  # type: ignore[arg-type]
    if by == "month":
        year, month = key  # type: ignore[misc]
        return f"{year}-{month:02d}"
    return str(key)


def build(
    title: str,
    facts: Iterable[Fact],
    by: str,
    thresholds: Thresholds,
    names: Mapping[str, Mapping[int, str]],
) -> Report:
    """The report of ``facts`` grouped ``by``; raises ``KeyError`` for an unknown grouping."""
    facts = list(facts)
    groups = grouped(facts, by, thresholds)
    return Report(
        title=title,
        by=by,
        rows=[(label(by, k, names), f) for k, f in groups.items()],
        total=figures(facts, thresholds),
    )
