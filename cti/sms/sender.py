"""The SMS sender: delivers the outbox (:class:`cti.store.sms.SmsOutbox`) to the gateway;
a :class:`cti.service.Service` run by the ``api`` role, built like the companies' notifier
(:mod:`cti.dispatch.notifier`).

A short transaction claims the due rows (``FOR UPDATE SKIP LOCKED``, so several API
processes share the work) and leases them; on a row's first claim it decides whom to text
(the citizen's first mobile number, else the number whose text opened the ticket) and
what (``cti.sms.texts``), and every time it checks the number has not texted STOP
(``suppressed``) . Then each row is posted, signed (``cti.sms.signature``), with a
timeout; then one short transaction per row records ``sent``, or the error and the next
attempt (the notifier's backoff), or ``failed``. No request ever waits for the gateway.

Without a gateway URL nothing is claimed: rows stay ``pending`` (``/healthz`` and
``GET /api/sms/outbox`` show them) and go once a gateway is configured.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.dispatch.notify import next_attempt
from cti.periodic import Metric, PeriodicWorker, metric_lines
from cti.service import Health
from cti.settings import Settings
from cti.sms import signature, texts
from cti.sms.config import mobile_pattern
from cti.store.citizens import CitizenPhone
from cti.store.sms import OutboxStatus, SmsInbound, SmsOptOut, SmsOutbox
from cti.store.tickets import Ticket

log = logging.getLogger(__name__)

LEASE_S = 300
BATCH = 50
MAX_ERROR = 500
#: Gateway answers that retrying cannot change (a malformed request, a refused number);
#: 408 and 429 are "later", and every other failure is retried with backoff.
PERMANENT_STATUSES = frozenset(range(400, 500)) - {408, 429}


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    url: str
    secret: str = field(repr=False)
    timeout_s: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewayConfig | None:
        secret = settings.sms_gateway_secret or settings.sms_webhook_secret
        if not settings.sms_gateway_url or secret is None or not secret.get_secret_value():
            return None
        return cls(
            settings.sms_gateway_url, secret.get_secret_value(), settings.sms_gateway_timeout_s
        )


@dataclass(slots=True)
class _Claimed:
    id: int
    kind: str
    ticket: str
    recipient: str
    text: str
    attempts: int


class PermanentFailure(Exception):
    """The gateway refused the message in a way retrying cannot help."""


async def recipient_for(db: AsyncSession, ticket: Ticket, pattern: re.Pattern[str]) -> str | None:
    """Whom a text about ``ticket`` goes to: its citizen's first mobile number, else the
    number of the text that opened it (``cti.numbers`` keys), else None."""
    keys: list[str] = []
    if ticket.citizen_id is not None:
        keys += (
            await db.scalars(
                select(CitizenPhone.number)
                .where(CitizenPhone.citizen_id == ticket.citizen_id)
                .order_by(CitizenPhone.id)
            )
        ).all()
    keys += (
        await db.scalars(
            select(SmsInbound.sender)
            .where(SmsInbound.ticket_id == ticket.id, SmsInbound.sender != "")
            .order_by(SmsInbound.id)
            .limit(1)
        )
    ).all()
    return texts.first_mobile(keys, pattern)


class SmsSender:
    name = "sms"

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        gateway: GatewayConfig | None,
        country_code: str = "86",
        mobile: re.Pattern[str] | None = None,
        interval_s: float = 5.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.session_factory = session_factory
        self.gateway = gateway
        self.country_code = country_code
        self.mobile = mobile or re.compile(Settings.model_fields["sms_mobile_pattern"].default)
        self.clock = clock
        self.worker = PeriodicWorker("sms-sender", self.deliver_due, interval_s=interval_s)
        self._http: httpx.AsyncClient | None = None
        self.sent = 0
        self.failed_attempts = 0
        self.gave_up = 0
        self.suppressed = 0
        self.pending: int | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
    ) -> SmsSender:
        return cls(
            session_factory,
            gateway=GatewayConfig.from_settings(settings),
            country_code=settings.country_code,
            mobile=mobile_pattern(settings),
            interval_s=settings.sms_interval_s,
        )

    # --- the service --------------------------------------------------------------------

    async def start(self) -> None:
        if self.gateway is None:
            log.warning("no CTI_SMS_GATEWAY_URL (or no secret): texts wait in the outbox")
        await self.worker.start()

    async def stop(self) -> None:
        await self.worker.stop()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def health(self) -> Health:
        return self.worker.health(
            {
                "gateway": self.gateway is not None,
                "pending": self.pending,
                "sent": self.sent,
                "failed_attempts": self.failed_attempts,
                "gave_up": self.gave_up,
                "suppressed": self.suppressed,
            }
        )

    def metrics(self) -> list[str]:
        return metric_lines(
            [
                Metric(
                    "cti_sms_outbox_pending",
                    "Texts waiting in the outbox (at the last round).",
                    self.pending,
                    "gauge",
                ),
                Metric("cti_sms_sent_total", "Texts the gateway accepted.", self.sent),
                Metric(
                    "cti_sms_failed_attempts_total",
                    "Posts to the gateway that failed.",
                    self.failed_attempts,
                ),
                Metric("cti_sms_given_up_total", "Texts failed for good.", self.gave_up),
                Metric(
                    "cti_sms_suppressed_total",
                    "Texts not sent: the number texted STOP.",
                    self.suppressed,
                ),
            ]
        )

    # --- delivery -----------------------------------------------------------------------

    async def deliver_due(self, now: datetime | None = None) -> int:
        """Claim and send what is due at ``now``; returns how many the gateway took."""
        now = now or self.clock()
        claimed = await self._claim(now) if self.gateway is not None else []
        delivered = 0
        if claimed:
            outcomes = await asyncio.gather(
                *(self._post(row) for row in claimed), return_exceptions=True
            )
            for row, outcome in zip(claimed, outcomes, strict=True):
                await self._record(row, outcome, now)
                delivered += not isinstance(outcome, BaseException)
        async with self.session_factory() as db:
            self.pending = await db.scalar(
                select(func.count())
                .select_from(SmsOutbox)
                .where(SmsOutbox.status == OutboxStatus.PENDING.value)
            )
        return delivered

    async def _claim(self, now: datetime) -> list[_Claimed]:
        async with self.session_factory() as db, db.begin():
            rows = (
                await db.execute(
                    select(SmsOutbox, Ticket)
                    .join(Ticket, Ticket.id == SmsOutbox.ticket_id)
                    .where(
                        SmsOutbox.status == OutboxStatus.PENDING.value,
                        SmsOutbox.next_attempt_at <= now,
                    )
                    .order_by(SmsOutbox.next_attempt_at, SmsOutbox.id)
                    .limit(BATCH)
                    .with_for_update(of=SmsOutbox, skip_locked=True)
                )
            ).all()
            out = []
            for row, ticket in rows:
                if row.recipient is None:
                    row.recipient = await recipient_for(db, ticket, self.mobile)
                    if row.recipient is None:
                        row.status = OutboxStatus.SKIPPED.value
                        row.last_error = "no mobile number to text"
                        continue
                    row.text = texts.render(row.kind, ticket.number)
                if await db.get(SmsOptOut, row.recipient) is not None:
                    row.status = OutboxStatus.SUPPRESSED.value
                    row.last_error = "the number texted STOP"
                    self.suppressed += 1
                    continue
                row.next_attempt_at = now + timedelta(seconds=LEASE_S)
                out.append(
                    _Claimed(
                        row.id, row.kind, ticket.number, row.recipient, row.text or "", row.attempts
                    )
                )
        return out

    def body(self, row: _Claimed) -> bytes:
        """The exact bytes posted (``docs/sms.md``): compact JSON, keys sorted, UTF-8."""
        payload = {
            "id": f"hotline-sms-{row.id}",
            "to": texts.e164(row.recipient, self.country_code),
            "text": row.text,
            "ticket": row.ticket,
            "kind": row.kind,
        }
        return json.dumps(
            payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False
        ).encode()

    async def _post(self, row: _Claimed) -> str | None:
        assert self.gateway is not None
        parts = urlsplit(self.gateway.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PermanentFailure("CTI_SMS_GATEWAY_URL is not an http(s) URL")
        body = self.body(row)
        headers = signature.headers(self.gateway.secret, int(self.clock().timestamp()), body)
        if self._http is None:
            # No redirects, no proxies from the environment: the signed body goes where
            # the setting says, nowhere else.
            self._http = httpx.AsyncClient(timeout=self.gateway.timeout_s, trust_env=False)
        try:
            response = await self._http.post(self.gateway.url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise TimeoutError(f"no answer within {self.gateway.timeout_s:g} s") from None
        if response.status_code in PERMANENT_STATUSES:
            raise PermanentFailure(f"the gateway refused it: HTTP {response.status_code}")
        if not 200 <= response.status_code < 300:
            raise RuntimeError(f"the gateway answered HTTP {response.status_code}")
        try:
            gateway_id = response.json().get("id")
        except (ValueError, AttributeError):
            return None
        return str(gateway_id)[:100] if gateway_id is not None else None

    async def _record(self, row: _Claimed, outcome: object, now: datetime) -> None:
        async with self.session_factory() as db, db.begin():
            message = await db.get(SmsOutbox, row.id, with_for_update=True)
            if message is None:
                return
            message.attempts = row.attempts + 1
            if not isinstance(outcome, BaseException):
                message.status = OutboxStatus.SENT.value
                message.sent_at = self.clock()
                message.gateway_id = outcome if isinstance(outcome, str) else None
                message.last_error = None
                self.sent += 1
                return
            self.failed_attempts += 1
            message.last_error = f"{type(outcome).__name__}: {outcome}"[:MAX_ERROR]
            retry = (
                None
                if isinstance(outcome, PermanentFailure)
                else next_attempt(message.attempts, now)
            )
            if retry is None:
                message.status = OutboxStatus.FAILED.value
                self.gave_up += 1
                log.warning("text %s failed for good: %s", row.id, message.last_error)
            else:
                message.next_attempt_at = retry
