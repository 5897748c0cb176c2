"""The wallboard fold: AMI queue events in, per-county board deltas out. Pure: no I/O, no
asyncio, no clock but the one given.

It reads the same stream the call tracker reads (``AmiService.add_listener``), and only
queue-level facts: callers waiting (``QueueCallerJoin``/``Leave``/``Abandon`` and the
``QueueEntry`` items of ``QueueStatus``), members (``QueueMemberStatus``/``Added``/
``Pause``/``Removed`` and ``QueueMember`` items), answers and completions (``AgentConnect``
``HoldTime``, ``AgentComplete`` ``TalkTime``). Real-Asterisk facts it relies on
(traces READMEs): ``QueueCallerLeave`` comes *before* ``AgentConnect``; an abandon is
``QueueCallerAbandon`` then ``QueueCallerLeave``; ``Status`` is the device state (1 idle,
2 in use, 5 unavailable, 6 ringing) and the same in every queue, ``Paused`` and
``PausedReason`` are per queue (a pause with no queue gives one event per queue);
``InCall`` reads 0 for a busy agent and is ignored; ``QueueMember`` names the interface
``Location``; a ``Shutdown`` (``core restart now``) ends every wait on that node, and the
``QueueStatus`` re-read after the reconnect replaces the node's waiting callers and
members of every queue it lists.

Deltas are JSON-able dicts, each naming its ``county``:

* ``{"type": "queue", "county", "waiting", "oldest_since"}`` (epoch of the longest
  waiting caller's join, or None: the page ticks the longest wait itself);
* ``{"type": "agent", "county", "id", "interface", "name", "state", "reason", "since"}``
  with ``state`` one of ``STATES`` (``gone`` when it left the county's queue);
* ``{"type": "stats", "county", "day", "answered", "abandoned", "answered_in_sl",
  "sl_s", "service_level", "avg_wait_s", "avg_handle_s"}``: today's figures (the day in
  the county's zone, from ``day_of``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cti.ami.state import default_county_of_queue, header, to_int
from cti.wallboard.members import Member, Members
from cti.wallboard.today import TodayFigures

IDLE, RINGING, IN_CALL, WRAPUP, PAUSED, UNAVAILABLE = (
    "idle",
    "ringing",
    "in_call",
    "wrapup",
    "paused",
    "unavailable",
)
STATES = (IDLE, RINGING, IN_CALL, WRAPUP, PAUSED, UNAVAILABLE)
#: Device states (ast_device_state) in ``Status``.
_RINGING = frozenset({6, 7})
_IN_CALL = frozenset({2, 3, 8})
_UNAVAILABLE = frozenset({0, 4, 5})  # 0 unknown: after a Shutdown, until the re-read
#: Answered within this many seconds counts for the service level when a county has none.
DEFAULT_SL_S = 20
MAX_TEXT = 80


def utc_day(_county: str, at: float) -> str:
    return datetime.fromtimestamp(at, UTC).date().isoformat()


@dataclass(slots=True)
class _Stats:
    day: str = ""
    answered: int = 0
    abandoned: int = 0
    in_sl: int = 0
    wait_total: int = 0
    handle_total: int = 0
    handled: int = 0
    counted: set[tuple[str, str, str]] = field(default_factory=set)


@dataclass(slots=True)
class _County:
    #: (node, caller Uniqueid) -> joined at (epoch)
    waiting: dict[tuple[str, str], float] = field(default_factory=dict)
    #: (node, interface, queue) -> member, also by device
    members: Members = field(default_factory=Members)
    stats: _Stats = field(default_factory=_Stats)
    shown_queue: tuple[int, float | None] | None = None


@dataclass(slots=True)
class _Snapshot:
    queues: list[str] = field(default_factory=list)
    members: list[Mapping[str, Any]] = field(default_factory=list)
    entries: list[Mapping[str, Any]] = field(default_factory=list)


def _text(value: str) -> str:
    return value[:MAX_TEXT]


class Board:
    """Per-county live state of every queue on every node.

    ``feed(event, node)`` applies one AMI message and returns the deltas it causes (often
    none); unknown events and malformed values are ignored, it never raises on content.
    ``tick()`` returns the deltas that time alone causes (a wrap-up that ran out).
    ``snapshot(county)`` is the full board of one county, as the same delta dicts.
    ``sl_of(county)`` is the county's service-level threshold in seconds.
    """

    def __init__(
        self,
        *,
        county_of_queue: Callable[[str], str | None] = default_county_of_queue,
        clock: Callable[[], float],
        sl_of: Callable[[str], int] = lambda _county: DEFAULT_SL_S,
        day_of: Callable[[str, float], str] = utc_day,
    ) -> None:
        self.county_of_queue = county_of_queue
        self.clock = clock
        self.sl_of = sl_of
        self.day_of = day_of
        self._counties: dict[str, _County] = {}
        self._snapshots: dict[str, _Snapshot] = {}
        self._handlers: dict[str, Callable[[str, Mapping[str, Any], list[dict]], None]] = {
            "QueueCallerJoin": self._on_join,
            "QueueCallerLeave": self._on_leave,
            "QueueCallerAbandon": self._on_abandon,
            "AgentConnect": self._on_connect,
            "AgentComplete": self._on_complete,
            "QueueMemberStatus": self._on_member,
            "QueueMemberAdded": self._on_member,
            "QueueMemberPause": self._on_member,
            "QueueMemberRemoved": self._on_member_removed,
            "QueueParams": self._on_params,
            "QueueMember": self._on_snapshot_member,
            "QueueEntry": self._on_entry,
            "QueueStatusComplete": self._on_status_complete,
            "Shutdown": self._on_shutdown,
        }

    @property
    def wanted_events(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def counties(self) -> list[str]:
        return sorted(self._counties)

    # --- public -----------------------------------------------------------------------

    def feed(self, event: Mapping[str, Any], node: str = "asterisk") -> list[dict[str, Any]]:
        handler = self._handlers.get(header(event, "Event"))
        if handler is None:
            return []
        out: list[dict[str, Any]] = []
        handler(node, event, out)
        return out

    def tick(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        now = self.clock()
        for code, county in self._counties.items():
            self._roll_day(code, county, now, out)
            for key, member in county.members.items():
                if member.wrapup_until and member.wrapup_until <= now:
                    member.wrapup_until = 0.0
                    self._emit_agent(code, county, key, out)
        return out

    def snapshot(self, code: str) -> list[dict[str, Any]]:
        county = self._counties.get(code)
        if county is None:
            return []
        out = [self._queue_delta(code, county)]
        seen: set[tuple[str, str]] = set()
        for node, interface, _queue in county.members:
            if (node, interface) not in seen:
                seen.add((node, interface))
                out.append(self._agent_delta(code, county, node, interface))
        out.append(self._stats_delta(code, county))
        return out

    def seed(self, code: str, day: str, figures: TodayFigures) -> list[dict[str, Any]]:
        """Add the calls of ``day`` that ended before this board started (the call rows)
        to the county's figures, if ``day`` is still its today; returns the stats delta."""
        county = self._counties.get(code)
        if county is None:
            county = self._counties[code] = _County()
            county.stats.day = self.day_of(code, self.clock())
        out: list[dict[str, Any]] = []
        self._roll_day(code, county, self.clock(), out)
        if county.stats.day != day:
            return out
        s = county.stats
        s.answered += figures.answered
        s.abandoned += figures.abandoned
        s.in_sl += figures.answered_in_sl
        s.wait_total += figures.wait_total
        s.handle_total += figures.handle_total
        s.handled += figures.handled
        return [self._stats_delta(code, county)]

    def view(self, code: str) -> tuple[int, float | None, int] | None:
        """(calls waiting, join epoch of the longest waiting, agents logged in) of one
        county; None when the board has not heard of it. Logged in: in the county's queue
        with a phone that is not unavailable (a paused agent is logged in)."""
        county = self._counties.get(code)
        if county is None:
            return None
        agents = {(n, i) for n, i, _q in county.members}
        logged_in = sum(
            1
            for node, interface in agents
            if (view := self._agent_view(county, node, interface)) and view[0] != UNAVAILABLE
        )
        oldest = min(county.waiting.values()) if county.waiting else None
        return len(county.waiting), oldest, logged_in

    # --- helpers ----------------------------------------------------------------------

    def _ts(self, event: Mapping[str, Any]) -> float:
        try:
            value = float(header(event, "Timestamp"))
        except ValueError:
            return self.clock()
        return value if 0 < value < 253402300799.0 else self.clock()

    def _county(self, queue: str) -> tuple[str, _County] | None:
        code = self.county_of_queue(queue) if queue else None
        if code is None:
            return None
        county = self._counties.get(code)
        if county is None:
            county = self._counties[code] = _County()
            county.stats.day = self.day_of(code, self.clock())
        return code, county

    def _roll_day(self, code: str, county: _County, at: float, out: list[dict]) -> None:
        """Start a new day's figures when ``at`` falls on a later day. Never an earlier
        one: an event stamped before today (a PBX clock behind ours, a replay) is counted
        in today's figures instead of wiping them."""
        day = self.day_of(code, at)
        if day > county.stats.day:  # ISO dates: later sorts higher; "" before any
            county.stats = _Stats(day=day)
            out.append(self._stats_delta(code, county))

    def _queue_delta(self, code: str, county: _County) -> dict[str, Any]:
        oldest = min(county.waiting.values()) if county.waiting else None
        return {
            "type": "queue",
            "county": code,
            "waiting": len(county.waiting),
            "oldest_since": oldest,
        }

    def _emit_queue(self, code: str, county: _County, out: list[dict]) -> None:
        delta = self._queue_delta(code, county)
        shown = (delta["waiting"], delta["oldest_since"])
        if shown != county.shown_queue:
            county.shown_queue = shown
            out.append(delta)

    def _agent_view(
        self, county: _County, node: str, interface: str
    ) -> tuple[str, str, str, float] | None:
        """(state, reason, name, since) of one interface over the county's queues."""
        members = list(county.members.of_device(node, interface).values())
        if not members:
            return None
        now = self.clock()
        status = members[0].status
        name = next((m.name for m in members if m.name), interface)
        since = max(m.since for m in members)
        reason = ""
        if status in _UNAVAILABLE:
            state = UNAVAILABLE
        elif status in _RINGING:
            state = RINGING
        elif status in _IN_CALL:
            state = IN_CALL
        elif all(m.paused for m in members):
            state = PAUSED
            reason = next((m.reason for m in members if m.reason), "")
        elif any(m.wrapup_until > now for m in members):
            state = WRAPUP
        else:
            state = IDLE
        return state, reason, name, since

    def _agent_delta(self, code: str, county: _County, node: str, interface: str) -> dict[str, Any]:
        view = self._agent_view(county, node, interface)
        state, reason, name, since = view if view else ("gone", "", interface, self.clock())
        return {
            "type": "agent",
            "county": code,
            "id": f"{node}:{interface}",
            "interface": interface,
            "name": name,
            "state": state,
            "reason": reason,
            "since": since,
        }

    def _emit_agent(
        self, code: str, county: _County, key: tuple[str, str, str], out: list[dict]
    ) -> None:
        node, interface, _queue = key
        delta = self._agent_delta(code, county, node, interface)
        shown = (delta["state"], delta["reason"])
        first = county.members.get(key)
        if first is None:
            out.append(delta)
            return
        if shown != first.shown:
            for m in county.members.of_device(node, interface).values():
                m.shown = shown
                if m.since == 0.0 or first.shown is not None:
                    m.since = self.clock()
            out.append(self._agent_delta(code, county, node, interface))

    def _stats_delta(self, code: str, county: _County) -> dict[str, Any]:
        s = county.stats
        offered = s.answered + s.abandoned
        return {
            "type": "stats",
            "county": code,
            "day": s.day,
            "answered": s.answered,
            "abandoned": s.abandoned,
            "answered_in_sl": s.in_sl,
            "sl_s": self.sl_of(code),
            "service_level": round(100.0 * s.in_sl / offered, 1) if offered else None,
            "avg_wait_s": round(s.wait_total / s.answered, 1) if s.answered else None,
            "avg_handle_s": round(s.handle_total / s.handled, 1) if s.handled else None,
        }

    # --- callers ----------------------------------------------------------------------

    def _on_join(self, node: str, ev: Mapping[str, Any], out: list[dict]) -> None:
        found = self._county(header(ev, "Queue"))
        uniqueid = header(ev, "Uniqueid")
        if found is None or not uniqueid:
            return
        code, county = found
        county.waiting.setdefault((node, uniqueid), self._ts(ev))
        self._emit_queue(code, county, out)

    def _on_leave(self, node: str, ev: Mapping[str, Any], out: list[dict]) -> None:
        found = self._county(header(ev, "Queue"))
        if found is None:
            return
        code, county = found
        county.waiting.pop((node, header(ev, "Uniqueid")), None)
        self._emit_queue(code, county, out)

    def _count_once(self, county: _County, kind: str, node: str, ev: Mapping[str, Any]) -> bool:
        key = (kind, node, header(ev, "Linkedid") or header(ev, "Uniqueid"))
        if key in county.stats.counted:
            return False
        county.stats.counted.add(key)
        return True

    def _on_abandon(self, node: str, ev: Mapping[str, Any], out: list[dict]) -> None:
        found = self._county(header(ev, "Queue"))
        if found is None:
            return
        code, county = found
        self._roll_day(code, county, self._ts(ev), out)
        county.waiting.pop((node, header(ev, "Uniqueid")), None)
        self._emit_queue(code, county, out)
        if self._count_once(county, "abandoned", node, ev):
            county.stats.abandoned += 1
            out.append(self._stats_delta(code, county))

    def _on_connect(self, node: str, ev: Mapping[str, Any], out: list[dict]) -> None:
        found = self._county(header(ev, "Queue"))
        if found is None:
            return
        code, county = found
        self._roll_day(code, county, self._ts(ev), out)
        county.waiting.pop((node, header(ev, "Uniqueid")), None)
        self._emit_queue(code, county, out)
        if not self._count_once(county, "answered", node, ev):
            return
        wait = max(0, to_int(header(ev, "HoldTime")) or 0)
        stats = county.stats
        stats.answered += 1
        stats.wait_total += wait
        if wait <= self.sl_of(code):
            stats.in_sl += 1
        out.append(self._stats_delta(code, county))

    def _on_complete(self, node: str, ev: Mapping[str, Any], out: list[dict]) -> None:
        found = self._county(header(ev, "Queue"))
        if found is None:
            return
        code, county = found
        self._roll_day(code, county, self._ts(ev), out)
        interface = header(ev, "Interface")
        member = county.members.get((node, interface, header(ev, "Queue")))
        wrapup = member.wrapup_s if member else 0
        if member is not None and wrapup > 0:
            member.wrapup_until = self._ts(ev) + wrapup
            self._emit_agent(code, county, (node, interface, header(ev, "Queue")), out)
        if self._count_once(county, "completed", node, ev):
            # Handle time: talk plus the wrap-up the queue gives the agent after it.
            county.stats.handle_total += max(0, to_int(header(ev, "TalkTime")) or 0) + wrapup
            county.stats.handled += 1
            out.append(self._stats_delta(code, county))

    # --- members ----------------------------------------------------------------------

    def _apply_member(self, node: str, item: Mapping[str, Any]) -> tuple[str, _County, tuple]:
        queue = header(item, "Queue")
        interface = header(item, "Interface") or header(item, "Location")
        found = self._county(queue)
        if found is None or not interface:
            return None  # type: ignore[return-value]
        code, county = found
        key = (node, interface, queue)
        member = county.members.get(key)
        if member is None:
            member = county.members[key] = Member(since=self._ts(item))
        status = to_int(header(item, "Status"))
        if status is not None:
            # The device state is the same in every queue: apply it to all of them.
            for other in self._counties.values():
                for m in other.members.of_device(node, interface).values():
                    m.status = status
        name = header(item, "MemberName") or header(item, "Name")
        if name:
            member.name = _text(name)
        paused = header(item, "Paused")
        if paused:
            member.paused = paused == "1"
            member.reason = _text(header(item, "PausedReason")) if member.paused else ""
        wrapup = to_int(header(item, "Wrapuptime"))
        if wrapup is not None and wrapup >= 0:
            member.wrapup_s = wrapup
        return code, county, key

    def _emit_everywhere(self, node: str, interface: str, out: list[dict]) -> None:
        for code, county in self._counties.items():
            queue = next(iter(county.members.of_device(node, interface)), None)
            if queue is not None:
                self._emit_agent(code, county, (node, interface, queue), out)

    def _on_member(self, node: str, ev: Mapping[str, Any], out: list[dict]) -> None:
        applied = self._apply_member(node, ev)
        if applied is not None:
            self._emit_everywhere(node, applied[2][1], out)

    def _on_member_removed(self, node: str, ev: Mapping[str, Any], out: list[dict]) -> None:
        found = self._county(header(ev, "Queue"))
        interface = header(ev, "Interface")
        if found is None:
            return
        code, county = found
        if county.members.pop((node, interface, header(ev, "Queue")), None) is not None:
            self._emit_agent(code, county, (node, interface, header(ev, "Queue")), out)

    # --- QueueStatus re-read ----------------------------------------------------------

    def _snapshot(self, node: str) -> _Snapshot:
        snap = self._snapshots.get(node)
        if snap is None:
            snap = self._snapshots[node] = _Snapshot()
        return snap

    def _on_params(self, node: str, ev: Mapping[str, Any], out: list[dict]) -> None:
        queue = header(ev, "Queue")
        if queue and queue not in self._snapshot(node).queues:
            self._snapshot(node).queues.append(queue)

    def _on_snapshot_member(self, node: str, ev: Mapping[str, Any], out: list[dict]) -> None:
        self._snapshot(node).members.append(ev)

    def _on_entry(self, node: str, ev: Mapping[str, Any], out: list[dict]) -> None:
        self._snapshot(node).entries.append(ev)

    def _on_status_complete(self, node: str, ev: Mapping[str, Any], out: list[dict]) -> None:
        """Asterisk's word replaces ours for every queue the answer lists: callers that
        left and members that went while we were away are dropped, the rest set anew."""
        snap = self._snapshots.pop(node, None) or _Snapshot()
        now = self.clock()
        touched: dict[str, _County] = {}
        before: dict[str, set[tuple[str, str, str]]] = {}
        known: dict[tuple[str, str], float] = {}
        for queue in snap.queues:
            found = self._county(queue)
            if found is None:
                continue
            code, county = found
            touched[code] = county
            before.setdefault(code, set()).update(
                k for k in county.members if k[0] == node and k[2] == queue
            )
            for key in [k for k in county.waiting if k[0] == node]:
                # A county has one queue, so these are that queue's callers.
                known[key] = county.waiting.pop(key)
        for item in snap.entries:
            found = self._county(header(item, "Queue"))
            uniqueid = header(item, "Uniqueid")
            if found is None or not uniqueid:
                continue
            wait = max(0, to_int(header(item, "Wait")) or 0)
            # ``Wait`` is whole seconds: a caller we saw join keeps its exact join time.
            key = (node, uniqueid)
            found[1].waiting[key] = known.get(key, now - wait)
        present: set[tuple[str, str, str]] = set()
        for item in snap.members:
            applied = self._apply_member(node, item)
            if applied is not None:
                present.add(applied[2])
        for code, keys in before.items():
            county = touched[code]
            for key in keys - present:
                county.members.pop(key, None)
                self._emit_agent(code, county, key, out)
        for code, county in touched.items():
            self._emit_queue(code, county, out)
        for node_, interface, _q in sorted(present):
            self._emit_everywhere(node_, interface, out)

    def _on_shutdown(self, node: str, ev: Mapping[str, Any], out: list[dict]) -> None:
        """Asterisk is stopping: nobody waits on it any more, and nobody can take a call
        until the re-read after the reconnect says who is there."""
        for code, county in self._counties.items():
            for key in [k for k in county.waiting if k[0] == node]:
                del county.waiting[key]
            self._emit_queue(code, county, out)
            for key, member in county.members.items():
                if key[0] == node:
                    member.status = 0
            for key in {(k[0], k[1], k[2]) for k in county.members if k[0] == node}:
                self._emit_agent(code, county, key, out)
