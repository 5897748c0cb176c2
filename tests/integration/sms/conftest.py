"""The SMS tests' world: the app under a real uvicorn server (webhook posts go over TCP,
signed like a gateway signs them), a small HTTP server in this process playing the SMS
gateway (records each post, answers scripted statuses), citizens with fresh mobiles."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import func, select

from cti.app import create_app
from cti.bus import InMemoryBus
from cti.settings import Settings
from cti.sms import signature
from cti.sms.sender import SmsSender
from cti.store.base import utcnow
from cti.store.citizens import Citizen, CitizenPhone
from cti.store.counties import County
from cti.store.sms import SmsOutbox
from tests.live import live_server

WEBHOOK_SECRET = "webhook-" + secrets.token_hex(16)
GATEWAY_SECRET = "gateway-" + secrets.token_hex(16)


def fresh_mobile() -> str:
    """An 11-digit mobile number nobody else in the run has (its ``cti.numbers`` key)."""
    return f"139{secrets.randbelow(10**8):08d}"


@pytest.fixture(autouse=True)
def _seeded(seeded) -> None:
    """Every SMS test needs the counties and the service catalogue."""


@dataclass
class Gateway:
    """A tiny HTTP/1.1 server playing the SMS gateway: records each post and answers the
    next status scripted for its ``to`` number (then 200), with ``{"id": "gw-N"}``.

    The run shares one database, so the outbox holds other tests' texts too: the sender
    posts them here as well, and each test looks at its own numbers only."""

    script: dict[str, list[int]] = field(default_factory=dict)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0

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
            to = json.loads(body).get("to", "").removeprefix("+86")
            statuses = self.script.get(to) or []
            status = statuses.pop(0) if statuses else 200
            answer = json.dumps({"id": f"gw-{len(self.requests)}"}).encode()
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(answer)}\r\n\r\n".encode()
                + answer
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/send"

    def posts_to(self, number: str) -> list[dict]:
        """The JSON bodies posted to ``+86<number>``, in order."""
        bodies = [json.loads(body) for _, body in self.requests]
        return [b for b in bodies if b["to"] == f"+86{number}"]


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = Gateway()
    server = await asyncio.start_server(gw.handle, "127.0.0.1", 0)
    gw.port = server.sockets[0].getsockname()[1]
    try:
        yield gw
    finally:
        server.close()


@pytest.fixture
def sms_settings(tmp_path, gateway) -> Settings:
    return Settings(
        _env_file=None,
        data_dir=tmp_path,
        sms_webhook_secret=WEBHOOK_SECRET,
        sms_gateway_url=gateway.url,
        sms_gateway_secret=GATEWAY_SECRET,
    )


@pytest.fixture
async def sms_app(sms_settings, database_url, engine, seeded):
    return create_app(
        sms_settings,
        database_url,
        roles={"api"},
        engine=engine,
        bus=InMemoryBus(),
        services=[],
    )


@pytest.fixture
async def base_url(sms_app) -> AsyncIterator[str]:
    async with live_server(sms_app) as url:
        yield url


@pytest.fixture
def sender(session_factory, sms_settings) -> SmsSender:
    """The outbox sender, driven by the test (``deliver_due``), not by its own loop."""
    return SmsSender.from_settings(sms_settings, session_factory)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


def message(sender: str, text: str, **extra) -> dict:
    return {"message_id": "m-" + secrets.token_hex(8), "from": sender, "text": text, **extra}


async def post_signed(
    http: httpx.AsyncClient,
    base_url: str,
    payload: dict | bytes,
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
) -> httpx.Response:
    """POST ``payload`` to the webhook over TCP, signed as the gateway signs it."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    ts = int(time.time()) if timestamp is None else timestamp
    return await http.post(
        f"{base_url}/api/sms/inbound", content=body, headers=signature.headers(secret, ts, body)
    )


async def make_citizen(session_factory, number: str, *, county: str | None = "north") -> int:
    async with session_factory() as db:
        county_id = (
            await db.scalar(select(County.id).where(County.code == county)) if county else None
        )
        citizen = Citizen(
            name=f"Citizen {number}",
            county_id=county_id,
            address="1 Test Lane",
            phones=[CitizenPhone(number="551" + number[-7:]), CitizenPhone(number=number)],
        )
        db.add(citizen)
        await db.commit()
        return citizen.id


async def deliver_for(sender: SmsSender, session_factory, ticket_id: int, now=None) -> None:
    """Run the sender's rounds until no text of ``ticket_id`` is pending and due at ``now``
    (other tests' rows share the outbox, a round takes 50)."""
    now = now or utcnow()
    for _ in range(200):
        await sender.deliver_due(now)
        async with session_factory() as db:
            due = await db.scalar(
                select(func.count())
                .select_from(SmsOutbox)
                .where(
                    SmsOutbox.ticket_id == ticket_id,
                    SmsOutbox.status == "pending",
                    SmsOutbox.next_attempt_at <= now,
                )
            )
        if not due:
            return
    raise AssertionError("the sender never got to the ticket's texts")
