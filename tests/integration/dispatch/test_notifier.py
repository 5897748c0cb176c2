"""The notifier against real receivers in this process: an aiosmtpd SMTP server and a
small asyncio HTTP server (answers scripted per test: 500 then 200, or never).

Hostile input tried: a company name with CR/LF and a fake Bcc header, a ticket
description with header-looking lines and markup, an address with a line break."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from cti.bus import InMemoryBus
from cti.dispatch import notify, service
from cti.dispatch.notifier import SUPERVISORS_CHANNEL, Notifier, SmtpConfig
from cti.store.companies import Notification
from tests.integration.dispatch.factories import (
    make_account,
    make_company,
    make_county,
    make_ticket,
)
from tests.integration.smtp import Inbox, running


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    with running(inbox) as port:
        yield inbox, port


class _Hooks:
    """A tiny HTTP/1.1 server: records each request and answers the next scripted status
    (``None``: never answers, the connection hangs until the client gives up)."""

    def __init__(self, script: list[int | None]) -> None:
        self.script = script
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.server: asyncio.Server | None = None
        self.port = 0
        self.release = asyncio.Event()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")[1:]
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append((headers, body))
            status = self.script.pop(0) if self.script else 200
            if status is None:
                await self.release.wait()
            writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@contextlib.asynccontextmanager
async def hooks(script: list[int | None]) -> AsyncIterator[_Hooks]:
    receiver = _Hooks(script)
    receiver.server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    receiver.port = receiver.server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        receiver.release.set()
        receiver.server.close()


async def _dispatched(session_factory, **company):
    """A committed dispatch of a fresh ticket to a fresh company; (dispatch id, ticket)."""
    async with session_factory() as db:
        county = await make_county(db, accept_within_minutes=45, finish_within_hours=6)
        firm = await make_company(db, [county], **company)
        agent = await make_account(db, "agent", county=county.code)
        ticket = await make_ticket(db, agent, county)
        dispatch = await service.dispatch_ticket(db, ticket, firm.id, agent)
        await db.commit()
        return dispatch, ticket


async def _rows(session_factory, dispatch_id: int) -> dict[str, Notification]:
    async with session_factory() as db:
        rows = await db.scalars(select(Notification).where(Notification.dispatch_id == dispatch_id))
        return {r.channel: r for r in rows}


async def test_email_reaches_the_smtp_server_with_safe_headers(session_factory, smtp_server):
    inbox, port = smtp_server
    address = f"jobs-{secrets.token_hex(3)}@example.com"
    dispatch, ticket = await _dispatched(
        session_factory, email=address, name="Evil\r\nBcc: victim@example.com"
    )
    notifier = Notifier(
        session_factory,
        smtp=SmtpConfig(host="127.0.0.1", port=port, sender="hotline@example.org", starttls=False),
    )
    await notifier.deliver_due()
    await notifier.stop()

    mine = [e for e in inbox.envelopes if e.rcpt_tos == [address]]
    assert len(mine) == 1
    assert mine[0].mail_from == "hotline@example.org"
    parsed = message_from_bytes(mine[0].content, policy=policy.default)
    assert parsed["Bcc"] is None and "victim" not in "".join(mine[0].rcpt_tos)
    assert parsed["Subject"].startswith(f"New job {ticket.number}")
    body = parsed.get_content()
    assert ticket.number in body
    assert f"Accept by: {dispatch.accept_by.isoformat()}" in body
    assert f"Finish by: {dispatch.finish_by.isoformat()}" in body
    assert "Subject: injected <b>x</b>" in body  # the description, as text in the body
    row = (await _rows(session_factory, dispatch.id))["email"]
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None


async def test_without_smtp_email_rows_wait_and_webhooks_still_go(session_factory):
    async with hooks([200]) as receiver:
        dispatch, _ = await _dispatched(
            session_factory,
            email="waits@example.com",
            webhook_url=receiver.url,
            webhook_secret="k1",
        )
        notifier = Notifier(session_factory, smtp=None, allow_local_webhooks=True)
        await notifier.deliver_due()
        await notifier.stop()
    rows = await _rows(session_factory, dispatch.id)
    assert rows["webhook"].status == "sent"
    assert rows["email"].status == "pending" and rows["email"].attempts == 0


async def test_webhook_is_signed_and_retried_with_backoff_after_a_500(session_factory):
    secret = secrets.token_hex(16)
    async with hooks([500, 200]) as receiver:
        dispatch, ticket = await _dispatched(
            session_factory, webhook_url=receiver.url, webhook_secret=secret
        )
        notifier = Notifier(session_factory, smtp=None, allow_local_webhooks=True)
        t0 = datetime.now(UTC) + timedelta(seconds=1)
        await notifier.deliver_due(t0)
        row = (await _rows(session_factory, dispatch.id))["webhook"]
        assert row.status == "pending" and row.attempts == 1
        assert row.last_error == "RuntimeError: the receiver answered HTTP 500"
        assert row.next_attempt_at == t0 + timedelta(seconds=notify.BACKOFF_S[0])

        await notifier.deliver_due(t0 + timedelta(seconds=notify.BACKOFF_S[0] - 1))
        assert len(receiver.requests) == 1  # not due yet
        await notifier.deliver_due(t0 + timedelta(seconds=notify.BACKOFF_S[0]))
        await notifier.stop()

    row = (await _rows(session_factory, dispatch.id))["webhook"]
    assert row.status == "sent" and row.attempts == 2 and row.last_error is None
    assert len(receiver.requests) == 2
    for headers, body in receiver.requests:
        assert notify.verify(
            secret, headers["x-hotline-timestamp"], body, headers["x-hotline-signature"]
        )
        assert not notify.verify(
            "wrong", headers["x-hotline-timestamp"], body, headers["x-hotline-signature"]
        )
        payload = json.loads(body)
        assert payload["ticket"] == ticket.number and payload["dispatch_id"] == dispatch.id
        assert payload["accept_by"] == dispatch.accept_by.isoformat()
        assert headers["x-hotline-event"] == "dispatch.offered"


async def test_a_hanging_receiver_costs_one_failed_attempt_and_blocks_nothing(
    session_factory, client, make_user
):
    """The receiver never answers: the attempt times out and is counted; meanwhile a
    request to the API is answered."""
    async with hooks([None]) as receiver:
        dispatch, _ = await _dispatched(
            session_factory, webhook_url=receiver.url, webhook_secret="k"
        )
        notifier = Notifier(
            session_factory, smtp=None, webhook_timeout_s=0.5, allow_local_webhooks=True
        )
        delivery = asyncio.create_task(notifier.deliver_due())
        health = await client.get("/healthz")
        assert health.status_code in (200, 503)
        assert await delivery == 0
        await notifier.stop()
    row = (await _rows(session_factory, dispatch.id))["webhook"]
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error.startswith("TimeoutError")
    assert notifier.failed_attempts >= 1


async def test_gives_up_after_the_last_attempt_and_keeps_the_error(session_factory):
    async with hooks([503] * notify.MAX_ATTEMPTS) as receiver:
        dispatch, _ = await _dispatched(
            session_factory, webhook_url=receiver.url, webhook_secret="k"
        )
        notifier = Notifier(session_factory, smtp=None, allow_local_webhooks=True)
        at = datetime.now(UTC) + timedelta(seconds=1)
        for _ in range(notify.MAX_ATTEMPTS):
            await notifier.deliver_due(at)
            at = at + timedelta(days=1)
        await notifier.stop()
    row = (await _rows(session_factory, dispatch.id))["webhook"]
    assert row.status == "failed" and row.attempts == notify.MAX_ATTEMPTS
    assert "503" in row.last_error
    assert len(receiver.requests) == notify.MAX_ATTEMPTS


async def test_a_webhook_url_that_is_not_http_fails_at_once(session_factory):
    dispatch, _ = await _dispatched(
        session_factory, webhook_url="file:///etc/passwd", webhook_secret="k"
    )
    notifier = Notifier(session_factory, smtp=None, allow_local_webhooks=True)
    await notifier.deliver_due()
    await notifier.stop()
    row = (await _rows(session_factory, dispatch.id))["webhook"]
    assert row.status == "failed" and row.attempts == 1 and "http" in row.last_error


@pytest.mark.parametrize(
    "host",
    ["localhost", "127.0.0.1", "[::1]", "[::ffff:127.0.0.1]"],
    ids=["a-name-for-loopback", "ipv4-loopback", "ipv6-loopback", "ipv4-mapped"],
)
async def test_a_webhook_to_this_machine_is_refused_at_send_time(session_factory, host):
    """The URL reached the row without the save-time check (as a name that resolved
    elsewhere when it was saved would): at send time it resolves to this machine, so
    nothing is posted, the row fails for good and says why."""
    async with hooks([200]) as receiver:
        url = f"http://{host}:{receiver.port}/hook"
        dispatch, _ = await _dispatched(session_factory, webhook_url=url, webhook_secret="k")
        notifier = Notifier(session_factory, smtp=None)
        await notifier.deliver_due()
        await notifier.stop()
    row = (await _rows(session_factory, dispatch.id))["webhook"]
    assert receiver.requests == []
    assert row.status == "failed" and row.attempts == 1
    assert "an address of this machine or its link: not posted" in row.last_error


async def test_overdue_dispatches_go_to_the_county_supervisors_once(session_factory, smtp_server):
    inbox, port = smtp_server
    bus = InMemoryBus()
    subscription = await bus.subscribe(SUPERVISORS_CHANNEL)
    async with session_factory() as db:
        county = await make_county(db, accept_within_minutes=5)
        firm = await make_company(db, [county])
        agent = await make_account(db, "agent", county=county.code)
        lead = await make_account(db, "supervisor", county=county.code)
        elsewhere = await make_account(db, "supervisor", county="south")
        t0 = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)  # long ago: overdue now
        ticket = await make_ticket(db, agent, county)
        dispatch = await service.dispatch_ticket(db, ticket, firm.id, agent, now=t0)
        await db.commit()
    to = f"leads-{secrets.token_hex(3)}@example.org"
    notifier = Notifier(
        session_factory,
        smtp=SmtpConfig(host="127.0.0.1", port=port, sender="hotline@example.org", starttls=False),
        bus=bus,
        overdue_email_to=(to,),
    )
    first = await notifier.check_overdue()
    second = await notifier.check_overdue()
    await notifier.stop()
    mine = [m for m in first if m["dispatch_id"] == dispatch.id]
    assert len(mine) == 1 and not [m for m in second if m["dispatch_id"] == dispatch.id]
    assert mine[0]["late"] == "acceptance" and mine[0]["ticket"] == ticket.number
    assert lead.id in mine[0]["to"] and elsewhere.id not in mine[0]["to"]
    published = []
    while not subscription.queue.empty():
        published.append(subscription.queue.get_nowait())
    assert [m["dispatch_id"] for m in published].count(dispatch.id) == 1
    mails = [e for e in inbox.envelopes if e.rcpt_tos == [to]]
    assert any(ticket.number in e.content.decode() for e in mails)
    subscription.close()


async def test_the_api_role_runs_the_notifier_and_it_delivers_on_its_own(session_factory, tmp_path):
    """build_services gives every api process a notifier; started, it delivers a row
    committed after it started, without anyone asking."""
    from cti.app import build_services
    from cti.settings import Settings
    from tests.integration.agi.conftest import wait_for

    assert Settings(_env_file=None, data_dir=tmp_path).webhook_allow_local is False
    settings = Settings(
        _env_file=None, data_dir=tmp_path, notifier_interval_s=0.05, webhook_allow_local=True
    )
    (notifier,) = [
        s
        for s in build_services(settings, {"api"}, session_factory, InMemoryBus())
        if s.name == "notifier"
    ]
    assert notifier.smtp is None and notifier.interval_s == 0.05
    assert notifier.allow_local_webhooks  # the receiver below is on this machine
    async with hooks([]) as receiver:
        await notifier.start()
        try:
            dispatch, _ = await _dispatched(
                session_factory, webhook_url=receiver.url, webhook_secret="k"
            )

            async def sent() -> bool:
                return (await _rows(session_factory, dispatch.id))["webhook"].status == "sent"

            await wait_for(sent)
            assert notifier.health().ok
        finally:
            await notifier.stop()
