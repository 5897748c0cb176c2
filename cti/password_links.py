"""One-time set-password links: instead of a generated password, an admin hands a user a
link where they choose their own. The secret is in the link only (shown once to the
admin); the database keeps its SHA-256. A link works once, for ``LIFETIME``; a new link
for the same user replaces the ones not used yet. Setting the password ends the user's
sessions, as any password change by someone else should.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cti import accounts
from cti.store import audit
from cti.store.base import utcnow
from cti.store.password_links import PasswordLink
from cti.store.users import User, WebSession

LIFETIME = timedelta(hours=48)
#: ``secrets.token_urlsafe(32)``: 43 characters of [A-Za-z0-9_-].
LINK_PATTERN = r"^[A-Za-z0-9_-]{43}$"


def link_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def issue(session: AsyncSession, user: User, actor: User) -> str:
    """A new link's secret for ``user`` (caller commits); earlier unused links stop working."""
    if not user.active:
        raise accounts.AccountError(f"user {user.username} is disabled")
    now = utcnow()
    await session.execute(
        update(PasswordLink)
        .where(PasswordLink.user_id == user.id, PasswordLink.used_at.is_(None))
        .values(used_at=now)
    )
    secret = secrets.token_urlsafe(32)
    session.add(
        PasswordLink(
            token_hash=link_hash(secret),
            user_id=user.id,
            created_by=actor.id,
            expires_at=now + LIFETIME,
        )
    )
    audit.record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="user.password_link",
        object_type="user",
        object_id=user.id,
        detail={"expires_in_hours": int(LIFETIME.total_seconds() // 3600)},
    )
    await session.flush()
    return secret


async def resolve(session: AsyncSession, secret: str) -> tuple[PasswordLink, User] | None:
    """The link and its user, if the link is unused, unexpired and the user active."""
    row = (
        await session.execute(
            select(PasswordLink, User)
            .join(User, User.id == PasswordLink.user_id)
            .where(
                PasswordLink.token_hash == link_hash(secret),
                PasswordLink.used_at.is_(None),
                PasswordLink.expires_at > utcnow(),
                User.active,
            )
            .with_for_update(of=PasswordLink)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def use(session: AsyncSession, link: PasswordLink, user: User, password: str) -> None:
    """Set ``user``'s password through ``link`` and spend it (caller commits). Raises
    ``accounts.AccountError`` for a password that is refused (the link stays usable)."""
    await accounts.set_password(session, user, password, actor=user)
    link.used_at = utcnow()
    await session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    await session.flush()
