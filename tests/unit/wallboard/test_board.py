"""The wallboard fold replayed against the captured transcripts; each test writes out the
whole list of deltas (compacted to the fields that change) and the board afterwards."""

from __future__ import annotations

from datetime import UTC, datetime

from cti.ami.replay import StreamClock, messages
from cti.wallboard.board import Board
from cti.wallboard.today import TodayFigures
from tests.unit.ami.support import trace


def board() -> tuple[Board, StreamClock]:
    clock = StreamClock()
    return Board(clock=clock, sl_of=lambda county: {"north": 20, "south": 5}.get(county, 20)), clock


def replay(b: Board, clock: StreamClock, *parts: bytes) -> list[dict]:
    out: list[dict] = []
    for part in parts:
        for message in messages(part, b.wanted_events):
            clock.observe(message)
            out.extend(b.feed(message))
    return out


def compact(deltas: list[dict]) -> list[tuple]:
    rows: list[tuple] = []
    for d in deltas:
        if d["type"] == "queue":
            rows.append(("queue", d["county"], d["waiting"]))
        elif d["type"] == "agent":
            rows.append(("agent", d["county"], d["interface"], d["state"], d["reason"]))
        else:
            rows.append(
                (
                    "stats",
                    d["county"],
                    d["answered"],
                    d["abandoned"],
                    d["service_level"],
                    d["avg_wait_s"],
                    d["avg_handle_s"],
                )
            )
    return rows


def test_answered_queue_call() -> None:
    """(a) north: 1001 rings 2 s, answers (HoldTime 2), talks 4 s. QueueCallerLeave comes
    before AgentConnect, so the queue empties before the answer is counted."""
    b, clock = board()
    deltas = replay(b, clock, trace("ami-answered-queue-call.txt"))
    assert compact(deltas) == [
        ("queue", "north", 1),
        ("agent", "north", "PJSIP/1001", "ringing", ""),
        ("queue", "north", 0),
        ("agent", "north", "PJSIP/1001", "in_call", ""),
        ("stats", "north", 1, 0, 100.0, 2.0, None),
        ("stats", "north", 1, 0, 100.0, 2.0, 4.0),
        ("agent", "north", "PJSIP/1001", "idle", ""),
    ]
    assert deltas[0]["oldest_since"] == 1795710920.390659  # the join's own Timestamp
    assert compact(b.snapshot("north")) == [
        ("queue", "north", 0),
        ("agent", "north", "PJSIP/1001", "idle", ""),
        ("stats", "north", 1, 0, 100.0, 2.0, 4.0),
    ]
    assert b.snapshot("north")[1]["name"] == "Agent 1001"


def test_abandoned_while_the_only_agent_is_paused_with_a_reason() -> None:
    """(b) 2001 paused 'lunch'; the caller waits 8 s and hangs up; then unpaused."""
    b, clock = board()
    assert compact(replay(b, clock, trace("ami-abandoned.txt"))) == [
        ("agent", "south", "PJSIP/2001", "paused", "lunch"),
        ("queue", "south", 1),
        ("queue", "south", 0),
        ("stats", "south", 0, 1, 0.0, None, None),
        ("agent", "south", "PJSIP/2001", "idle", ""),
    ]


def test_member_state_changes() -> None:
    """(m) QueueAdd, pause with reason, unpause, pause-all (one event per queue), unpause-
    all, a QueueStatus read, qualify-driven unavailable (Status 5) and back, QueueRemove."""
    b, clock = board()
    rows = compact(replay(b, clock, trace("capture2/ami-member-state-changes.txt")))
    assert rows == [
        ("agent", "south", "PJSIP/3001", "idle", ""),
        ("agent", "south", "PJSIP/3001", "paused", "coffee break"),
        ("agent", "south", "PJSIP/3001", "idle", ""),
        ("agent", "north", "PJSIP/1001", "paused", "team meeting"),
        ("agent", "ring", "PJSIP/1001", "paused", "team meeting"),
        ("agent", "xfer", "PJSIP/1001", "paused", "team meeting"),
        ("agent", "north", "PJSIP/1001", "idle", ""),
        ("agent", "ring", "PJSIP/1001", "idle", ""),
        ("agent", "xfer", "PJSIP/1001", "idle", ""),
        ("queue", "south", 0),
        ("agent", "south", "PJSIP/2001", "idle", ""),
        ("agent", "south", "PJSIP/3001", "unavailable", ""),
        ("agent", "south", "PJSIP/3001", "idle", ""),
        ("agent", "south", "PJSIP/3001", "gone", ""),
    ]


def test_queue_status_re_read_gives_waiting_callers_and_members() -> None:
    """(f) ami-actions: a caller waits in south while 2001 is paused ('training'); the
    QueueStatus answers list north's two idle members and south's waiting caller. The
    caller we saw join keeps its exact join time (QueueEntry's Wait is whole seconds)."""
    b, clock = board()
    rows = compact(replay(b, clock, trace("ami-actions.txt")))
    assert rows == [
        ("agent", "south", "PJSIP/2001", "paused", "training"),
        ("queue", "south", 1),
        ("queue", "north", 0),
        ("agent", "north", "PJSIP/1001", "idle", ""),
        ("agent", "north", "PJSIP/1002", "idle", ""),
        ("queue", "south", 0),
        ("stats", "south", 0, 1, 0.0, None, None),
        ("agent", "south", "PJSIP/2001", "idle", ""),
    ]


def test_status_re_read_alone_rebuilds_a_fresh_board() -> None:
    """A board started after the calls began (backend restart): only the QueueStatus
    answer of ami-actions, from QueueParams on, is fed. The waiting caller appears with
    its wait (Wait: 0 -> joined now) and 2001 is paused with its reason."""
    data = trace("ami-actions.txt")
    start = data.index(b"Event: QueueParams")
    b, clock = board()
    clock.now = 1795711100.0
    deltas = replay(b, clock, b"Asterisk Call Manager/11.0.0\r\n" + data[start:])
    south = b.snapshot("south")
    assert compact(south)[:1] == [("queue", "south", 0)]  # it abandoned later in the stream
    rows = compact(deltas)
    assert ("agent", "south", "PJSIP/2001", "paused", "training") in rows
    assert ("queue", "south", 1) in rows


def test_restart_empties_the_queue_and_marks_agents_unavailable_until_re_read() -> None:
    """(l) a call rings 2001 when `core restart now` runs: Asterisk reports the abandon,
    then Shutdown. After the reconnect a fresh call is answered by 1001 (in three queues:
    one delta per county board)."""
    b, clock = board()
    before = compact(replay(b, clock, trace("capture2/ami-restart-before.txt")))
    assert before == [
        ("queue", "south", 1),
        ("agent", "south", "PJSIP/2001", "ringing", ""),
        ("queue", "south", 0),
        ("stats", "south", 0, 1, 0.0, None, None),
        ("agent", "south", "PJSIP/2001", "idle", ""),
        ("agent", "south", "PJSIP/2001", "unavailable", ""),
    ]
    after = compact(replay(b, clock, trace("capture2/ami-restart-after.txt")))
    assert after[:4] == [
        ("queue", "north", 1),
        ("agent", "north", "PJSIP/1001", "ringing", ""),
        ("agent", "ring", "PJSIP/1001", "ringing", ""),
        ("agent", "xfer", "PJSIP/1001", "ringing", ""),
    ]
    assert ("stats", "north", 1, 0, 100.0, 2.0, 4.0) in after
    assert compact(b.snapshot("north"))[-1] == ("stats", "north", 1, 0, 100.0, 2.0, 4.0)


def test_service_level_threshold_is_per_county() -> None:
    """n-answered waited 2 s: within north's 20 s; the same call counted against a 1 s
    threshold is outside it."""
    b, clock = board()
    replay(b, clock, trace("capture2/ami-hh-answered.txt"))
    assert compact(b.snapshot("north"))[-1] == ("stats", "north", 1, 0, 100.0, 2.0, 10.0)
    strict = Board(clock=StreamClock(), sl_of=lambda county: 1)
    replay(strict, strict.clock, trace("capture2/ami-hh-answered.txt"))  # type: ignore[arg-type]
    assert compact(strict.snapshot("north"))[-1] == ("stats", "north", 1, 0, 0.0, 2.0, 10.0)


def test_a_replayed_stream_counts_each_call_once() -> None:
    """The same AgentConnect/Abandon seen twice (a resync overlap) is not counted twice."""
    b, clock = board()
    data = trace("capture2/ami-hh-abandoned.txt")
    replay(b, clock, data, data)
    assert compact(b.snapshot("south"))[-1] == ("stats", "south", 0, 1, 0.0, None, None)


def test_wrapup_from_the_members_wrapuptime_runs_out_on_tick() -> None:
    """(a) with the members' ``Wrapuptime: 0`` edited to 5 (the capture's queues have no
    wrap-up): after AgentComplete and the phone going idle, the agent is in wrap-up until
    5 s after the completion, then tick() makes them idle. Handle time = talk 4 + 5."""
    data = trace("ami-answered-queue-call.txt").replace(b"Wrapuptime: 0", b"Wrapuptime: 5")
    b, clock = board()
    rows = compact(replay(b, clock, data))
    assert rows[-1] == ("agent", "north", "PJSIP/1001", "wrapup", "")
    assert compact(b.snapshot("north"))[-1] == ("stats", "north", 1, 0, 100.0, 2.0, 9.0)
    assert b.tick() == []
    clock.now += 10
    assert compact(b.tick()) == [("agent", "north", "PJSIP/1001", "idle", "")]


def test_hostile_values_are_ignored_or_cut() -> None:
    """Unknown queues (not county-<code>), a missing Uniqueid, a non-numeric HoldTime and
    Status, and a 10 kB pause reason: nothing raises, the reason is cut to 80."""
    b, clock = board()
    events = [
        {"Event": "QueueCallerJoin", "Queue": "sales", "Uniqueid": "1.1"},
        {"Event": "QueueCallerJoin", "Queue": "county-north"},
        {"Event": "AgentConnect", "Queue": "county-north", "HoldTime": "x", "Linkedid": "9"},
        {
            "Event": "QueueMemberPause",
            "Queue": "county-north",
            "Interface": "PJSIP/1",
            "Status": "nan",
            "Paused": "1",
            "PausedReason": "<script>" * 1250,
        },
    ]
    rows = [d for e in events for d in b.feed(e)]
    assert compact(rows)[:2] == [
        ("queue", "north", 0),  # the first event this county board ever showed
        ("stats", "north", 1, 0, 100.0, 0.0, None),
    ]
    assert rows[-1]["state"] == "paused" and len(rows[-1]["reason"]) == 80
    assert b.counties() == ["north"]


def test_an_event_stamped_on_an_earlier_day_counts_today_and_a_later_one_rolls() -> None:
    """The board's today is 2026-12-07 with 5 answered from the call rows; the captured
    call carries Asterisk's timestamps of 2026-11-26 (a PBX clock behind ours, or a
    replay): it is counted on top (6), not taken as the start of a day that is over.
    Tried before the fix: the board went back to 26 Nov and showed 1. A call stamped the
    next day still starts that day's figures."""
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC).timestamp()
    b = Board(clock=lambda: now, sl_of=lambda county: 20)
    seeded = b.seed("north", "2026-12-07", TodayFigures(answered=5, answered_in_sl=5))
    assert [(d["day"], d["answered"]) for d in seeded] == [("2026-12-07", 5)]
    out: list[dict] = []
    for message in messages(trace("ami-answered-queue-call.txt"), b.wanted_events):
        out.extend(b.feed(message))
    stats = [(d["day"], d["answered"]) for d in out if d["type"] == "stats"]
    assert stats == [("2026-12-07", 6), ("2026-12-07", 6)]

    later = trace("ami-answered-queue-call.txt").replace(
        b"Timestamp: 17957",
        b"Timestamp: 17999",  # 14 Jan 2027
    )
    out = []
    for message in messages(later, b.wanted_events):
        out.extend(b.feed(message))
    days = [(d["day"], d["answered"]) for d in out if d["type"] == "stats"]
    assert days[0] == ("2027-01-14", 0) and days[-1] == ("2027-01-14", 1)
