"""Wallboard alert emails that failed, waiting for their next attempt: pure, in memory,
fed the failures and the clock (``cti.wallboard.watch`` sends, this decides when again).

One entry is one alert to one supervisor's address, so an address that works is never
sent the alert twice while another is retried. An entry is retried with
:data:`BACKOFF` (a raised alert is news for minutes, not hours) and dropped when its alert
clears (an email saying it is raised would then be wrong) or after the last attempt.

Not durable: the retries live in the AMI process. ``wallboard_alerts`` records how many
supervisors an alert was emailed to (``emailed``), not that an email was due, to whom it
failed, its attempts or when to try again, so a restart cannot tell a failed email from
one never asked for (the county may not want email, the cooldown may have held it). Making
it durable needs a migration: an ``alert_emails`` outbox (alert, address, status,
attempts, next_attempt_at, last_error) written in the transaction that logs the alert and
claimed like ``sms_outbox`` (``docs/DESIGN.md``, Alerts).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from cti.periodic import Backoff
from cti.wallboard.alerts import Change

#: Waits before the 2nd, 3rd... attempt of one alert email (about 18 minutes in all).
BACKOFF = Backoff((30, 60, 120, 300, 600))
MAX_ERROR = 200


@dataclass(frozen=True, slots=True)
class AlertEmail:
    """One raised alert to one address: what is needed to send it again."""

    alert_id: int  # its wallboard_alerts row
    change: Change
    county_name: str
    address: str
    attempts: int = 0  # failed so far
    due_at: float = 0.0
    last_error: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.change.county, self.change.kind)


class RetryQueue:
    """The alert emails waiting to be tried again, and what became of the others."""

    def __init__(self, backoff: Backoff = BACKOFF) -> None:
        self.backoff = backoff
        self._waiting: list[AlertEmail] = []
        self.retried = 0
        self.gave_up = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._waiting)

    def waiting(self) -> list[AlertEmail]:
        return sorted(self._waiting, key=lambda e: (e.due_at, e.alert_id, e.address))

    def failed(self, email: AlertEmail, now: float, error: str) -> AlertEmail | None:
        """Record a failed attempt: the entry as rescheduled, or None when that was the
        last attempt (given up)."""
        attempts = email.attempts + 1
        wait = self.backoff.wait_after(attempts)
        if wait is None:
            self.gave_up += 1
            return None
        again = replace(email, attempts=attempts, due_at=now + wait, last_error=error[:MAX_ERROR])
        self._waiting.append(again)
        return again

    def take_due(self, now: float) -> list[AlertEmail]:
        """The entries due at ``now``, earliest first, no longer waiting (a failure puts
        one back through :meth:`failed`)."""
        due = [e for e in self.waiting() if e.due_at <= now]
        self._waiting = [e for e in self._waiting if e.due_at > now]
        self.retried += len(due)
        return due

    def drop(self, county: str, kind: str) -> int:
        """Forget the emails of an alert that cleared; how many were waiting."""
        kept = [e for e in self._waiting if e.key != (county, kind)]
        dropped = len(self._waiting) - len(kept)
        self._waiting = kept
        self.dropped += dropped
        return dropped
