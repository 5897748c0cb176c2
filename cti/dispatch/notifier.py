"""The notifier: delivers the outbox (:class:`cti.store.companies.Notification`) and flags
overdue dispatches; a :class:`cti.service.Service` run by the ``api`` role.

Delivery never holds a transaction while it talks to the outside: a short transaction
claims the due rows (``FOR UPDATE SKIP LOCKED``, so several API processes share the work
without sending anything twice) and leases them (``next_attempt_at`` moved ahead by
:data:`LEASE_S`, so a crash mid-send retries later instead of losing the row); then every
claimed row is sent concurrently (email over SMTP with aiosmtplib, webhook with httpx and
a timeout); then one short transaction per row records ``sent``, or the error and the
next attempt (:func:`cti.dispatch.notify.next_attempt`), or ``failed`` after the last.
A receiver that hangs or answers 500 costs its retries, nothing else: the request that
dispatched committed long before.

Without an SMTP host email rows stay pending (sent once one is configured); webhooks are
delivered regardless.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import aiosmtplib
import httpx
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.bus import Bus
from cti.companies import rules
from cti.dispatch import notify
from cti.dispatch.service import flag_overdue
from cti.periodic import Metric, PeriodicWorker, metric_lines
from cti.service import Health
from cti.settings import Settings
from cti.store.companies import Company, Dispatch, Notification, NotificationStatus
from cti.store.counties import County
from cti.store.tickets import Ticket
from cti.store.users import Role, User

log = logging.getLogger(__name__)

#: Bus channel of messages to supervisors (overdue dispatches of their county).
SUPERVISORS_CHANNEL = "supervisors"
#: A claimed row is retried after this long if its process died while sending it.
LEASE_S = 300
BATCH = 50
MAX_ERROR = 500


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig | None:
        if not settings.smtp_host:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_user or None,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
        )


async def send_email(smtp: SmtpConfig, message: EmailMessage) -> None:
    """Send one message through the configured SMTP server (also the wallboard alerts')."""
    await aiosmtplib.send(
        message,
        hostname=smtp.host,
        port=smtp.port,
        username=smtp.username,
        password=smtp.password,
        start_tls=smtp.starttls,
        timeout=smtp.timeout_s,
    )


@dataclass(slots=True)
class _Claimed:
    id: int
    channel: str
    event: str
    payload: dict[str, Any]
    attempts: int
    company_name: str
    email: str
    webhook_url: str | None
    webhook_secret: str | None


class PermanentFailure(Exception):
    """Retrying cannot help (no address, a malformed URL): the row fails at once."""


class Notifier:
    name = "notifier"

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        smtp: SmtpConfig | None,
        bus: Bus | None = None,
        interval_s: float = 5.0,
        webhook_timeout_s: float = 5.0,
        overdue_interval_s: float = 60.0,
        overdue_email_to: tuple[str, ...] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        allow_local_webhooks: bool = False,
    ) -> None:
        self.session_factory = session_factory
        #: Only for tests and labs whose receiver runs on this machine.
        self.allow_local_webhooks = allow_local_webhooks
        self.smtp = smtp
        self.bus = bus
        self.webhook_timeout_s = webhook_timeout_s
        self.overdue_email_to = overdue_email_to
        self.clock = clock
        self.delivery = PeriodicWorker("notifier", self.deliver_due, interval_s=interval_s)
        self.overdue = PeriodicWorker(
            "notifier-overdue", self.check_overdue, interval_s=overdue_interval_s
        )
        self._http: httpx.AsyncClient | None = None
        self.sent = 0
        self.failed_attempts = 0
        self.gave_up = 0
        self.overdue_flagged = 0

    @property
    def interval_s(self) -> float:
        """How often a delivery round runs."""
        return self.delivery.interval_s

    @classmethod
    def from_settings(
        cls, settings: Settings, session_factory: async_sessionmaker[AsyncSession], bus: Bus
    ) -> Notifier:
        return cls(
            session_factory,
            smtp=SmtpConfig.from_settings(settings),
            bus=bus,
            interval_s=settings.notifier_interval_s,
            webhook_timeout_s=settings.webhook_timeout_s,
            overdue_interval_s=settings.overdue_interval_s,
            overdue_email_to=tuple(settings.overdue_email_to),
            allow_local_webhooks=settings.webhook_allow_local,
        )

    # --- the service --------------------------------------------------------------------

    async def start(self) -> None:
        if self.smtp is None:
            log.warning("no CTI_SMTP_HOST: companies get webhooks but no email")
        # Two rounds of their own: a slow overdue check never delays a delivery round.
        await self.delivery.start()
        await self.overdue.start()

    async def stop(self) -> None:
        await self.overdue.stop()
        await self.delivery.stop()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def health(self) -> Health:
        overdue = self.overdue.last_error
        health = self.delivery.health(
            {
                "smtp": self.smtp is not None,
                "sent": self.sent,
                "failed_attempts": self.failed_attempts,
                "gave_up": self.gave_up,
                "overdue_flagged": self.overdue_flagged,
                "overdue_last_error": overdue,
            }
        )
        health.ok = health.ok and overdue is None
        return health

    def metrics(self) -> list[str]:
        return metric_lines(
            [
                Metric(
                    "cti_notifications_sent_total",
                    "Company emails and webhooks delivered.",
                    self.sent,
                ),
                Metric(
                    "cti_notifications_failed_attempts_total",
                    "Delivery attempts that failed.",
                    self.failed_attempts,
                ),
                Metric(
                    "cti_notifications_given_up_total",
                    "Notifications failed after the last retry.",
                    self.gave_up,
                ),
            ]
        )

    # --- delivery -----------------------------------------------------------------------

    async def deliver_due(self, now: datetime | None = None) -> int:
        """Claim and send what is due at ``now``; returns how many were delivered."""
        now = now or self.clock()
        claimed = await self._claim(now)
        if not claimed:
            return 0
        outcomes = await asyncio.gather(
            *(self._send(row) for row in claimed), return_exceptions=True
        )
        delivered = 0
        for row, outcome in zip(claimed, outcomes, strict=True):
            await self._record(row, outcome, now)
            delivered += outcome is None
        return delivered

    async def _claim(self, now: datetime) -> list[_Claimed]:
        channels = ["webhook"] + (["email"] if self.smtp is not None else [])
        async with self.session_factory() as db, db.begin():
            rows = (
                await db.execute(
                    select(Notification, Company)
                    .join(Company, Company.id == Notification.company_id)
                    .where(
                        Notification.status == NotificationStatus.PENDING.value,
                        Notification.next_attempt_at <= now,
                        Notification.channel.in_(channels),
                    )
                    .order_by(Notification.next_attempt_at, Notification.id)
                    .limit(BATCH)
                    .with_for_update(of=Notification, skip_locked=True)
                )
            ).all()
            out = []
            for note, company in rows:
                note.next_attempt_at = now + timedelta(seconds=LEASE_S)
                out.append(
                    _Claimed(
                        id=note.id,
                        channel=note.channel,
                        event=note.event,
                        payload=note.payload,
                        attempts=note.attempts,
                        company_name=company.name,
                        email=company.email,
                        webhook_url=company.webhook_url,
                        webhook_secret=company.webhook_secret,
                    )
                )
        return out

    async def _send(self, row: _Claimed) -> None:
        if row.channel == "email":
            if not row.email:
                raise PermanentFailure("the company has no email address")
            try:
                message = notify.build_email(
                    row.payload,
                    to=row.email,
                    sender=self.smtp.sender if self.smtp else "",
                    display_name=row.company_name,
                )
            except ValueError as exc:
                raise PermanentFailure(f"cannot address the email: {exc}") from None
            await self.send_email(message)
            return
        await self.post_webhook(row)

    async def send_email(self, message: EmailMessage) -> None:
        assert self.smtp is not None
        await send_email(self.smtp, message)

    async def post_webhook(self, row: _Claimed) -> None:
        url = row.webhook_url or ""
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise PermanentFailure("the company has no http(s) webhook URL")
        if not row.webhook_secret:
            raise PermanentFailure("the company has no webhook secret to sign with")
        await self._check_destination(url)
        body = notify.webhook_body(row.payload)
        headers = notify.webhook_headers(
            row.webhook_secret, int(self.clock().timestamp()), body, row.event
        )
        if self._http is None:
            # No redirects: a receiver cannot bounce the signed body somewhere else.
            self._http = httpx.AsyncClient(timeout=self.webhook_timeout_s, trust_env=False)
        try:
            response = await self._http.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise TimeoutError(f"no answer within {self.webhook_timeout_s:g} s") from None
        if not 200 <= response.status_code < 300:
            raise RuntimeError(f"the receiver answered HTTP {response.status_code}")

    async def _check_destination(self, url: str) -> None:
        """Refuse (for good) a webhook whose host resolves, now, to an address of this
        machine or its link (:func:`cti.companies.rules.local_address`). The URL was
        checked when it was saved, but only by its text: a name can be made to resolve to
        127.0.0.1 or to the cloud's metadata address later. The HTTP client resolves the
        name again when it connects, so a name that changes its answer between the two
        look-ups in a second is not caught: that needs connecting to the address checked
        here (not done: TLS would then have to be verified against the name)."""
        if self.allow_local_webhooks:
            return
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except socket.gaierror as exc:  # perhaps for a moment: retried
            raise RuntimeError(f"cannot resolve {host}: {exc.strerror or exc}") from None
        for *_, sockaddr in found:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if rules.local_address(address):
                raise PermanentFailure(
                    f"the webhook's host {host} resolves to {address}, an address of this "
                    "machine or its link: not posted"
                )

    async def _record(self, row: _Claimed, outcome: BaseException | None, now: datetime) -> None:
        async with self.session_factory() as db, db.begin():
            note = await db.get(Notification, row.id, with_for_update=True)
            if note is None:
                return
            note.attempts = row.attempts + 1
            if outcome is None:
                note.status = NotificationStatus.SENT.value
                note.sent_at = self.clock()
                note.last_error = None
                self.sent += 1
                return
            self.failed_attempts += 1
            error = f"{type(outcome).__name__}: {outcome}"[:MAX_ERROR]
            note.last_error = error
            retry = (
                None
                if isinstance(outcome, PermanentFailure)
                else notify.next_attempt(note.attempts, now)
            )
            if retry is None:
                note.status = NotificationStatus.FAILED.value
                self.gave_up += 1
                log.warning("notification %s failed for good: %s", row.id, error)
            else:
                note.next_attempt_at = retry

    # --- overdue ------------------------------------------------------------------------

    async def check_overdue(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Flag the dispatches that became overdue and tell their county's supervisors (on
        the bus; by email to ``overdue_email_to`` when SMTP is set). Returns the messages."""
        now = now or self.clock()
        async with self.session_factory() as db, db.begin():
            flagged = await flag_overdue(db, now)
            messages = [await overdue_message(db, d, now) for d in flagged]
        self.overdue_flagged += len(messages)
        for message in messages:
            if self.bus is not None:
                try:
                    await self.bus.publish(SUPERVISORS_CHANNEL, message)
                except Exception:
                    log.exception("could not publish an overdue dispatch")
            if self.smtp is not None and self.overdue_email_to:
                try:
                    await self.send_email(self._overdue_email(message))
                except Exception:  # flagged already: the bus and the list still show it
                    log.exception("could not email an overdue dispatch")
        return messages

    def _overdue_email(self, message: dict[str, Any]) -> EmailMessage:
        assert self.smtp is not None
        email = notify.build_email(
            {**message, "event": "dispatch.overdue"},
            to=self.overdue_email_to[0],
            sender=self.smtp.sender,
        )
        if len(self.overdue_email_to) > 1:
            email["Cc"] = ", ".join(self.overdue_email_to[1:])
        return email


async def overdue_message(db: AsyncSession, dispatch: Dispatch, now: datetime) -> dict[str, Any]:
    """What the supervisors of the dispatch's county are told (``to``: their user ids;
    centre-wide supervisors included)."""
    ticket = await db.get(Ticket, dispatch.ticket_id)
    company = await db.get(Company, dispatch.company_id)
    county = await db.get(County, ticket.county_id) if ticket and ticket.county_id else None
    late_accept = dispatch.status == "offered"
    supervisors = (
        await db.scalars(
            select(User.id).where(
                User.role == Role.SUPERVISOR.value,
                User.active,
                or_(User.county_id.is_(None), User.county_id == (county.id if county else None)),
            )
        )
    ).all()
    due_by = dispatch.accept_by if late_accept else dispatch.finish_by
    return {
        "type": "dispatch_overdue",
        "dispatch_id": dispatch.id,
        "ticket": ticket.number if ticket else None,
        "county": county.code if county else None,
        "company": company.name if company else None,
        "late": "acceptance" if late_accept else "completion",
        "due_by": due_by.isoformat(),
        "flagged_at": now.isoformat(),
        "to": sorted(supervisors),
    }
