"""Call figures from call facts. Pure: no I/O.

A *fact* is one inbound call outcome with a weight: a raw ``calls`` row is a fact of
weight 1, a ``call_rollup_daily`` row is a fact of weight ``calls``. The same functions
take either, which is how the benchmark and the tests hold the rollups to the raw rows.

Definitions (what the report's columns promise):

* offered: calls that reached a queue (answered, abandoned, timed out/overflowed,
  transferred). Calls the closed county sent to voicemail or a callback request are
  *after hours*, counted by action; calls that never reached a queue are *failed*.
* answered: answered or transferred (a transfer was answered first); transfers also apart.
* abandoned: the caller hung up in the queue or while an agent rang, after waiting at least
  ``short_abandon_s``; those who hung up sooner are *short abandons*, counted apart and
  left out of the service level.
* service level: answered within N s (N per county) / (offered - short abandons), in %.
* wait: the queue wait of answered calls (average, and the 90th percentile by nearest
  rank: the smallest wait that 90 % of answered calls did not exceed).
* talk: ``talk_s`` of answered calls; handle: answered to hung up (talk plus hold and
  any transfer consultation), of answered calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

OFFERED = frozenset({"answered", "abandoned", "timeout", "transferred"})
ANSWERED = frozenset({"answered", "transferred"})
AFTER_HOURS = ("voicemail", "callback")
DEFAULT_SERVICE_LEVEL_S = 20
DEFAULT_SHORT_ABANDON_S = 5
#: Upper edges (exclusive) of the abandon-time buckets after the short ones.
ABANDON_EDGES = (30, 60, 120)


@dataclass(frozen=True, slots=True)
class Fact:
    """One inbound call outcome, ``calls`` times (0 for none: ``county_id`` 0, ``queue``
    "", ``agent_id`` 0)."""

    day: date
    county_id: int
    queue: str
    disposition: str
    wait_s: int
    calls: int = 1
    talk_s: int = 0
    handle_s: int = 0
    agent_id: int = 0
    hour: int = 0


@dataclass(frozen=True, slots=True)
class Thresholds:
    short_abandon_s: int = DEFAULT_SHORT_ABANDON_S
    #: N of "answered within N s" by county id; ``default_service_level_s`` for the rest.
    service_level_s: Mapping[int, int] = field(default_factory=dict)
    default_service_level_s: int = DEFAULT_SERVICE_LEVEL_S
    abandon_edges: tuple[int, ...] = ABANDON_EDGES

    def service_level_for(self, county_id: int) -> int:
        return self.service_level_s.get(county_id, self.default_service_level_s)

    def bucket_labels(self) -> tuple[str, ...]:
        edges = (self.short_abandon_s, *self.abandon_edges)
        labels = [f"{lo}-{hi}s" for lo, hi in zip(edges, edges[1:], strict=False)]
        return (*labels, f"{edges[-1]}s+")

    def bucket_of(self, wait_s: int) -> str:
        edges = (self.short_abandon_s, *self.abandon_edges)
        labels = self.bucket_labels()
        for i, hi in enumerate(edges[1:]):
            if wait_s < hi:
                return labels[i]
        return labels[-1]


@dataclass(frozen=True, slots=True)
class CallFigures:
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    abandon_buckets: dict[str, int]
    timeout: int
    transferred: int
    answered_within: int
    service_level: float | None
    avg_wait_s: float | None
    p90_wait_s: int | None
    avg_talk_s: float | None
    avg_handle_s: float | None
    after_hours: dict[str, int]
    failed: int

    def row(self) -> dict[str, object]:
        """The figures flattened for a table or a CSV row (buckets as ``abandoned <label>``)."""
        out: dict[str, object] = {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "short abandoned": self.short_abandoned,
        }
        out.update({f"abandoned {k}": v for k, v in self.abandon_buckets.items()})
        out.update(
            {
                "overflowed/timeout": self.timeout,
                "transferred": self.transferred,
                "answered within SL": self.answered_within,
                "service level %": _round(self.service_level),
                "avg wait s": _round(self.avg_wait_s),
                "p90 wait s": self.p90_wait_s,
                "avg talk s": _round(self.avg_talk_s),
                "avg handle s": _round(self.avg_handle_s),
            }
        )
        out.update({f"after hours {k}": v for k, v in self.after_hours.items()})
        out["failed"] = self.failed
        return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def p90(waits: Mapping[int, int]) -> int | None:
    """Nearest-rank 90th percentile of a {wait second: how many} histogram."""
    total = sum(waits.values())
    if total <= 0:
        return None
    rank = math.ceil(0.9 * total)
    seen = 0
    for wait in sorted(waits):
        seen += waits[wait]
        if seen >= rank:
            return wait
    return max(waits)  # pragma: no cover (seen reaches total)


def figures(facts: Iterable[Fact], thresholds: Thresholds = Thresholds()) -> CallFigures:
    """The call figures of ``facts`` (see the module's definitions)."""
    by: dict[str, int] = dict.fromkeys(
        ("offered", "answered", "abandoned", "short", "timeout", "transferred", "within", "failed"),
        0,
    )
    buckets = dict.fromkeys(thresholds.bucket_labels(), 0)
    after = dict.fromkeys(AFTER_HOURS, 0)
    waits: dict[int, int] = {}
    wait_sum = talk_sum = handle_sum = 0
    for f in facts:
        n, d = f.calls, f.disposition
        if d in OFFERED:
            by["offered"] += n
        if d in ANSWERED:
            by["answered"] += n
            waits[f.wait_s] = waits.get(f.wait_s, 0) + n
            wait_sum += f.wait_s * n
            talk_sum += f.talk_s
            handle_sum += f.handle_s
            if f.wait_s <= thresholds.service_level_for(f.county_id):
                by["within"] += n
            if d == "transferred":
                by["transferred"] += n
        elif d == "abandoned":
            if f.wait_s < thresholds.short_abandon_s:
                by["short"] += n
            else:
                by["abandoned"] += n
                buckets[thresholds.bucket_of(f.wait_s)] += n
        elif d == "timeout":
            by["timeout"] += n
        elif d in after:
            after[d] += n
        elif d == "failed":
            by["failed"] += n
    answered = by["answered"]
    base = by["offered"] - by["short"]
    return CallFigures(
        offered=by["offered"],
        answered=answered,
        abandoned=by["abandoned"],
        short_abandoned=by["short"],
        abandon_buckets=buckets,
        timeout=by["timeout"],
        transferred=by["transferred"],
        answered_within=by["within"],
        service_level=100.0 * by["within"] / base if base else None,
        avg_wait_s=wait_sum / answered if answered else None,
        p90_wait_s=p90(waits),
        avg_talk_s=talk_sum / answered if answered else None,
        avg_handle_s=handle_sum / answered if answered else None,
        after_hours=after,
        failed=by["failed"],
    )


#: How a report groups its facts.
GROUPINGS: dict[str, Callable[[Fact], Hashable]] = {
    "county": lambda f: f.county_id,
    "queue": lambda f: f.queue,
    "agent": lambda f: f.agent_id,
    "hour": lambda f: f.hour,
    "day": lambda f: f.day,
    "week": lambda f: f.day.isocalendar()[:2],
    "month": lambda f: (f.day.year, f.day.month),
}


def grouped(
    facts: Iterable[Fact], by: str, thresholds: Thresholds = Thresholds()
) -> dict[Hashable, CallFigures]:
    """``figures`` per group (``GROUPINGS``), groups in sorted order.

    Raises ``KeyError`` for an unknown grouping.
    """
    key = GROUPINGS[by]
    groups: dict[Hashable, list[Fact]] = {}
    for f in facts:
        groups.setdefault(key(f), []).append(f)
    return {k: figures(groups[k], thresholds) for k in sorted(groups, key=_sort_key)}


def _sort_key(value: Hashable) -> tuple[str, object]:
    return (type(value).__name__, value)


def week_label(key: Sequence[int]) -> str:
    return f"{key[0]}-W{key[1]:02d}"
