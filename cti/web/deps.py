"""Dependencies shared by every router: the database session, the logged-in user, roles.

Every route declares exactly one access rule: ``Depends(RequireRole(...))`` or
``Depends(PUBLIC)``. ``tests/integration/web/test_permissions.py`` enumerates the routes and
fails on a route that declares neither, so a new route cannot be left open by accident.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, WebSocketException
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from cti import api_tokens
from cti.forwarded import client_address
from cti.pjsip_conf import agent_phones_in
from cti.settings import Settings
from cti.store.users import Role, User
from cti.web import sessions
from cti.web.errors import CsrfFailed, Forbidden, NotAuthenticated

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


async def get_db(conn: HTTPConnection) -> AsyncIterator[AsyncSession]:
    async with conn.app.state.session_factory() as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(get_db)]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


AppSettings = Annotated[Settings, Depends(get_settings)]


def get_agent_phones(request: Request) -> frozenset[str]:
    """The agents' phones in the configured pjsip.conf, read once per app."""
    phones = getattr(request.app.state, "agent_phones", None)
    if phones is None:
        phones = agent_phones_in(request.app.state.settings.asterisk_conf_dir)
        request.app.state.agent_phones = phones
    return phones


AgentPhones = Annotated[frozenset[str], Depends(get_agent_phones)]


def client_ip(conn: HTTPConnection) -> str | None:
    """The client's address: the direct peer, or behind a trusted proxy
    (``CTI_TRUSTED_PROXIES``) the address ``X-Forwarded-For`` names (``cti.forwarded``).
    Every per-address rule (the public site's limits, login throttling, audit rows) asks
    this, so all of them see the same client."""
    peer = conn.client.host if conn.client else None
    proxies = getattr(conn.app.state, "trusted_proxies", ())
    if not proxies:
        return peer
    return client_address(peer, conn.headers.getlist("x-forwarded-for"), proxies)


#: WebSocket close codes (4000-4999 are the application's): 4401 log in, 4403 not allowed.
WS_NOT_AUTHENTICATED = 4401
WS_FORBIDDEN = 4403


def same_origin(conn: HTTPConnection) -> bool:
    """A browser WebSocket from another site carries our cookie too (cross-site WebSocket
    hijacking); only accept an Origin whose host:port is the one the request was sent to."""
    origin = conn.headers.get("origin")
    if not origin:
        return False
    return urlsplit(origin).netloc == conn.headers.get("host")


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


def bearer_token(conn: HTTPConnection) -> str | None:
    """The secret of an ``Authorization: Bearer ...`` header, if the request has one."""
    scheme, _, value = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip()


class RequireRole:
    """Allow a request only from a logged-in, active user whose role is in ``roles``.

    The caller is a browser session (cookie) or, with ``Authorization: Bearer``, a machine
    client's API token (``cti.api_tokens``). On unsafe methods a session must also send its
    CSRF token (header ``X-CSRF-Token`` or form field ``csrf_token``). Returns the
    ``AuthContext``.
    """

    def __init__(self, *roles: Role) -> None:
        if not roles:
            raise ValueError("RequireRole needs at least one role")
        self.roles = frozenset(roles)

    def __repr__(self) -> str:
        return f"RequireRole({', '.join(sorted(self.roles))})"

    async def __call__(self, conn: HTTPConnection, db: DbSession) -> sessions.AuthContext:
        websocket = conn.scope["type"] == "websocket"
        bearer = None if websocket else bearer_token(conn)
        if bearer is not None:
            return await self._check_token(conn, db, bearer)
        policy: sessions.SessionPolicy = conn.app.state.session_policy
        ctx = await sessions.resolve(db, conn.cookies.get(sessions.COOKIE_NAME), policy)
        if websocket:
            await self._check_websocket(conn, ctx)
            # A socket stays open for a whole shift, and the session lives as long as the
            # endpoint: end the read transaction now, or every open socket holds a pooled
            # connection (idle in transaction) and the 16th agent to connect waits for one.
            await db.commit()
        elif ctx is None:
            raise NotAuthenticated("log in first")
        elif Role(ctx.user.role) not in self.roles:
            raise Forbidden(f"this needs the role {' or '.join(sorted(self.roles))}")
        assert ctx is not None
        if isinstance(conn, Request) and conn.method in UNSAFE_METHODS:
            submitted = await submitted_csrf_token(conn)
            if not hmac.compare_digest(submitted.encode(), ctx.csrf_token.encode()):
                raise CsrfFailed("missing or wrong CSRF token")
        conn.state.auth = ctx
        return ctx

    async def _check_token(
        self, conn: HTTPConnection, db: AsyncSession, secret: str
    ) -> sessions.AuthContext:
        # A bearer token is never sent by a browser on its own (unlike a cookie), so a
        # token request needs no CSRF token.
        found = await api_tokens.resolve(db, secret)
        if found is None:
            raise NotAuthenticated("unknown, revoked or expired API token")
        token, user = found
        if Role(token.role) not in self.roles:
            raise Forbidden(f"this needs the role {' or '.join(sorted(self.roles))}")
        ctx = sessions.AuthContext(user=user, token=token)
        conn.state.auth = ctx
        return ctx

    async def _check_websocket(
        self, websocket: HTTPConnection, ctx: sessions.AuthContext | None
    ) -> None:
        # A refusal before accept() reaches the browser as a bare HTTP 403 and close code
        # 1006, indistinguishable from a network fault; accept first so the page gets our
        # close code and knows whether to log in again (4401) or to stop retrying (4403).
        if ctx is None:
            code, reason = WS_NOT_AUTHENTICATED, "log in first"
        elif not same_origin(websocket):
            code, reason = WS_FORBIDDEN, "cross-origin WebSocket refused"
        elif Role(ctx.user.role) not in self.roles:
            code, reason = WS_FORBIDDEN, "role not allowed"
        else:
            return
        await websocket.accept()  # type: ignore[attr-defined]
        raise WebSocketException(code, reason)


class Public:
    """Marks a route as deliberately open to anyone (login page, health, metrics)."""

    def __repr__(self) -> str:
        return "PUBLIC"

    async def __call__(self) -> None:
        return None


PUBLIC = Public()

ALL_ROLES = tuple(Role)
#: The centre's own staff: every role but a service company's login.
CENTRE_ROLES = tuple(role for role in Role if role is not Role.COMPANY)
#: Any logged-in account, a company's included: only for what is about the account itself
#: (home, logout, /api/me, the API description).
AnyAccount = Annotated[sessions.AuthContext, Depends(RequireRole(*ALL_ROLES))]
#: Any of the centre's staff.
AnyUser = Annotated[sessions.AuthContext, Depends(RequireRole(*CENTRE_ROLES))]
AdminUser = Annotated[sessions.AuthContext, Depends(RequireRole(Role.ADMIN))]
AgentUser = Annotated[sessions.AuthContext, Depends(RequireRole(Role.AGENT))]


def current_user(ctx: sessions.AuthContext) -> User:
    return ctx.user
