"""The webhook refuses what is not from our gateway, not now, or seen before, stores
nothing for it, and counts it in ``/metrics``.

Hostile input tried: no signature, a signature made with another secret, a signature of
another body, a timestamp 10 minutes old and one 10 minutes ahead, a non-numeric
timestamp, the same message posted twice (as is, and re-signed with a fresh timestamp),
a 17 kB body, a body that is not JSON, a NUL in the text, an empty text, a message id
with spaces and quotes."""

from __future__ import annotations

import json
import re
import time

from sqlalchemy import func, select

from cti.app import create_app
from cti.bus import InMemoryBus
from cti.settings import Settings
from cti.sms import signature
from cti.store.sms import SmsInbound
from tests.integration.sms.conftest import WEBHOOK_SECRET, fresh_mobile, message, post_signed
from tests.live import live_server


def _refused(metrics: str, reason: str) -> int:
    found = re.search(rf'cti_sms_webhook_refused_total{{reason="{reason}"}} (\d+)', metrics)
    return int(found.group(1)) if found else 0


async def _stored(session_factory, gateway_id: str) -> int:
    async with session_factory() as db:
        return await db.scalar(
            select(func.count()).select_from(SmsInbound).where(SmsInbound.gateway_id == gateway_id)
        )


async def test_bad_signatures_and_old_posts_are_refused_and_counted(
    http, base_url, session_factory
):
    sent = message(fresh_mobile(), "hello")
    body = json.dumps(sent).encode()
    now = int(time.time())
    url = f"{base_url}/api/sms/inbound"
    cases = [
        ({"Content-Type": "application/json"}, "bad_signature"),
        (signature.headers("not our secret", now, body), "bad_signature"),
        ({**signature.headers("x", now, body), "X-Hotline-Timestamp": "soon"}, "bad_signature"),
        ({**(await _headers_for(b"{}", now)), "Content-Type": "application/json"}, "bad_signature"),
        (await _headers_for(body, now - 600), "stale"),
        (await _headers_for(body, now + 600), "stale"),
    ]  # fmt: skip
    for headers, reason in cases:
        answer = await http.post(url, content=body, headers=headers)
        assert answer.status_code == 400, (reason, answer.text)
        assert answer.json()["error"] == ("stale_timestamp" if reason == "stale" else reason)
    metrics = (await http.get(f"{base_url}/metrics")).text
    assert _refused(metrics, "bad_signature") == 4
    assert _refused(metrics, "stale") == 2
    assert await _stored(session_factory, sent["message_id"]) == 0


async def _headers_for(body: bytes, ts: int) -> dict[str, str]:
    return signature.headers(WEBHOOK_SECRET, ts, body)


async def test_a_replayed_message_is_refused_once_taken(http, base_url, session_factory):
    sent = message(fresh_mobile(), "only once")
    body = json.dumps(sent).encode()
    headers = await _headers_for(body, int(time.time()))
    first = await http.post(f"{base_url}/api/sms/inbound", content=body, headers=headers)
    again = await http.post(f"{base_url}/api/sms/inbound", content=body, headers=headers)
    resigned = await post_signed(http, base_url, sent, timestamp=int(time.time()) + 1)
    assert first.status_code == 200
    assert again.status_code == 409 and again.json()["error"] == "replayed"
    assert resigned.status_code == 409
    assert await _stored(session_factory, sent["message_id"]) == 1
    metrics = (await http.get(f"{base_url}/metrics")).text
    assert _refused(metrics, "replayed") == 2
    assert 'cti_sms_inbound_total{outcome="ticket"} 1' in metrics


async def test_oversize_and_malformed_posts_are_refused(http, base_url, session_factory):
    mobile = fresh_mobile()
    big = await post_signed(http, base_url, message(mobile, "x" * 17_000))
    assert big.status_code == 413 and big.json()["error"] == "too_large"
    long_text = await post_signed(http, base_url, message(mobile, "x" * 4001))
    assert long_text.status_code == 422 and "text" in long_text.json()["fields"]
    not_json = await post_signed(http, base_url, b"from=1&text=2")
    assert not_json.status_code == 422
    for bad in (
        message(mobile, "nul \x00 inside"),
        message(mobile, "   \r\n "),
        {**message(mobile, "hi"), "message_id": "a b'\""},
        {"message_id": "m-1", "text": "no sender"},
    ):
        answer = await post_signed(http, base_url, bad)
        assert answer.status_code == 422, bad
        assert answer.json()["error"] == "invalid"
    metrics = (await http.get(f"{base_url}/metrics")).text
    assert _refused(metrics, "too_large") == 1 and _refused(metrics, "invalid") == 6
    async with session_factory() as db:
        assert not await db.scalar(
            select(func.count()).select_from(SmsInbound).where(SmsInbound.sender == mobile)
        )


async def test_without_a_secret_the_webhook_takes_nothing(
    http, tmp_path, database_url, engine, seeded
):
    app = create_app(
        Settings(_env_file=None, data_dir=tmp_path),
        database_url,
        roles={"api"},
        engine=engine,
        bus=InMemoryBus(),
        services=[],
    )
    async with live_server(app) as url:
        answer = await post_signed(http, url, message(fresh_mobile(), "hello"))
        assert answer.status_code == 503 and answer.json()["error"] == "sms_not_configured"
        assert _refused((await http.get(f"{url}/metrics")).text, "not_configured") == 1
