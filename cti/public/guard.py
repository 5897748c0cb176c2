"""The public forms' abuse guard, pure: every check takes what was submitted and the time,
and either passes or raises :class:`Refused` with a reason that ``/metrics`` counts.

- a **form token**, signed with the app's secret (HMAC-SHA256), carries the form's name
  and the time the form was served: a forged or altered token, a token of another form,
  one older than ``max_age_s`` (a stale tab, a harvested token) and one submitted sooner
  than ``min_age_s`` after serving (no person fills a form in two seconds) are refused;
- a **honeypot** field hidden from people: a value in it means a robot filled every field;
- **size limits** on every field (and on the whole body, checked before it is parsed);
- **rate limits** per client address and per phone number (:class:`SlidingWindow`).

No third-party CAPTCHA: nothing leaves the machine, and the pages work without JavaScript.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

#: Why a submission was refused: the ``reason`` label of ``cti_public_refused_total``.
REASONS = (
    "forged",  # token missing, altered, signed with another key, or for another form
    "expired",  # token older than max_age_s
    "too_fast",  # submitted sooner than min_age_s after the form was served
    "honeypot",  # the hidden field has a value
    "too_large",  # the body is over the limit
    "oversize",  # a field is over its limit
    "rate_ip",  # too many submissions from this address
    "rate_phone",  # too many submissions for this phone number
    "rate_ticket",  # too many status look-ups of this ticket number
    "invalid",  # a value is not acceptable (the form is shown again with why)
    "no_match",  # a status look-up whose ticket number and phone do not match
)


class Refused(Exception):
    """A submission the guard refuses; ``reason`` is one of :data:`REASONS`, ``field``
    the field at fault when there is one."""

    def __init__(self, reason: str, detail: str = "", field: str | None = None) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown refusal reason {reason!r}")
        super().__init__(detail or reason)
        self.reason = reason
        self.field = field


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    min_age_s: float = 2.0
    max_age_s: float = 2 * 3600.0


def _mac(secret: bytes, payload: str) -> str:
    digest = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue_token(secret: bytes, form: str, now_s: float) -> str:
    """A token for ``form`` served at ``now_s``: ``form.millis.nonce.mac`` (the nonce
    makes two tokens of one millisecond differ; nothing in it is secret but the mac)."""
    payload = f"{form}.{int(now_s * 1000)}.{secrets.token_urlsafe(6)}"
    return f"{payload}.{_mac(secret, payload)}"


def check_token(
    secret: bytes, form: str, token: str | None, now_s: float, policy: TokenPolicy
) -> float:
    """The form's age in seconds when ``token`` is a good token of ``form`` within the
    policy's window; raises :class:`Refused` (forged, expired, too_fast) otherwise."""
    if not token or len(token) > 200:
        raise Refused("forged", "the form's token is missing: load the form again")
    payload, _, mac = token.rpartition(".")
    parts = payload.split(".")
    if len(parts) != 3 or not hmac.compare_digest(mac.encode(), _mac(secret, payload).encode()):
        raise Refused("forged", "the form's token is not one this site issued")
    name, millis, _nonce = parts
    if name != form or not millis.isdigit():
        raise Refused("forged", "the token belongs to another form")
    age = now_s - int(millis) / 1000
    if age > policy.max_age_s or age < -5:  # a clock step back of a few seconds is fine
        raise Refused("expired", "the form was open too long: load it again")
    if age < policy.min_age_s:
        raise Refused("too_fast", "the form was sent too quickly after it was opened")
    return age


def check_honeypot(value: object) -> None:
    """The hidden field must come back empty (or not at all)."""
    if isinstance(value, str) and value.strip():
        raise Refused("honeypot", "this submission looks automated")
    if value is not None and not isinstance(value, str):
        raise Refused("honeypot", "this submission looks automated")


def check_sizes(fields: Mapping[str, object], limits: Mapping[str, int]) -> None:
    """Every submitted field is known and within its limit (characters); an unknown field
    counts as oversize against a limit of 0, so nothing unbounded gets in."""
    for name, value in fields.items():
        limit = limits.get(name, 0)
        if not isinstance(value, str) or len(value) > limit:
            raise Refused("oversize", f"the field {name[:40]!r} is too long", field=name[:40])


@dataclass(slots=True)
class SlidingWindow:
    """At most ``limit`` hits per key in any ``window_s`` seconds (a sliding log: each
    key's hit times in the window, oldest dropped first).

    In process, per API worker, on purpose: it is a brake on one client hammering one
    worker, not a quota. With several workers behind a balancer a client gets up to
    workers x limit, still bounded, and the other checks (token, honeypot, time to
    submit) hold in every worker alike. No database write per request, so a flood does
    not load Postgres. Memory is bounded: at most ``max_keys`` keys, the least recently
    hit dropped first (an attacker rotating keys only forgets its own old ones)."""

    limit: int
    window_s: float
    max_keys: int = 100_000
    _hits: dict[str, deque[float]] = field(default_factory=dict)

    def hit(self, key: str, now_s: float) -> bool:
        """Record a hit for ``key`` at ``now_s``; False (nothing recorded) when it would be
        over the limit."""
        hits = self._hits.pop(key, None)
        if hits is None:
            hits = deque()
        while hits and hits[0] <= now_s - self.window_s:
            hits.popleft()
        allowed = len(hits) < self.limit
        if allowed:
            hits.append(now_s)
        if hits:
            self._hits[key] = hits  # re-inserted: the dict's order is least recent first
        while len(self._hits) > self.max_keys:
            del self._hits[next(iter(self._hits))]
        return allowed

    def __len__(self) -> int:
        return len(self._hits)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The rates the public forms allow (per address, per phone, per ticket number)."""

    submit_per_ip: int = 10
    submit_per_phone: int = 5
    submit_window_s: float = 3600.0
    status_per_ip: int = 30
    status_per_ticket: int = 10
    status_window_s: float = 600.0


@dataclass(slots=True)
class Limiters:
    submit_ip: SlidingWindow
    submit_phone: SlidingWindow
    status_ip: SlidingWindow
    status_ticket: SlidingWindow

    @classmethod
    def from_limits(cls, limits: RateLimits) -> Limiters:
        return cls(
            submit_ip=SlidingWindow(limits.submit_per_ip, limits.submit_window_s),
            submit_phone=SlidingWindow(limits.submit_per_phone, limits.submit_window_s),
            status_ip=SlidingWindow(limits.status_per_ip, limits.status_window_s),
            status_ticket=SlidingWindow(limits.status_per_ticket, limits.status_window_s),
        )


def check_rate(window: SlidingWindow, key: str, now_s: float, reason: str) -> None:
    if not window.hit(key, now_s):
        raise Refused(reason, "too many attempts: try again later")
