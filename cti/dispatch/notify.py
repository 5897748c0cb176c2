"""What a company is told about its work, built from data (no I/O): the outbox payload,
the email made from it, the signed webhook post, and when a failed delivery is retried.

The payload is what the webhook posts, verbatim; the email says the same in words. Every
text in it (the company's name, the ticket's description and address) was typed by
someone and is treated as hostile: headers carry no CR/LF, the body is plain text.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from cti.periodic import Backoff

#: Waits before the 2nd, 3rd... attempt; after the last one the notification has failed.
BACKOFF_S = (30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600)
BACKOFF = Backoff(BACKOFF_S)
MAX_ATTEMPTS = BACKOFF.max_attempts
SIGNATURE_HEADER = "X-Hotline-Signature"
TIMESTAMP_HEADER = "X-Hotline-Timestamp"
EVENT_HEADER = "X-Hotline-Event"
#: Header values are cut to this (a hostile name cannot make a huge header either).
MAX_HEADER_TEXT = 120


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def offer_payload(
    *,
    event: str,
    dispatch_id: int,
    ticket_number: str,
    company_name: str,
    category: str,
    county: str,
    description: str,
    address: str | None,
    preferred_start: datetime | None,
    preferred_end: datetime | None,
    accept_by: datetime,
    finish_by: datetime,
) -> dict[str, Any]:
    """The outbox payload of a new offer (JSON-ready: times as ISO 8601 with offset)."""
    return {
        "event": event,
        "dispatch_id": dispatch_id,
        "ticket": ticket_number,
        "company": company_name,
        "category": category,
        "county": county,
        "description": description,
        "address": address,
        "preferred_start": _iso(preferred_start),
        "preferred_end": _iso(preferred_end),
        "accept_by": accept_by.isoformat(),
        "finish_by": finish_by.isoformat(),
    }


def withdrawn_payload(
    *, dispatch_id: int, ticket_number: str, company_name: str, reason: str
) -> dict[str, Any]:
    return {
        "event": "dispatch.withdrawn",
        "dispatch_id": dispatch_id,
        "ticket": ticket_number,
        "company": company_name,
        "reason": reason,
    }


def header_text(value: str) -> str:
    """``value`` safe for one header line: control characters (CR, LF, NUL...) become
    spaces, runs of spaces one, cut to :data:`MAX_HEADER_TEXT`."""
    cleaned = "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in value)
    return " ".join(cleaned.split())[:MAX_HEADER_TEXT]


def email_subject(payload: dict[str, Any]) -> str:
    ticket = header_text(str(payload.get("ticket", "")))
    if payload.get("event") == "dispatch.withdrawn":
        return f"Job {ticket} withdrawn"
    if payload.get("event") == "dispatch.overdue":
        return f"Overdue: job {ticket}"
    category = header_text(str(payload.get("category", "")))
    return f"New job {ticket}: {category}" if category else f"New job {ticket}"


def email_body(payload: dict[str, Any]) -> str:
    """The plain-text body: what the job is and by when to accept and finish it."""
    event = payload.get("event")
    lines = [f"Hello {payload.get('company', '')},", ""]
    if event == "dispatch.withdrawn":
        lines += [
            f"The hotline has withdrawn job {payload.get('ticket')}.",
            f"Reason: {payload.get('reason', '')}",
        ]
    elif event == "dispatch.overdue":
        lines = [
            f"Job {payload.get('ticket')} offered to {payload.get('company', '')} is overdue:",
            f"{payload.get('late', '')} was due by {payload.get('due_by')}.",
        ]
    else:
        lines += [
            f"The hotline offers your company job {payload.get('ticket')}.",
            "",
            f"Category: {payload.get('category', '')}",
            f"County: {payload.get('county', '')}",
            f"Address: {payload.get('address') or '-'}",
        ]
        if payload.get("preferred_start") or payload.get("preferred_end"):
            lines.append(
                f"Preferred time: {payload.get('preferred_start') or '?'} to "
                f"{payload.get('preferred_end') or '?'}"
            )
        lines += [
            "",
            f"Accept by: {payload.get('accept_by')}",
            f"Finish by: {payload.get('finish_by')}",
            "",
            "What the citizen needs:",
            str(payload.get("description", "")),
            "",
            "Accept or decline it in the company portal.",
        ]
    return "\n".join(lines) + "\n"


def build_email(
    payload: dict[str, Any], *, to: str, sender: str, display_name: str | None = None
) -> EmailMessage:
    """The email for one outbox payload. ``to`` is the company's address (validated by the
    email package: a malformed one raises ``ValueError``, a permanent failure)."""
    message = EmailMessage()
    message["From"] = sender
    name = header_text(display_name if display_name is not None else "")
    addr = to.strip()
    if not addr or "\r" in addr or "\n" in addr:
        raise ValueError("no recipient address, or one with a line break")
    try:
        recipient = Address(display_name=name, addr_spec=addr)
    except Exception:  # the email package raises several kinds for a malformed address
        raise ValueError(f"not one email address: {addr[:80]!r}") from None
    message["To"] = recipient
    message["Subject"] = email_subject(payload)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="hotline.invalid")
    message[EVENT_HEADER] = header_text(str(payload.get("event", "")))
    message.set_content(email_body(payload))
    return message


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes posted (and signed): compact, keys sorted, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``f"{timestamp}.".encode() + body`` with the company's secret:
    the receiver recomputes it, and refuses an old timestamp (a replayed post)."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (the tests use it): constant-time comparison."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)


def webhook_headers(secret: str, timestamp: int, body: bytes, event: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        EVENT_HEADER: header_text(event),
    }


def next_attempt(attempts: int, now: datetime) -> datetime | None:
    """When to try again after ``attempts`` failed attempts (1 after the first failure);
    None when that was the last one (the notification has failed)."""
    wait = BACKOFF.wait_after(attempts)
    return None if wait is None else now + timedelta(seconds=wait)
