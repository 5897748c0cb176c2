"""The wallboard alerts, pure: conditions from hand-built board views and thresholds, the
hysteresis stepped through time, and the board's own view of a replayed call."""

from __future__ import annotations

from datetime import UTC, datetime

from cti.ami.replay import StreamClock
from cti.routing.decide import is_open
from cti.routing.rules import CountyPolicy
from cti.wallboard.alerts import (
    LONGEST_WAIT,
    NO_AGENT,
    WAITING,
    AlertTracker,
    Condition,
    CountyView,
    Hysteresis,
    Thresholds,
    active_alerts,
    county_conditions,
    describe,
)
from cti.wallboard.board import Board
from tests.unit.ami.support import trace
from tests.unit.wallboard.test_board import replay

NOW = 1_800_000_000.0
ALL_ON = Thresholds(waiting_above=2, longest_wait_above_s=60, no_agent=True)


def always_open(_county: str, _now: float) -> bool:
    return True


def test_each_condition_holds_only_strictly_above_its_threshold() -> None:
    at = CountyView(waiting=2, oldest_since=NOW - 60, logged_in=1)
    assert county_conditions(at, ALL_ON, True, NOW) == {}
    above = CountyView(waiting=3, oldest_since=NOW - 61, logged_in=1)
    assert county_conditions(above, ALL_ON, True, NOW) == {
        WAITING: Condition(3, 2),
        LONGEST_WAIT: Condition(61, 60),
    }
    nobody = CountyView(waiting=0, oldest_since=None, logged_in=0)
    assert county_conditions(nobody, ALL_ON, True, NOW) == {NO_AGENT: Condition(0, None)}
    assert county_conditions(nobody, ALL_ON, False, NOW) == {}  # closed: nobody expected


def test_an_alert_that_is_off_never_holds() -> None:
    busy = CountyView(waiting=50, oldest_since=NOW - 3000, logged_in=0)
    assert county_conditions(busy, Thresholds(), True, NOW) == {}
    zero = Thresholds(waiting_above=0)  # "any call waiting" is a valid threshold
    assert county_conditions(CountyView(1, NOW, 1), zero, True, NOW) == {WAITING: Condition(1, 0)}


def test_active_alerts_across_counties_with_opening_hours() -> None:
    """north open with nobody logged in; south closed (Sunday) with nobody; east has no
    board yet (the AMI side never heard of its queue): no alert for it."""
    sunday_noon = datetime(2026, 12, 6, 12, 0, tzinfo=UTC).timestamp()
    weekdays = CountyPolicy.model_validate(
        {
            "county": "south",
            "timezone": "UTC",
            "hours": [
                {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"}
            ],
            "after_hours": {"action": "callback"},
        }
    )

    def opening(county: str, now: float) -> bool:
        if county == "south":
            return is_open(weekdays, datetime.fromtimestamp(now, UTC))[0]
        return True

    views = {
        "north": CountyView(4, sunday_noon - 10, 0),
        "south": CountyView(0, None, 0),
    }
    limits = {"north": ALL_ON, "south": ALL_ON, "east": ALL_ON}
    assert active_alerts(views, limits, opening, sunday_noon) == {
        ("north", WAITING): Condition(4, 2),
        ("north", NO_AGENT): Condition(0, None),
    }
    monday = sunday_noon + 86400
    assert ("south", NO_AGENT) in active_alerts(views, limits, opening, monday)


def test_raised_after_holding_cleared_after_gone_no_flapping() -> None:
    t = AlertTracker(Hysteresis(raise_after_s=5, clear_after_s=10, renotify_after_s=600))
    key = ("north", WAITING)
    held = {key: Condition(3, 2)}
    assert t.step(held, NOW) == []
    assert t.step({}, NOW + 2) == []  # a blip under 5 s raises nothing
    assert t.step(held, NOW + 3) == []
    assert t.step(held, NOW + 7) == []  # held 4 s since it came back
    [raised] = t.step(held, NOW + 8)
    assert (raised.state, raised.raised_at, raised.notify) == ("raised", NOW + 8, True)
    assert raised.delta() == {
        "type": "alert",
        "county": "north",
        "kind": "waiting",
        "state": "raised",
        "raised_at": NOW + 8,
        "value": 3,
        "threshold": 2,
        "text": "3 calls waiting (limit 2)",
    }
    assert t.step({key: Condition(5, 2)}, NOW + 9) == []  # raised once, not again
    # Back under for 6 s, then over again: still the same alert.
    assert t.step({}, NOW + 10) == []
    assert t.step({}, NOW + 16) == []
    assert t.step(held, NOW + 17) == []
    assert t.step({}, NOW + 20) == []
    [cleared] = t.step({}, NOW + 30)
    assert (cleared.state, cleared.raised_at, cleared.at) == ("cleared", NOW + 8, NOW + 30)
    assert t.active() == []
    assert t.step({}, NOW + 40) == []


def test_re_raised_within_the_cooldown_is_shown_but_not_emailed_again() -> None:
    t = AlertTracker(Hysteresis(raise_after_s=0, clear_after_s=0, renotify_after_s=600))
    key = ("south", NO_AGENT)
    nobody = {key: Condition(0, None)}
    assert [c.notify for c in t.step(nobody, NOW)] == [True]
    assert [c.state for c in t.step({}, NOW + 60)] == ["cleared"]
    [again] = t.step(nobody, NOW + 120)
    assert (again.state, again.notify) == ("raised", False)
    t.step({}, NOW + 130)
    [later] = t.step(nobody, NOW + 700)  # 700 s after the email: past the cooldown
    assert (later.state, later.notify) == ("raised", True)


def test_an_adopted_alert_is_not_raised_again_and_clears_when_gone() -> None:
    t = AlertTracker(Hysteresis(raise_after_s=0, clear_after_s=0, renotify_after_s=600))
    t.adopt("north", LONGEST_WAIT, NOW - 100, Condition(75, 60))
    assert [c.delta()["text"] for c in t.active()] == ["a caller has waited 75 s (limit 60 s)"]
    assert t.step({("north", LONGEST_WAIT): Condition(90, 60)}, NOW) == []
    [cleared] = t.step({}, NOW + 1)
    assert (cleared.state, cleared.raised_at) == ("cleared", NOW - 100)


def test_describe_each_kind() -> None:
    assert describe(NO_AGENT, Condition(0, None)) == "no agent logged in during opening hours"


def test_board_view_of_a_replayed_abandon_with_the_only_agent_paused() -> None:
    """ami-abandoned: 2001 paused (logged in), a caller waits then hangs up."""
    clock = StreamClock()
    b = Board(clock=clock)
    data = trace("ami-abandoned.txt")
    head, sep, tail = data.partition(b"Event: QueueCallerAbandon")
    replay(b, clock, head)
    waiting, oldest, logged_in = b.view("south")
    assert (waiting, logged_in) == (1, 1)
    assert oldest is not None and oldest <= clock()
    replay(b, clock, sep + tail)
    assert b.view("south")[:2] == (0, None)
    assert b.view("nowhere") is None
