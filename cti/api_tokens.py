"""API tokens for machine clients: issued and revoked by an admin, each acting as one user
for the role it was issued for. The secret is shown once; the database keeps its SHA-256.

A token stops working when it is revoked or expired, when its user is disabled, or when
the user's role is no longer the token's (a role change must not widen or narrow what an
integration can do behind the admin's back).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cti.store.base import utcnow
from cti.store.users import ApiToken, Role, User

#: Every token starts so, which lets secret scanners and people recognise one.
SCHEME = "cti_"
PREFIX_LENGTH = len(SCHEME) + 6
MAX_NAME = 80
MAX_DAYS = 3650
#: ``last_used_at`` is written at most this often, so every request is not a write.
TOUCH_INTERVAL = timedelta(minutes=5)


class TokenError(ValueError):
    """A token request that cannot be granted; the message says why."""


@dataclass(frozen=True, slots=True)
class Issued:
    token: ApiToken
    secret: str  # shown once, never stored


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def validate_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise TokenError(f"name must be 1-{MAX_NAME} printable characters")
    return name


async def issue(
    session: AsyncSession, *, user: User, name: str, issued_by: User, days: int | None
) -> Issued:
    """A new token for ``user`` with the user's current role (caller commits)."""
    if not user.active:
        raise TokenError(f"user {user.username} is disabled")
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise TokenError(f"a token lives 1-{MAX_DAYS} days (or until revoked)")
    secret = SCHEME + secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(
        token_hash=token_hash(secret),
        prefix=secret[:PREFIX_LENGTH],
        name=validate_name(name),
        user_id=user.id,
        role=Role(user.role).value,
        created_by=issued_by.id,
        created_at=now,
        expires_at=None if days is None else now + timedelta(days=days),
    )
    session.add(token)
    await session.flush()
    return Issued(token=token, secret=secret)


async def resolve(session: AsyncSession, secret: str) -> tuple[ApiToken, User] | None:
    """The live token and its user for a presented secret, or None."""
    if not secret.startswith(SCHEME) or len(secret) > 128:
        return None
    row = (
        await session.execute(
            select(ApiToken, User)
            .join(User, User.id == ApiToken.user_id)
            .where(ApiToken.token_hash == token_hash(secret))
        )
    ).first()
    if row is None:
        return None
    token, user = row
    now = utcnow()
    if token.revoked_at is not None or (token.expires_at is not None and now >= token.expires_at):
        return None
    if not user.active or user.role != token.role:
        return None
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_INTERVAL:
        token.last_used_at = now
        await session.commit()
    return token, user


async def revoke(session: AsyncSession, token_id: int) -> ApiToken | None:
    """Revoke a token (idempotent); None when there is no such token (caller commits)."""
    token = await session.get(ApiToken, token_id)
    if token is None:
        return None
    if token.revoked_at is None:
        await session.execute(
            update(ApiToken).where(ApiToken.id == token_id).values(revoked_at=utcnow())
        )
        await session.refresh(token)
    return token
