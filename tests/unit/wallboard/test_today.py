"""Today's figures of each county from call facts (pure), as the board starts from them."""

from __future__ import annotations

from datetime import date

from cti.stats.calls import Fact
from cti.wallboard.today import TodayFigures, today_figures


def test_today_figures_from_facts() -> None:
    """Pure: facts of several counties and kinds, one of a county not known (left out)."""
    day = date(2026, 12, 7)
    facts = [
        Fact(day, 1, "county-a", "answered", 20, calls=3, talk_s=90, handle_s=120),
        Fact(day, 1, "county-a", "answered", 21, calls=1, talk_s=30, handle_s=40),
        Fact(day, 1, "county-a", "abandoned", 7, calls=2),
        Fact(day, 2, "county-b", "timeout", 60, calls=1),
        Fact(day, 9, "", "answered", 1, calls=5),
        Fact(day, 1, "county-a", "answered", 3, calls=0),  # netted to nothing
    ]
    got = today_figures(facts, {1: "a", 2: "b"}, lambda code: 20)
    assert got == {
        "a": TodayFigures(
            answered=4, abandoned=2, answered_in_sl=3, wait_total=81, handle_total=160, handled=4
        ),
        "b": TodayFigures(),
    }
