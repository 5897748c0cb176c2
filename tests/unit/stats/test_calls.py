"""Every call figure from hand-built call sequences, with the expected numbers written out."""

from __future__ import annotations

from datetime import date

import pytest

from cti.stats.calls import Fact, Thresholds, figures, grouped, p90

D1, D2 = date(2026, 11, 2), date(2026, 11, 9)  # Mondays of ISO weeks 45 and 46
NORTH, SOUTH = 1, 2


def call(disposition, wait, talk=0, handle=None, county=NORTH, day=D1, agent=0, hour=9):
    return Fact(
        day, county, f"q{county}", disposition, wait, 1, talk,
        talk if handle is None else handle, agent, hour,
    )  # fmt: skip


#: A morning in the north queue:
SEQUENCE = [
    call("answered", 4, talk=60, agent=7),  # answered after 4 s
    call("answered", 25, talk=120, handle=130, agent=7),  # answered after 25 s (> 20 s SL)
    call("abandoned", 2),  # abandoned while ringing after 2 s: a short abandon
    call("abandoned", 40),  # abandoned in queue after 40 s
    call("abandoned", 130),  # abandoned in queue after 130 s
    call("transferred", 10, talk=30, handle=90, agent=8),  # answered, then transferred
    call("timeout", 300),  # overflowed: the queue timed out
    call("voicemail", 0),  # after hours: to the mailbox
    call("callback", 0),  # after hours: a callback request
    call("callback", 0),
    call("failed", 0),  # never reached a queue
]


def test_a_morning_of_calls_gives_these_figures():
    f = figures(SEQUENCE)
    assert f.offered == 7  # 2 answered + 3 abandoned + 1 transferred + 1 timeout
    assert f.answered == 3  # including the transferred one
    assert f.transferred == 1
    assert f.short_abandoned == 1
    assert f.abandoned == 2
    assert f.abandon_buckets == {"5-30s": 0, "30-60s": 1, "60-120s": 0, "120s+": 1}
    assert f.timeout == 1
    assert f.answered_within == 2  # 4 s and 10 s; 25 s is over 20 s
    assert f.service_level == pytest.approx(100 * 2 / 6)  # short abandon left out
    assert f.avg_wait_s == pytest.approx((4 + 25 + 10) / 3)
    assert f.p90_wait_s == 25  # rank ceil(0.9 * 3) = 3 of [4, 10, 25]
    assert f.avg_talk_s == pytest.approx((60 + 120 + 30) / 3)
    assert f.avg_handle_s == pytest.approx((60 + 130 + 90) / 3)
    assert f.after_hours == {"voicemail": 1, "callback": 2}
    assert f.failed == 1


def test_thresholds_are_the_reports_own():
    t = Thresholds(short_abandon_s=3, service_level_s={NORTH: 30}, abandon_edges=(60,))
    f = figures(SEQUENCE, t)
    assert (f.short_abandoned, f.abandoned) == (1, 2)  # 2 s < 3 s
    assert f.abandon_buckets == {"3-60s": 1, "60s+": 1}
    assert f.answered_within == 3  # 25 s is within 30 s in the north
    assert figures([call("abandoned", 4)], t).short_abandoned == 0


def test_service_level_n_is_per_county():
    t = Thresholds(service_level_s={SOUTH: 5})
    calls = [call("answered", 10, county=NORTH), call("answered", 10, county=SOUTH)]
    by = grouped(calls, "county", t)
    assert by[NORTH].service_level == 100.0 and by[SOUTH].service_level == 0.0


def test_weights_count_like_that_many_calls():
    one = call("answered", 8, talk=50)
    ten = Fact(D1, NORTH, "q1", "answered", 8, 10, 500, 500)
    assert figures([ten]) == figures([one] * 10)


def test_p90_by_nearest_rank():
    assert p90({}) is None
    assert p90({5: 1}) == 5
    assert p90({1: 9, 100: 1}) == 1  # rank 9 of 10
    assert p90({1: 8, 50: 1, 100: 1}) == 50  # rank 9 of 10
    assert p90({w: 1 for w in range(1, 21)}) == 18


def test_nothing_offered_has_no_ratios():
    f = figures([call("voicemail", 0)])
    assert (f.offered, f.service_level, f.avg_wait_s, f.p90_wait_s) == (0, None, None, None)


def test_grouped_by_day_week_month_agent_hour():
    calls = [
        call("answered", 1, day=D1, agent=7, hour=9),
        call("abandoned", 50, day=D1, hour=10),
        call("answered", 1, day=D2, agent=8, hour=9),
    ]
    assert {k: v.offered for k, v in grouped(calls, "day").items()} == {D1: 2, D2: 1}
    assert {k: v.offered for k, v in grouped(calls, "week").items()} == {
        (2026, 45): 2,
        (2026, 46): 1,
    }
    assert {k: v.answered for k, v in grouped(calls, "month").items()} == {(2026, 11): 2}
    assert {k: v.answered for k, v in grouped(calls, "agent").items()} == {0: 0, 7: 1, 8: 1}
    assert {k: v.offered for k, v in grouped(calls, "hour").items()} == {9: 2, 10: 1}
    with pytest.raises(KeyError):
        grouped(calls, "planet")
