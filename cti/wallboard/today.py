"""Today's figures of each county from the call rows (pure): what the board starts from
when the AMI side (re)starts, instead of 0 answered and 0 abandoned.

The facts are ``cti.stats`` ones (``call_rollup_daily`` of one UTC day, the board's day):
answered calls (``transferred`` ones too: they were answered in the queue, as the board's
``AgentConnect`` counts them) and abandoned ones, with their wait and handle time; the
service level counts an answer within the county's N, as the board does live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from cti.stats.calls import Fact

ANSWERED = frozenset({"answered", "transferred"})
ABANDONED = frozenset({"abandoned"})


@dataclass(slots=True)
class TodayFigures:
    answered: int = 0
    abandoned: int = 0
    answered_in_sl: int = 0
    wait_total: int = 0
    handle_total: int = 0
    handled: int = 0


def today_figures(
    facts: Iterable[Fact], codes: Mapping[int, str], sl_of: Callable[[str], int]
) -> dict[str, TodayFigures]:
    """Per county code (``codes``: county id -> code; calls of no known county left out)."""
    out: dict[str, TodayFigures] = {}
    for fact in facts:
        code = codes.get(fact.county_id)
        if code is None or fact.calls == 0:
            continue
        figures = out.setdefault(code, TodayFigures())
        if fact.disposition in ANSWERED:
            figures.answered += fact.calls
            figures.wait_total += fact.calls * fact.wait_s
            if fact.wait_s <= sl_of(code):
                figures.answered_in_sl += fact.calls
            figures.handle_total += fact.handle_s
            figures.handled += fact.calls
        elif fact.disposition in ABANDONED:
            figures.abandoned += fact.calls
    return out
