"""cti.dispatch.notify: the email built from an offer, the webhook's signature, backoff.

Hostile input tried: a company name and a ticket category with CR/LF and a fake Bcc
header, a description with markup and header-looking lines, a recipient with a line
break."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest

from cti.dispatch import notify

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _offer(**over):
    values = dict(
        event="dispatch.offered",
        dispatch_id=7,
        ticket_number="T2026-000042",
        company_name="Evil Ltd\r\nBcc: victim@example.com",
        category="Maintenance\nX-Injected: 1",
        county="North County",
        description="Pipe burst\r\nSubject: pwned\n<script>alert(1)</script>",
        address="12 Road",
        preferred_start=None,
        preferred_end=None,
        accept_by=NOW + timedelta(hours=2),
        finish_by=NOW + timedelta(hours=72),
    )
    values.update(over)
    return notify.offer_payload(**values)


def test_email_has_ticket_deadlines_and_no_injected_headers():
    payload = _offer()
    message = notify.build_email(
        payload,
        to="jobs@example.com",
        sender="hotline@example.org",
        display_name=payload["company"],
    )
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed["Bcc"] is None and parsed["X-Injected"] is None
    assert parsed["Subject"] == "New job T2026-000042: Maintenance X-Injected: 1"
    assert parsed["To"].addresses[0].addr_spec == "jobs@example.com"
    assert parsed["To"].addresses[0].display_name == "Evil Ltd Bcc: victim@example.com"
    body = parsed.get_content()
    assert "T2026-000042" in body
    assert f"Accept by: {(NOW + timedelta(hours=2)).isoformat()}" in body
    assert f"Finish by: {(NOW + timedelta(hours=72)).isoformat()}" in body
    assert "<script>alert(1)</script>" in body  # plain text, verbatim


@pytest.mark.parametrize(
    "to",
    ["a@example.com\r\nBcc: b@example.com", "a@b@c", "<x>", "a@example.com, b@example.com", ""],
)
def test_a_recipient_that_is_not_one_address_is_refused(to):
    with pytest.raises(ValueError):
        notify.build_email(_offer(), to=to, sender="h@x.org", display_name="N")


def test_withdrawn_and_overdue_mails_say_what_happened():
    gone = notify.withdrawn_payload(
        dispatch_id=1, ticket_number="T2026-000001", company_name="A", reason="duplicate"
    )
    assert notify.email_subject(gone) == "Job T2026-000001 withdrawn"
    assert "Reason: duplicate" in notify.email_body(gone)


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = notify.webhook_body(_offer())
    assert json.loads(body)["ticket"] == "T2026-000042"
    expected = hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    headers = notify.webhook_headers("k", 1700000000, body, "dispatch.offered\r\nX: y")
    assert headers["X-Hotline-Signature"] == expected
    assert headers["X-Hotline-Timestamp"] == "1700000000"
    assert headers["X-Hotline-Event"] == "dispatch.offered X: y"
    assert notify.verify("k", "1700000000", body, expected)
    assert not notify.verify("other", "1700000000", body, expected)
    assert not notify.verify("k", "1700000001", body, expected)
    assert not notify.verify("k", "1700000000", body + b" ", expected)
    assert not notify.verify("k", "soon", body, expected)


def test_backoff_grows_and_gives_up_after_the_last_attempt():
    waits = []
    attempts = 1
    while (at := notify.next_attempt(attempts, NOW)) is not None:
        waits.append((at - NOW).total_seconds())
        attempts += 1
    assert waits == list(notify.BACKOFF_S)
    assert waits == sorted(waits) and len(set(waits)) == len(waits)
    assert attempts == notify.MAX_ATTEMPTS
    assert notify.next_attempt(0, NOW) == NOW


def test_header_text_strips_every_control_character_and_bounds_length():
    assert notify.header_text("a\r\nb\x00c\x7fd\te") == "a b c d e"
    assert len(notify.header_text("x" * 1000)) == notify.MAX_HEADER_TEXT
