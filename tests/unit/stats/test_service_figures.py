"""Every service figure from hand-built tickets, jobs and revisits, with the expected
numbers written out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cti.stats.service_figures import (
    JobFact,
    RevisitFact,
    TicketFact,
    UpheldComplaint,
    durations,
    service_figures,
)
from cti.stats.service_report import build

SINCE, UNTIL = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
NORTH, SOUTH = 1, 2
PLUMBING, POWER, INFO = 10, 11, 12
ACME, BOLT = 100, 200
H = timedelta(hours=1)


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


#: November: five tickets, one of October, one of December.
TICKETS = [
    # 1: a leak, phoned in, dispatched after 1 h to ACME, accepted 2 h later, done 5 h later
    TicketFact(1, at(2), NORTH, PLUMBING, "phone", "revisited", first_dispatch_at=at(2, 10)),
    # 2: power cut by SMS, dispatched after 3 h to BOLT, declined, re-dispatched to ACME
    TicketFact(2, at(3), NORTH, POWER, "sms", "done", first_dispatch_at=at(3, 12)),
    # 3: a question answered on the call with a knowledge article
    TicketFact(3, at(4), SOUTH, INFO, "phone", "answered", answered=True, with_article=True),
    # 4: a question answered on the call without an article
    TicketFact(4, at(5), SOUTH, INFO, "web", "closed", answered=True),
    # 5: new, nobody did anything yet; no county, no category
    TicketFact(5, at(30, 23), 0, 0, "walk_in", "new"),
    # outside the period: not counted
    TicketFact(6, datetime(2026, 10, 31, 23, tzinfo=UTC), NORTH, PLUMBING, "phone", "new"),
    TicketFact(7, UNTIL, NORTH, PLUMBING, "phone", "new"),
]
JOBS = [
    # ticket 1 / ACME: accepted 2 h after dispatch, done 5 h after acceptance, in time
    JobFact(1, ACME, NORTH, at(2, 10), finish_by=at(3), accepted_at=at(2, 12), done_at=at(2, 17)),
    # ticket 2 / BOLT: declined 1 h after the offer
    JobFact(2, BOLT, NORTH, at(3, 12), finish_by=at(4), declined=True),
    # ticket 2 / ACME: accepted after 6 h, done 20 h later: late (finish_by was 12 h after)
    JobFact(
        2, ACME, NORTH, at(3, 14), finish_by=at(4, 2), accepted_at=at(3, 20), done_at=at(4, 16)
    ),
    # an October job done in November: counts for coverage only (done in the period)
    JobFact(
        6,
        BOLT,
        NORTH,
        datetime(2026, 10, 31, 23, 30, tzinfo=UTC),
        finish_by=at(2),
        accepted_at=datetime(2026, 10, 31, 23, 45, tzinfo=UTC),
        done_at=at(1, 8),
    ),
]
REVISITS = [
    # ticket 1 revisited the next day: 4/5 for ACME
    RevisitFact(1, ACME, NORTH, at(3, 10), 4),
    # ticket 6 (BOLT's October job) revisited 9 days after done: outside a 7-day window
    RevisitFact(6, BOLT, NORTH, at(10), 2),
    # ticket 2 revisited in December, within 7 days of done (4 Nov)? No: 30 days later.
    RevisitFact(2, ACME, NORTH, datetime(2026, 12, 4, tzinfo=UTC), 5),
]
COMPLAINTS = [
    UpheldComplaint(BOLT, NORTH, at(11)),
    UpheldComplaint(BOLT, NORTH, datetime(2026, 10, 20, tzinfo=UTC)),  # October: not counted
]


def figures(days: int = 7):
    return service_figures(TICKETS, JOBS, REVISITS, COMPLAINTS, SINCE, UNTIL, days)


def test_tickets_are_counted_by_category_channel_county_and_status():
    f = figures()
    assert f.tickets == 5
    assert f.by_category == {0: 1, PLUMBING: 1, POWER: 1, INFO: 2}
    assert f.by_channel == {"phone": 2, "sms": 1, "walk_in": 1, "web": 1}
    assert f.by_county == {0: 1, NORTH: 2, SOUTH: 2}
    assert f.by_status == {"answered": 1, "closed": 1, "done": 1, "new": 1, "revisited": 1}


def test_the_three_times_are_each_partys_step():
    f = figures()
    # to dispatch: ticket 1 1 h, ticket 2 3 h (the first dispatch, to BOLT)
    assert (f.to_dispatch.count, f.to_dispatch.avg_s, f.to_dispatch.p90_s) == (2, 7200, 10800)
    # to accept: November jobs accepted: 2 h (ticket 1), 6 h (ticket 2 by ACME)
    assert (f.to_accept.count, f.to_accept.avg_s, f.to_accept.p90_s) == (2, 4 * 3600, 6 * 3600)
    # to finish: 5 h (ticket 1), 20 h (ticket 2); the October job is not of the period
    assert (f.to_finish.count, f.to_finish.avg_s, f.to_finish.p90_s) == (
        2,
        12.5 * 3600,
        20 * 3600,
    )


def test_companies_jobs_on_time_satisfaction_and_complaints():
    f = figures()
    acme, bolt = f.companies[ACME], f.companies[BOLT]
    assert (acme.jobs, acme.declined, acme.done, acme.on_time) == (2, 0, 2, 1)
    assert acme.on_time_share == 50.0
    assert (acme.revisits, acme.satisfaction) == (1, 4.0)  # the December revisit is not
    assert acme.complaints_upheld == 0
    # BOLT: one November job, declined; its October job is not a November job; its
    # November revisit (2/5) of that job does count for its satisfaction
    assert (bolt.jobs, bolt.declined, bolt.done, bolt.on_time, bolt.on_time_share) == (
        1,
        1,
        0,
        0,
        None,
    )
    assert (bolt.revisits, bolt.satisfaction, bolt.complaints_upheld) == (1, 2.0, 1)


def test_revisit_coverage_counts_done_jobs_revisited_within_n_days():
    # done in November: ticket 1 (1 Nov 17 h... 2 Nov), ticket 2 (4 Nov), ticket 6 (1 Nov)
    f = figures(7)
    assert (f.done, f.revisited) == (3, 1)  # only ticket 1 within 7 days
    assert f.revisit_coverage == pytest.approx(100 / 3)
    wide = figures(30)
    assert (wide.done, wide.revisited) == (3, 3)  # 6 after 9 days, 2 after 29.x days
    assert figures(0).revisited == 0
    with pytest.raises(ValueError):
        figures(-1)


def test_information_tickets_answered_with_an_article():
    f = figures()
    assert (f.information, f.with_article, f.article_share) == (2, 1, 50.0)


def test_nothing_in_the_period_gives_zeroes_and_no_shares():
    f = service_figures([], [], [], [], SINCE, UNTIL)
    assert (f.tickets, f.done, f.information) == (0, 0, 0)
    assert (f.revisit_coverage, f.article_share, f.to_dispatch.avg_s) == (None, None, None)
    assert f.companies == {}


def test_durations_take_the_percentile_to_the_minute_and_clamp_skew():
    d = durations([61, 179.9, 600, -5, 3599])
    assert d.count == 5 and d.avg_s == pytest.approx((61 + 179.9 + 600 + 0 + 3599) / 5)
    assert d.p90_s == 59 * 60  # minutes [0, 1, 2, 10, 59]: rank ceil(4.5) = 5
    assert durations([61, 119, 120]).p90_s == 120  # minutes [1, 1, 2]: rank 3


def test_the_report_labels_and_totals_every_table():
    hostile = '=HYPERLINK("x")<script>'
    names = {
        "category": {PLUMBING: "Plumbing", POWER: hostile},
        "county": {NORTH: "North"},
        "company": {ACME: "Acme"},
    }
    report = build("Service November 2026", figures(), names)
    category = report.table("category")
    assert category.rows == [["(none)", 1], ["Plumbing", 1], [hostile, 1], ["#12", 2], ["total", 5]]
    assert report.table("county").rows[-1] == ["total", 5]
    times = report.table("times").rows
    assert times[0][1:] == [2, 2.0, 3.0]  # hours
    companies = report.table("companies").rows
    assert companies[0] == ["Acme", 2, 0, 2, 1, 50.0, 1, 4.0, 0]
    assert companies[1][0] == "#200"
    assert report.table("coverage").rows == [[3, 1, 33.3]]
    assert report.table("knowledge").rows == [[2, 1, 50.0]]
