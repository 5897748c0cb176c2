"""Server-side browser sessions: the cookie holds a random token, the database its SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.store.base import utcnow
from cti.store.users import ApiToken, User, WebSession

COOKIE_NAME = "cti_session"
#: Refresh ``last_seen_at`` at most this often, so every request is not a write.
TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    max_age: timedelta = timedelta(hours=8)
    idle: timedelta = timedelta(hours=2)


@dataclass(slots=True)
class AuthContext:
    """Who is calling: a browser session, or a machine client's API token."""

    user: User
    session: WebSession | None = None
    token: ApiToken | None = None

    @property
    def csrf_token(self) -> str:
        """The session's CSRF token for pages and forms; a token client needs none."""
        return self.session.csrf_token if self.session is not None else ""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(
    db: AsyncSession,
    user: User,
    policy: SessionPolicy,
    ip: str | None,
    user_agent: str | None,
) -> str:
    """Create a session for ``user`` and return the cookie token (caller commits)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.add(
        WebSession(
            token_hash=token_hash(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + policy.max_age,
            ip=ip,
            user_agent=(user_agent or "")[:255] or None,
        )
    )
    return token


async def resolve(db: AsyncSession, token: str | None, policy: SessionPolicy) -> AuthContext | None:
    """The live session for a cookie token, or None (unknown, expired, idle, user disabled).

    Expired and idle sessions are deleted when met.
    """
    if not token or len(token) > 128:
        return None
    row = (
        await db.execute(
            select(WebSession, User)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.token_hash == token_hash(token))
        )
    ).first()
    if row is None:
        return None
    web_session, user = row
    now = utcnow()
    if now >= web_session.expires_at or now - web_session.last_seen_at >= policy.idle:
        await db.execute(delete(WebSession).where(WebSession.token_hash == web_session.token_hash))
        await db.commit()
        return None
    if not user.active:
        return None
    if now - web_session.last_seen_at >= TOUCH_INTERVAL:
        web_session.last_seen_at = now
        await db.commit()
    return AuthContext(user=user, session=web_session)


async def close_session(db: AsyncSession, token: str) -> None:
    await db.execute(delete(WebSession).where(WebSession.token_hash == token_hash(token)))
