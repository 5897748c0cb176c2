"""Signing and checking the posts between the hotline and its SMS gateway (both ways),
the scheme of the companies' webhooks (:func:`cti.dispatch.notify.sign`): header
``X-Hotline-Timestamp`` (Unix seconds) and ``X-Hotline-Signature``, the hex HMAC-SHA256 of
``timestamp + "." + body``. Pure: the caller passes the clock.
"""

from __future__ import annotations

import hmac

from cti.dispatch.notify import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "Refused", "check", "headers"]

#: Longest signature header read (a hex SHA-256 is 64 characters).
MAX_SIGNATURE = 128


class Refused(ValueError):
    """The post is not from our gateway, or not now; ``reason`` is the metric's label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    *,
    now_s: float,
    window_s: int,
) -> int:
    """The post's timestamp when ``signature`` is the one ``secret`` makes for
    ``timestamp`` and ``body`` (compared in constant time) and ``timestamp`` is within
    ``window_s`` of ``now_s`` (either way); else :class:`Refused`, reason
    ``bad_signature`` or ``stale``. The signature is checked first, so an unsigned post
    learns nothing about the clock."""
    if not timestamp or not signature or len(signature) > MAX_SIGNATURE:
        raise Refused("bad_signature", "missing or malformed signature headers")
    ts_text = timestamp.strip()
    if not ts_text.isascii() or not ts_text.isdigit() or len(ts_text) > 12:
        raise Refused("bad_signature", "the timestamp is not Unix seconds")
    ts = int(ts_text)
    expected = sign(secret, ts, body)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise Refused("bad_signature", "the signature does not match")
    if abs(now_s - ts) > window_s:
        raise Refused("stale", f"the timestamp is more than {window_s} s from now")
    return ts


def headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of a signed JSON post of ``body`` at ``timestamp``."""
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
