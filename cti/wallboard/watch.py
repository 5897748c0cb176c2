"""The wallboard alerts' edge on the AMI side: reads each county's wallboard settings
(``county_service_levels``: the service-level N the board counts with, the alert
thresholds, email or not) and opening hours (the routing rules), checks the board
against them (``cti.wallboard.alerts``, pure), and for each alert raised or cleared
returns the delta the publisher sends, logs it in ``wallboard_alerts`` and emails a raised
one to the county's supervisors (those assigned to it, with an address) when the county
asks for it and the cooldown allows.

The database and the SMTP server are used by one worker task behind a queue, never in the
publisher's way. An email that fails is tried again with backoff, per address, by a
periodic worker (``cti.wallboard.email_retry``; in memory only, which that module says
why), until it is sent, its alert clears or the last attempt failed. Settings are re-read
every ``refresh_s`` and at once when the county page saves (bus channel
``wallboard_settings``). After a restart the alerts still open in the log are taken back:
not raised, logged or emailed a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.bus import Bus
from cti.dispatch.notifier import SmtpConfig, send_email
from cti.dispatch.notify import header_text
from cti.periodic import Metric, PeriodicWorker, metric_lines
from cti.routing.decide import is_open
from cti.routing.repo import load_rules
from cti.routing.rules import CountyPolicy
from cti.service import Health
from cti.stats.queries import Period, rollup_facts
from cti.store.callbacks import CallbackRequest, CallbackStatus
from cti.store.counties import County
from cti.store.reports import CountyServiceLevel
from cti.store.users import Role, User
from cti.store.wallboard import WallboardAlert
from cti.wallboard.alerts import (
    AlertTracker,
    Change,
    Condition,
    CountyView,
    Hysteresis,
    Thresholds,
    active_alerts,
)
from cti.wallboard.board import DEFAULT_SL_S, Board, utc_day
from cti.wallboard.email_retry import AlertEmail, RetryQueue
from cti.wallboard.today import TodayFigures, today_figures

log = logging.getLogger(__name__)

SETTINGS_CHANNEL = "wallboard_settings"
REFRESH_S = 60.0
#: How often failed alert emails are looked at for one due again.
EMAIL_RETRY_CHECK_S = 5.0
#: Every alert off (a county the check can skip).
OFF = Thresholds()


@dataclass(frozen=True, slots=True)
class CountyConfig:
    id: int
    name: str
    sl_s: int
    thresholds: Thresholds


async def load_config(db: AsyncSession) -> dict[str, CountyConfig]:
    """Every county in service, with its wallboard settings (defaults without a row)."""
    rows = await db.execute(
        select(County, CountyServiceLevel)
        .outerjoin(CountyServiceLevel, CountyServiceLevel.county_id == County.id)
        .where(County.retired_at.is_(None))
    )
    out: dict[str, CountyConfig] = {}
    for county, level in rows:
        limits = (
            Thresholds(
                level.alert_waiting_above,
                level.alert_longest_wait_s,
                level.alert_no_agent,
                level.alert_email,
            )
            if level
            else Thresholds()
        )
        out[county.code] = CountyConfig(
            county.id, county.name, level.answer_within_s if level else DEFAULT_SL_S, limits
        )
    return out


def alert_email(change: Change, county_name: str, *, sender: str, to: str) -> EmailMessage:
    """The email of one raised alert (names cleaned of control characters)."""
    delta = change.delta()
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = header_text(f"Wallboard alert, {county_name}: {delta['text']}")
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="hotline.invalid")
    raised = datetime.fromtimestamp(change.raised_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    message.set_content(
        f"{county_name}: {delta['text']}.\nRaised at {raised}.\n\n"
        "The wallboard (/supervisor) shows it until it clears.\n"
    )
    return message


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class AlertWatch:
    """A ``cti.service.Service`` of the AMI side; the publisher calls :meth:`check`."""

    name = "wallboard-alerts"

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        bus: Bus | None = None,
        smtp: SmtpConfig | None = None,
        hysteresis: Hysteresis | None = None,
        refresh_s: float = REFRESH_S,
        clock: Callable[[], float] = time.time,
        retries: RetryQueue | None = None,
        email_retry_check_s: float = EMAIL_RETRY_CHECK_S,
    ) -> None:
        self._session_factory = session_factory
        self._bus = bus
        self._smtp = smtp
        self._refresh_s = refresh_s
        self._clock = clock
        self.tracker = AlertTracker(hysteresis or Hysteresis())
        self.config: dict[str, CountyConfig] = {}
        self._policies: dict[str, CountyPolicy] = {}
        self._rows: dict[tuple[str, str], int] = {}
        self._jobs: asyncio.Queue[Change] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._reload = asyncio.Event()
        self.retries = retries or RetryQueue()
        self.email_retry = PeriodicWorker(
            "wallboard-alert-email", self.retry_emails, interval_s=email_retry_check_s
        )
        self.raised = 0
        self.emailed = 0
        self.email_failures = 0
        self.last_error: str | None = None

    # --- what the board and the publisher ask ---------------------------------------------

    def sl_of(self, county: str) -> int:
        config = self.config.get(county)
        return config.sl_s if config else DEFAULT_SL_S

    def is_open(self, county: str, now: float) -> bool:
        policy = self._policies.get(county)
        return True if policy is None else is_open(policy, _at(now))[0]

    def check(self, board: Board) -> list[dict[str, Any]]:
        """The alert deltas the board causes now; logging and email are queued."""
        now = self._clock()
        views = {}
        for county, config in self.config.items():
            if config.thresholds == OFF:
                continue
            view = board.view(county)
            if view is not None:
                views[county] = CountyView(*view)
        thresholds = {code: c.thresholds for code, c in self.config.items() if code in views}
        changes = self.tracker.step(active_alerts(views, thresholds, self.is_open, now), now)
        for change in changes:
            self.raised += change.state == "raised"
            self._jobs.put_nowait(change)
        return [c.delta() for c in changes]

    def snapshot(self) -> list[dict[str, Any]]:
        """The raised alerts as deltas (for a hub that asks for the whole board)."""
        return [c.delta() for c in self.tracker.active()]

    # --- the database and email -----------------------------------------------------------

    async def load(self) -> None:
        async with self._session_factory() as db:
            self.config = await load_config(db)
            rules = await load_rules(db)
        self._policies = {p.county: p for p in rules.counties if p.has_hours}

    async def today(self) -> tuple[str, dict[str, TodayFigures]]:
        """Today (UTC, the board's day) and each county's figures from the call rows."""
        now = self._clock()
        day = utc_day("", now)
        start = _at(now).date()
        async with self._session_factory() as db:
            facts = await rollup_facts(
                db, Period(start, start + timedelta(days=1)), None, days=False
            )
        codes = {c.id: code for code, c in self.config.items()}
        return day, today_figures(facts, codes, self.sl_of)

    async def open_callbacks(self) -> dict[str, int]:
        """Open callback requests per county in service (0 for none)."""
        async with self._session_factory() as db:
            rows = await db.execute(
                select(CallbackRequest.county_id, func.count())
                .where(CallbackRequest.status == CallbackStatus.OPEN.value)
                .group_by(CallbackRequest.county_id)
            )
            counts = dict(rows.all())
        return {code: counts.get(c.id, 0) for code, c in self.config.items()}

    async def _adopt(self) -> None:
        async with self._session_factory() as db:
            rows = await db.execute(
                select(WallboardAlert, County.code)
                .join(County, County.id == WallboardAlert.county_id)
                .where(WallboardAlert.cleared_at.is_(None))
            )
            for alert, code in rows:
                self.tracker.adopt(
                    code,
                    alert.kind,
                    alert.raised_at.timestamp(),
                    Condition(alert.value, alert.threshold),
                )
                self._rows[(code, alert.kind)] = alert.id

    async def _record(self, change: Change) -> None:
        key = (change.county, change.kind)
        config = self.config.get(change.county)
        async with self._session_factory() as db, db.begin():
            if change.state == "cleared":
                self.retries.drop(change.county, change.kind)
                row_id = self._rows.pop(key, None)
                if row_id is not None:
                    await db.execute(
                        update(WallboardAlert)
                        .where(WallboardAlert.id == row_id)
                        .values(cleared_at=_at(change.at))
                    )
                return
            if config is None:
                return
            alert = WallboardAlert(
                county_id=config.id,
                kind=change.kind,
                raised_at=_at(change.raised_at),
                value=change.condition.value,
                threshold=change.condition.threshold,
            )
            db.add(alert)
            await db.flush()
            self._rows[key] = alert.id
        if change.notify and config.thresholds.email and self._smtp is not None:
            sent = 0
            for address in await self._addresses(config):
                sent += await self._send(AlertEmail(alert.id, change, config.name, address))
            await self._count_emailed(alert.id, sent)

    async def _count_emailed(self, alert_id: int, sent: int) -> None:
        if sent:
            async with self._session_factory() as db, db.begin():
                await db.execute(
                    update(WallboardAlert)
                    .where(WallboardAlert.id == alert_id)
                    .values(emailed=WallboardAlert.emailed + sent)
                )

    async def _addresses(self, config: CountyConfig) -> list[str]:
        """The county's own supervisors' addresses (active, with one)."""
        async with self._session_factory() as db:
            addresses = (
                await db.scalars(
                    select(User.email)
                    .where(
                        User.role == Role.SUPERVISOR.value,
                        User.active,
                        User.county_id == config.id,
                        User.email.is_not(None),
                    )
                    .order_by(User.id)
                )
            ).all()
        return [a for a in addresses if a]

    async def _send(self, email: AlertEmail) -> int:
        """1 when ``email`` went; else 0, and it waits in :attr:`retries` (or was the last
        attempt). One bad address stops no other."""
        assert self._smtp is not None
        try:
            message = alert_email(
                email.change, email.county_name, sender=self._smtp.sender, to=email.address
            )
        except ValueError as exc:  # an address no retry can mend
            self.email_failures += 1
            self.retries.gave_up += 1
            log.warning("wallboard alert email cannot be addressed: %s", exc)
            return 0
        try:
            await send_email(self._smtp, message)
        except Exception as exc:
            self.email_failures += 1
            error = f"{type(exc).__name__}: {exc}"
            self.last_error = f"email to a supervisor failed: {type(exc).__name__}"
            again = self.retries.failed(email, self._clock(), error)
            if again is None:
                log.warning(
                    "wallboard alert email given up after %d attempts: %s",
                    email.attempts + 1,
                    error,
                )
            else:
                log.warning(
                    "wallboard alert email not sent (attempt %d): %s", again.attempts, error
                )
            return 0
        self.emailed += 1
        return 1

    async def retry_emails(self) -> int:
        """Send the failed alert emails that are due again; how many went."""
        sent: dict[int, int] = {}
        for email in self.retries.take_due(self._clock()):
            if self._smtp is None or self._rows.get(email.key) != email.alert_id:
                self.retries.dropped += 1  # cleared while it was being sent
                continue
            sent[email.alert_id] = sent.get(email.alert_id, 0) + await self._send(email)
        for alert_id, count in sent.items():
            await self._count_emailed(alert_id, count)
        return sum(sent.values())

    async def _worker(self) -> None:
        while True:
            change = await self._jobs.get()
            try:
                await self._record(change)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database away: the board still shows it
                self.last_error = str(exc)[:200]
                log.exception("wallboard alert not logged")
            finally:
                self._jobs.task_done()

    async def _refresh_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reload.wait(), self._refresh_s)
            self._reload.clear()
            try:
                await self.load()
            except Exception as exc:
                self.last_error = str(exc)[:200]
                log.exception("wallboard settings not re-read")

    async def _settings_loop(self) -> None:
        assert self._bus is not None
        subscription = await self._bus.subscribe(SETTINGS_CHANNEL)
        try:
            async for _message in subscription:
                self._reload.set()
        finally:
            subscription.close()

    # --- the service ----------------------------------------------------------------------

    async def start(self) -> None:
        await self.load()
        await self._adopt()
        self._tasks = [
            asyncio.create_task(self._worker(), name="wallboard-alerts-log"),
            asyncio.create_task(self._refresh_loop(), name="wallboard-alerts-settings"),
        ]
        await self.email_retry.start()
        if self._bus is not None:
            self._tasks.append(
                asyncio.create_task(self._settings_loop(), name="wallboard-alerts-bus")
            )

    async def stop(self) -> None:
        # What is still queued is logged before stopping (a short wait at most).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drain(), 5.0)
        await self.email_retry.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self.retries:
            log.warning(
                "%d wallboard alert emails not sent are lost with this stop (kept in memory)",
                len(self.retries),
            )

    async def _drain(self) -> None:
        if self._tasks:
            await self._jobs.join()

    def health(self) -> Health:
        running = bool(self._tasks) and not any(t.done() for t in self._tasks)
        return Health(
            running and self.email_retry.running,
            {
                "counties": len(self.config),
                "active": len(self.tracker.active()),
                "emails_waiting": len(self.retries),
                "last_error": self.last_error,
            },
        )

    def metrics(self) -> list[str]:
        return metric_lines(
            [
                Metric(
                    "cti_wallboard_alerts_raised_total", "Wallboard alerts raised.", self.raised
                ),
                Metric(
                    "cti_wallboard_alert_emails_total", "Wallboard alert emails sent.", self.emailed
                ),
                Metric(
                    "cti_wallboard_alert_email_failures_total",
                    "Wallboard alert email attempts that failed.",
                    self.email_failures,
                ),
                Metric(
                    "cti_wallboard_alert_emails_waiting",
                    "Failed wallboard alert emails waiting to be tried again.",
                    len(self.retries),
                    "gauge",
                ),
                Metric(
                    "cti_wallboard_alert_emails_given_up_total",
                    "Wallboard alert emails failed after the last attempt.",
                    self.retries.gave_up,
                ),
            ]
        )


async def settings_changed(bus: Bus) -> None:
    """Tell the AMI side to re-read the wallboard settings (the county page saved)."""
    await bus.publish(SETTINGS_CHANNEL, {"type": "settings_changed"})
