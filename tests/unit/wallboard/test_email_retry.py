"""Failed wallboard alert emails waiting for their next attempt (pure): the backoff per
address, what is due when, the last attempt, and an alert that clears meanwhile."""

from __future__ import annotations

from dataclasses import replace

from cti.periodic import Backoff
from cti.wallboard.alerts import Change, Condition
from cti.wallboard.email_retry import BACKOFF, AlertEmail, RetryQueue

T0 = 1_800_000_000.0


def email(address: str, county: str = "north", kind: str = "waiting", alert_id: int = 1):
    change = Change(county, kind, "raised", T0, Condition(3, 2), True, T0)
    return AlertEmail(alert_id, change, "North County", address)


def test_a_failed_email_waits_for_the_backoff_then_is_due_once():
    queue = RetryQueue(Backoff((30, 60)))
    again = queue.failed(email("a@example.org"), T0, "SMTPDataError: 451 later")
    assert again is not None and (again.attempts, again.due_at) == (1, T0 + 30)
    assert again.last_error == "SMTPDataError: 451 later"
    assert queue.take_due(T0 + 29.9) == [] and len(queue) == 1
    assert queue.take_due(T0 + 30) == [again]
    assert len(queue) == 0 and queue.take_due(T0 + 1000) == []
    second = queue.failed(again, T0 + 30, "again")
    assert (second.attempts, second.due_at) == (2, T0 + 90)
    assert queue.failed(queue.take_due(T0 + 90)[0], T0 + 90, "and again") is None
    assert (len(queue), queue.gave_up, queue.retried) == (0, 1, 2)


def test_each_address_has_its_own_schedule_and_due_ones_come_earliest_first():
    queue = RetryQueue(Backoff((30, 60)))
    late = queue.failed(replace(email("b@example.org"), attempts=1), T0, "x")  # its 2nd
    early = queue.failed(email("a@example.org"), T0 + 10, "x")
    assert [e.address for e in queue.waiting()] == ["a@example.org", "b@example.org"]
    assert queue.take_due(T0 + 40) == [early]
    assert queue.take_due(T0 + 60) == [late]


def test_an_alert_that_clears_takes_its_waiting_emails_with_it():
    queue = RetryQueue()
    queue.failed(email("a@example.org"), T0, "x")
    queue.failed(email("b@example.org"), T0, "x")
    queue.failed(email("a@example.org", kind="no_agent", alert_id=2), T0, "x")
    queue.failed(email("a@example.org", county="south", alert_id=3), T0, "x")
    assert queue.drop("north", "waiting") == 2
    assert [(e.change.county, e.change.kind) for e in queue.waiting()] == [
        ("north", "no_agent"),
        ("south", "waiting"),
    ]
    assert queue.dropped == 2 and queue.drop("north", "waiting") == 0


def test_the_default_backoff_is_minutes_not_hours():
    assert BACKOFF.max_attempts == 6 and sum(BACKOFF.delays_s) <= 20 * 60


def test_a_long_error_is_cut():
    again = RetryQueue().failed(email("a@example.org"), T0, "x" * 5000)
    assert len(again.last_error) == 200
