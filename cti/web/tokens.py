"""API tokens (admin only): issue one for a user (its secret is in the answer, once), list
them, revoke one. Every issue and revocation is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from cti import api_tokens
from cti.store import audit
from cti.store.users import USERNAME_PATTERN, ApiToken, Role, User
from cti.web.deps import AdminUser, DbSession, client_ip
from cti.web.errors import Invalid, NotFound, documented

router = APIRouter(prefix="/api/tokens", tags=["tokens"])

TokenId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class TokenCreate(BaseModel):
    username: str = Field(
        max_length=32, pattern=USERNAME_PATTERN, description="the user the token acts as"
    )
    name: str = Field(max_length=api_tokens.MAX_NAME, description="what the token is for")
    days: int | None = Field(default=None, description="lifetime in days; none: until revoked")


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="the token's first characters, to tell it apart")
    username: str
    role: Role
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenIssued(TokenOut):
    secret: str = Field(description="send as `Authorization: Bearer <secret>`; shown once")


def _out(token: ApiToken, username: str) -> TokenOut:
    return TokenOut(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        username=username,
        role=Role(token.role),
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        revoked_at=token.revoked_at,
    )


@router.get("", summary="List API tokens (never their secrets), newest first")
async def list_tokens(_: AdminUser, db: DbSession) -> list[TokenOut]:
    rows = (
        await db.execute(
            select(ApiToken, User.username)
            .join(User, User.id == ApiToken.user_id)
            .order_by(ApiToken.id.desc())
        )
    ).all()
    return [_out(token, username) for token, username in rows]


@router.post(
    "",
    status_code=201,
    summary="Issue an API token for a user; the answer holds its secret, once",
    responses=documented(Invalid),
)
async def issue_token(
    body: TokenCreate, request: Request, ctx: AdminUser, db: DbSession
) -> TokenIssued:
    user = await db.scalar(select(User).where(User.username == body.username))
    if user is None:
        raise Invalid(f"no user {body.username!r}", fields={"username": "unknown user"})
    try:
        issued = await api_tokens.issue(
            db, user=user, name=body.name, issued_by=ctx.user, days=body.days
        )
    except api_tokens.TokenError as exc:
        raise Invalid(str(exc)) from None
    audit.record(
        db,
        actor_id=ctx.user.id,
        actor_name=ctx.user.username,
        action="token.issue",
        object_type="api_token",
        object_id=issued.token.id,
        detail={
            "user": user.username,
            "role": issued.token.role,
            "name": issued.token.name,
            "prefix": issued.token.prefix,
        },
        ip=client_ip(request),
    )
    await db.commit()
    return TokenIssued(**_out(issued.token, user.username).model_dump(), secret=issued.secret)


@router.post(
    "/{token_id}/revoke",
    summary="Revoke an API token (at once; revoking twice is harmless)",
    responses=documented(NotFound),
)
async def revoke_token(
    token_id: TokenId, request: Request, ctx: AdminUser, db: DbSession
) -> TokenOut:
    token = await api_tokens.revoke(db, token_id)
    if token is None:
        raise NotFound(f"no API token {token_id}")
    username = await db.scalar(select(User.username).where(User.id == token.user_id))
    audit.record(
        db,
        actor_id=ctx.user.id,
        actor_name=ctx.user.username,
        action="token.revoke",
        object_type="api_token",
        object_id=token.id,
        detail={"user": username, "prefix": token.prefix},
        ip=client_ip(request),
    )
    await db.commit()
    return _out(token, username or "")
