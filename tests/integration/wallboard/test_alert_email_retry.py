"""A wallboard alert email that fails is tried again with backoff (real Postgres for the
settings and the log, a real SMTP server, aiosmtpd, that says "try later" or refuses an
address), on the watch's clock: nothing before its time, once at it; a working address
is not emailed twice while another is retried; the last attempt gives up; an alert that
clears takes its waiting emails with it. The log's ``emailed`` counts what went.

The retry round is called directly (the periodic worker's own loop is the base's, tested
in ``tests/unit/test_periodic.py``); its interval is an hour so it never runs by itself
here."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select, update

from cti.dispatch.notifier import SmtpConfig
from cti.store.counties import County
from cti.store.users import User
from cti.wallboard.alerts import Change, Condition, Hysteresis
from cti.wallboard.email_retry import BACKOFF
from cti.wallboard.watch import AlertWatch
from tests.integration.smtp import running
from tests.integration.wallboard.test_alerts import _alerts, _last_id, _supervisor

pytestmark = pytest.mark.asyncio

T0 = 1_800_000_000.0


class FlakyInbox:
    """Answers "451 try later" to the first ``fail_first`` messages, refuses the
    addresses in ``refused`` for good, takes the rest."""

    def __init__(self) -> None:
        self.fail_first = 0
        self.refused: set[str] = set()
        self.delivered: list[str] = []
        self.attempts = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refused:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.attempts += 1
        if self.fail_first > 0:
            self.fail_first -= 1
            return "451 4.3.0 try later"
        self.delivered += envelope.rcpt_tos
        return "250 OK"


@pytest.fixture
def flaky_smtp():
    inbox = FlakyInbox()
    with running(inbox) as port:
        yield inbox, SmtpConfig("127.0.0.1", port, "hotline@example.org", starttls=False)


@pytest.fixture
async def north_supervisors(session_factory, make_user, north_alerts):
    """Adds north supervisors with an address; for the test they are north's only ones
    with one (the database is shared by the run), and afterwards they have none."""
    async with session_factory() as db, db.begin():
        north = select(County.id).where(County.code == "north").scalar_subquery()
        others = dict(
            (
                await db.execute(
                    select(User.id, User.email).where(
                        User.county_id == north, User.email.is_not(None)
                    )
                )
            ).all()
        )
        await db.execute(update(User).where(User.id.in_(others)).values(email=None))
    made: list[str] = []

    async def add(address: str) -> None:
        made.append(await _supervisor(session_factory, make_user, "north", address))

    try:
        yield add
    finally:
        async with session_factory() as db, db.begin():
            await db.execute(update(User).where(User.username.in_(made)).values(email=None))
            for user_id, address in others.items():
                await db.execute(update(User).where(User.id == user_id).values(email=address))


@pytest.fixture
def now() -> list[float]:
    return [T0]


@pytest.fixture
async def watch(session_factory, flaky_smtp, north_alerts, now):
    watch = AlertWatch(
        session_factory,
        smtp=flaky_smtp[1],
        hysteresis=Hysteresis(raise_after_s=0, clear_after_s=0, renotify_after_s=600),
        clock=lambda: now[0],
        email_retry_check_s=3600,
    )
    await watch.start()
    try:
        yield watch
    finally:
        await watch.stop()


async def _happen(watch: AlertWatch, state: str, at: float) -> None:
    watch._jobs.put_nowait(Change("north", "waiting", state, T0, Condition(3, 0), True, at))
    await watch._jobs.join()


async def test_a_failed_alert_email_is_sent_at_its_retry_and_counted(
    watch, now, flaky_smtp, session_factory, north_supervisors, north_alerts
):
    inbox, _ = flaky_smtp
    address = f"north-{secrets.token_hex(3)}@example.org"
    await north_supervisors(address)
    since = await _last_id(session_factory)
    inbox.fail_first = 1

    await _happen(watch, "raised", now[0])
    assert inbox.delivered == [] and len(watch.retries) == 1
    assert watch.health().detail["emails_waiting"] == 1
    now[0] = T0 + BACKOFF.delays_s[0] - 1
    assert await watch.retry_emails() == 0 and inbox.attempts == 1  # not yet
    now[0] = T0 + BACKOFF.delays_s[0]
    assert await watch.retry_emails() == 1
    assert inbox.delivered == [address] and len(watch.retries) == 0
    assert await watch.retry_emails() == 0 and inbox.delivered == [address]  # once
    (row,) = await _alerts(session_factory, north_alerts, since)
    assert row.emailed == 1
    text = "\n".join(watch.metrics())
    assert "cti_wallboard_alert_email_failures_total 1" in text
    assert "cti_wallboard_alert_emails_total 1" in text


async def test_a_refused_address_is_retried_to_the_end_and_the_other_emailed_once(
    watch, now, flaky_smtp, session_factory, north_supervisors, north_alerts
):
    inbox, _ = flaky_smtp
    tag = secrets.token_hex(3)
    good, bad = f"good-{tag}@example.org", f"bad-{tag}@example.org"
    await north_supervisors(good)
    await north_supervisors(bad)
    inbox.refused.add(bad)
    since = await _last_id(session_factory)

    await _happen(watch, "raised", now[0])
    assert inbox.delivered == [good]
    for wait in BACKOFF.delays_s:
        now[0] += wait
        assert await watch.retry_emails() == 0
    assert len(watch.retries) == 0 and watch.retries.gave_up == 1
    assert watch.email_failures == BACKOFF.max_attempts
    assert inbox.delivered == [good], "the working address was not emailed again"
    (row,) = await _alerts(session_factory, north_alerts, since)
    assert row.emailed == 1
    assert "cti_wallboard_alert_emails_given_up_total 1" in "\n".join(watch.metrics())


async def test_an_alert_that_clears_is_not_emailed_late(
    watch, now, flaky_smtp, session_factory, north_supervisors, north_alerts
):
    inbox, _ = flaky_smtp
    await north_supervisors(f"n-{secrets.token_hex(3)}@example.org")
    inbox.fail_first = 1
    await _happen(watch, "raised", now[0])
    assert len(watch.retries) == 1
    now[0] = T0 + 10
    await _happen(watch, "cleared", now[0])
    assert len(watch.retries) == 0 and watch.retries.dropped == 1
    now[0] = T0 + 3600
    assert await watch.retry_emails() == 0 and inbox.delivered == []
