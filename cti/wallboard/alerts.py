"""Wallboard alerts, pure: which alerts hold for a board now, and when one is raised,
cleared and (re)notified. No I/O, no clock but the ``now`` given.

:func:`active_alerts` maps (board views, thresholds, opening hours, now) to the alerts
that hold at ``now``: more calls waiting than the county allows, a caller waiting longer
than it allows, no agent logged in while the county is open. :class:`AlertTracker` turns
that set, step by step, into changes without flapping: a condition must hold for
``raise_after_s`` before its alert is raised and be gone for ``clear_after_s`` before it is
cleared (a caller answered and the next joining a second later keep one alert, not two),
and a raised alert asks to be emailed only if the same county's same alert was not
emailed within ``renotify_after_s``.

Alert deltas (what the wallboard socket carries), each naming its ``county``:
``{"type": "alert", "county", "kind", "state": "raised"|"cleared", "raised_at",
"value", "threshold", "text"}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

WAITING, LONGEST_WAIT, NO_AGENT = "waiting", "longest_wait", "no_agent"
KINDS = (WAITING, LONGEST_WAIT, NO_AGENT)

#: Defaults of the hysteresis (seconds).
RAISE_AFTER_S = 5.0
CLEAR_AFTER_S = 15.0
RENOTIFY_AFTER_S = 900.0


@dataclass(frozen=True, slots=True)
class Thresholds:
    """One county's alert settings (None / False: that alert is off)."""

    waiting_above: int | None = None
    longest_wait_above_s: int | None = None
    no_agent: bool = False
    email: bool = False


@dataclass(frozen=True, slots=True)
class CountyView:
    """What the alerts read of one county's board."""

    waiting: int
    #: Epoch of the longest waiting caller's join (None: nobody waits).
    oldest_since: float | None
    #: Agents in the county's queue whose phone is not unavailable (paused ones count).
    logged_in: int


@dataclass(frozen=True, slots=True)
class Condition:
    value: int
    threshold: int | None


AlertKey = tuple[str, str]  # (county, kind)


def county_conditions(
    view: CountyView, limits: Thresholds, is_open: bool, now: float
) -> dict[str, Condition]:
    """The alerts that hold for one county at ``now``, by kind."""
    out: dict[str, Condition] = {}
    if limits.waiting_above is not None and view.waiting > limits.waiting_above:
        out[WAITING] = Condition(view.waiting, limits.waiting_above)
    if limits.longest_wait_above_s is not None and view.oldest_since is not None:
        waited = int(now - view.oldest_since)
        if waited > limits.longest_wait_above_s:
            out[LONGEST_WAIT] = Condition(waited, limits.longest_wait_above_s)
    if limits.no_agent and is_open and view.logged_in == 0:
        out[NO_AGENT] = Condition(0, None)
    return out


def active_alerts(
    views: Mapping[str, CountyView],
    thresholds: Mapping[str, Thresholds],
    is_open: Callable[[str, float], bool],
    now: float,
) -> dict[AlertKey, Condition]:
    """Every alert that holds at ``now``. A county not on the board (the AMI side has not
    heard of its queue yet) has no alert: nothing is known of it."""
    out: dict[AlertKey, Condition] = {}
    for county, limits in thresholds.items():
        view = views.get(county)
        if view is None:
            continue
        for kind, condition in county_conditions(view, limits, is_open(county, now), now).items():
            out[(county, kind)] = condition
    return out


def describe(kind: str, condition: Condition) -> str:
    """The alert as the board says it."""
    if kind == WAITING:
        return f"{condition.value} calls waiting (limit {condition.threshold})"
    if kind == LONGEST_WAIT:
        return f"a caller has waited {condition.value} s (limit {condition.threshold} s)"
    return "no agent logged in during opening hours"


@dataclass(frozen=True, slots=True)
class Change:
    """An alert raised (``notify``: it should be emailed) or cleared."""

    county: str
    kind: str
    state: str  # "raised" | "cleared"
    raised_at: float
    condition: Condition
    notify: bool = False
    at: float = 0.0

    def delta(self) -> dict[str, Any]:
        return {
            "type": "alert",
            "county": self.county,
            "kind": self.kind,
            "state": self.state,
            "raised_at": self.raised_at,
            "value": self.condition.value,
            "threshold": self.condition.threshold,
            "text": describe(self.kind, self.condition),
        }


@dataclass(slots=True)
class _State:
    pending_since: float | None = None
    raised_at: float | None = None
    raised_with: Condition | None = None
    gone_since: float | None = None
    notified_at: float | None = None


@dataclass(frozen=True, slots=True)
class Hysteresis:
    raise_after_s: float = RAISE_AFTER_S
    clear_after_s: float = CLEAR_AFTER_S
    renotify_after_s: float = RENOTIFY_AFTER_S


@dataclass(slots=True)
class AlertTracker:
    """The raised alerts, moved on by :meth:`step` from the conditions of each moment."""

    policy: Hysteresis = field(default_factory=Hysteresis)
    _states: dict[AlertKey, _State] = field(default_factory=dict)

    def adopt(self, county: str, kind: str, raised_at: float, condition: Condition) -> None:
        """An alert raised before a restart (from the log): raised still, emailed already."""
        self._states[(county, kind)] = _State(
            raised_at=raised_at, raised_with=condition, notified_at=raised_at
        )

    def active(self) -> list[Change]:
        """The raised alerts, as ``raised`` changes (what a board connecting now is shown)."""
        return [
            Change(county, kind, "raised", s.raised_at, s.raised_with)
            for (county, kind), s in sorted(self._states.items())
            if s.raised_at is not None and s.raised_with is not None
        ]

    def step(self, conditions: Mapping[AlertKey, Condition], now: float) -> list[Change]:
        policy = self.policy
        out: list[Change] = []
        for key in sorted(set(conditions) | set(self._states)):
            state = self._states.setdefault(key, _State())
            condition = conditions.get(key)
            if condition is not None:
                state.gone_since = None
                if state.raised_at is not None:
                    continue
                if state.pending_since is None:
                    state.pending_since = now
                if now - state.pending_since < policy.raise_after_s:
                    continue
                notify = (
                    state.notified_at is None or now - state.notified_at >= policy.renotify_after_s
                )
                if notify:
                    state.notified_at = now
                state.raised_at, state.raised_with, state.pending_since = now, condition, None
                out.append(Change(key[0], key[1], "raised", now, condition, notify, now))
                continue
            state.pending_since = None
            if state.raised_at is None:
                # Kept while its email cooldown runs, so a quick re-raise is not emailed.
                if state.notified_at is None or now - state.notified_at >= policy.renotify_after_s:
                    del self._states[key]
                continue
            if state.gone_since is None:
                state.gone_since = now
            if now - state.gone_since < policy.clear_after_s:
                continue
            assert state.raised_with is not None
            out.append(
                Change(key[0], key[1], "cleared", state.raised_at, state.raised_with, at=now)
            )
            state.raised_at, state.raised_with, state.gone_since = None, None, None
        return out

    def forget(self, counties: Iterable[str]) -> None:
        """Drop the state of counties that left (retired, deleted)."""
        gone = set(counties)
        for key in [k for k in self._states if k[0] in gone]:
            del self._states[key]
