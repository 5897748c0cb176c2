"""Dependencies shared by every router: the database session, the logged-in user, roles.

Every route declares exactly one access rule: ``Depends(RequireRole(...))`` or
``Depends(PUBLIC)``. ``tests/integration/web/test_permissions.py`` enumerates the routes and
fails on a route that declares neither, so a new route cannot be left open by accident.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from cti.settings import Settings
from cti.store.users import Role, User
from cti.web import sessions
from cti.web.errors import CsrfFailed, Forbidden, NotAuthenticated

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.session_factory() as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(get_db)]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


AppSettings = Annotated[Settings, Depends(get_settings)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


async def submitted_csrf_token(request: Request) -> str:
    token = request.headers.get(CSRF_HEADER)
    if token:
        return token
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # cached by Starlette: the route can read it again
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


class RequireRole:
    """Allow a request only from a logged-in, active user whose role is in ``roles``.

    On unsafe methods it also checks the CSRF token (header ``X-CSRF-Token`` or form field
    ``csrf_token``) against the session's. Returns the ``AuthContext``.
    """

    def __init__(self, *roles: Role) -> None:
        if not roles:
            raise ValueError("RequireRole needs at least one role")
        self.roles = frozenset(roles)

    def __repr__(self) -> str:
        return f"RequireRole({', '.join(sorted(self.roles))})"

    async def __call__(self, request: Request, db: DbSession) -> sessions.AuthContext:
        policy: sessions.SessionPolicy = request.app.state.session_policy
        ctx = await sessions.resolve(db, request.cookies.get(sessions.COOKIE_NAME), policy)
        if ctx is None:
            raise NotAuthenticated("log in first")
        if Role(ctx.user.role) not in self.roles:
            raise Forbidden(f"this needs the role {' or '.join(sorted(self.roles))}")
        if request.method in UNSAFE_METHODS:
            submitted = await submitted_csrf_token(request)
            if not hmac.compare_digest(submitted.encode(), ctx.session.csrf_token.encode()):
                raise CsrfFailed("missing or wrong CSRF token")
        request.state.auth = ctx
        return ctx


class Public:
    """Marks a route as deliberately open to anyone (login page, health, metrics)."""

    def __repr__(self) -> str:
        return "PUBLIC"

    async def __call__(self) -> None:
        return None


PUBLIC = Public()

ALL_ROLES = tuple(Role)
AnyUser = Annotated[sessions.AuthContext, Depends(RequireRole(*ALL_ROLES))]
AdminUser = Annotated[sessions.AuthContext, Depends(RequireRole(Role.ADMIN))]


def current_user(ctx: sessions.AuthContext) -> User:
    return ctx.user
