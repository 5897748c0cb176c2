"""The queue_log parser and its report, on Asterisk's own file of the first capture
(``shared/asterisk-traces/queue_log.txt``) with every figure counted by hand from its
lines, and on hostile lines."""

from __future__ import annotations

import pytest

from cti.stats import queue_log
from tests.conftest import TRACES_DIR

TEXT = (TRACES_DIR / "queue_log.txt").read_text()


def test_every_line_of_the_capture_parses():
    parsed = queue_log.parse(TEXT)
    assert parsed.bad == []
    assert len(parsed.entries) == len(TEXT.splitlines()) == 76
    first = parsed.entries[2]  # the member name has a space in it
    assert (first.callid, first.queue, first.agent, first.event, first.data) == (
        "1795710920.0",
        "county-north",
        "Agent 1001",
        "CONNECT",
        ("2", "1795710920.1", "2"),
    )


def test_the_captures_calls_one_by_one():
    calls = queue_log.calls(queue_log.parse(TEXT).entries)
    assert len(calls) == 24  # (a), (b), (c), the burst of 20, the ami-actions caller
    a = calls[("1795710920.0", "county-north")]
    assert (a.outcome, a.wait_s, a.talk_s, a.agent, a.caller) == (
        "answered", 2, 4, "Agent 1001", "13800138000",
    )  # fmt: skip
    b = calls[("1795710933.2", "county-south")]
    assert (b.outcome, b.wait_s, b.talk_s) == ("abandoned", 8, 0)
    c = calls[("1795710951.3", "county-north")]  # 1002 rang 8 s for nothing, then 1001
    assert (c.outcome, c.wait_s, c.talk_s, c.ring_no_answer) == ("answered", 12, 4, 1)
    caller_hung_up = calls[("1795711008.25", "county-south")]  # COMPLETECALLER
    assert (caller_hung_up.outcome, caller_hung_up.wait_s, caller_hung_up.talk_s) == (
        "answered", 38, 1,
    )  # fmt: skip
    assert calls[("1795711071.47", "county-south")].wait_s == 7


def test_the_captures_report_by_queue():
    calls = queue_log.calls(queue_log.parse(TEXT).entries).values()
    got = queue_log.by_queue(calls)
    north, south = got["county-north"], got["county-south"]
    # north: (a) 2 s, (c) 12 s and ten of the burst (2 2 8 8 14 14 21 20 26 26), all 4 s talk
    assert (north.offered, north.answered, north.abandoned, north.short_abandoned) == (12, 12, 0, 0)
    assert north.avg_wait_s == pytest.approx(155 / 12)
    assert (north.p90_wait_s, north.max_wait_s) == (26, 26)  # rank 11 of 12
    assert north.avg_talk_s == 4
    # south: (b) abandoned 8 s; the burst's seven answered (2 8 14 20 26 32 38; talk
    # 4 x 6 and 1) and three abandoned at 40 s; the ami-actions caller abandoned at 7 s
    assert (south.offered, south.answered, south.abandoned, south.short_abandoned) == (12, 7, 5, 0)
    assert south.avg_wait_s == 20 and south.p90_wait_s == 38
    assert south.avg_talk_s == pytest.approx(25 / 7)
    assert (south.timeout, south.transferred, south.in_queue) == (0, 0, 0)
    # the same abandons at a 10 s short-abandon threshold: 8 s and 7 s are short
    assert queue_log.by_queue(calls, short_abandon_s=10)["county-south"].short_abandoned == 2


def test_transfers_timeouts_and_calls_still_waiting():
    text = "\n".join(
        [
            "100|c1|q|NONE|ENTERQUEUE||5550001|1",
            "103|c1|q|Agent 1|CONNECT|3|c1.1|1",
            "130|c1|q|Agent 1|BLINDTRANSFER|200|internal|3|27|1",
            "100|c2|q|NONE|ENTERQUEUE||5550002|2",
            "160|c2|q|Agent 2|CONNECT|60|c2.1|1",
            "190|c2|q|Agent 2|ATTENDEDTRANSFER|BRIDGE|b-1|60|30|1",
            "100|c3|q|NONE|ENTERQUEUE||5550003|3",
            "400|c3|q|NONE|EXITWITHTIMEOUT|1|3|300",
            "100|c4|q|NONE|ENTERQUEUE||5550004|4",
            "101|c4|q|NONE|EXITWITHKEY|5|1|4|1",
            "100|c5|q|NONE|ENTERQUEUE||5550005|5",
        ]
    )
    calls = queue_log.calls(queue_log.parse(text).entries)
    assert [(c.outcome, c.wait_s, c.talk_s) for c in calls.values()] == [
        ("transferred", 3, 27),
        ("transferred", 60, 30),
        ("timeout", 300, 0),
        ("timeout", 1, 0),
        ("in_queue", None, None),
    ]
    f = queue_log.figures(calls.values())
    assert (f.offered, f.answered, f.transferred, f.timeout, f.in_queue) == (4, 2, 2, 2, 1)


def test_hostile_lines_are_kept_aside_not_guessed():
    text = "\n".join(
        [
            "100|c1|q|NONE|ENTERQUEUE||'; DROP TABLE calls; --|1",  # caller ID: kept verbatim
            "not a queue_log line",
            "abc|c2|q|NONE|ENTERQUEUE||1|1",  # no epoch
            "100|c2|q|NONE|enterqueue||1|1",  # not an event name
            "100|c1|q",  # too short
            "105|c1|q|Agent 1|CONNECT|five|c1.1|1",  # not a number
            "",
        ]
    )
    parsed = queue_log.parse(text)
    assert [n for n, _ in parsed.bad] == [2, 3, 4, 5]
    calls = queue_log.calls(parsed.entries)
    call = calls[("c1", "q")]
    assert call.caller == "'; DROP TABLE calls; --"
    assert call.wait_s is None and [e.event for e in call.bad] == ["CONNECT"]
