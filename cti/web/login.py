"""Login and logout (HTML form). The login form is protected against CSRF with a
double-submit cookie, since there is no session yet to bind a token to."""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cti import accounts
from cti.store import audit
from cti.web import sessions
from cti.web.deps import PUBLIC, AnyAccount, AppSettings, DbSession, client_ip

log = logging.getLogger(__name__)
router = APIRouter()

LOGIN_CSRF_COOKIE = "cti_login_csrf"


def safe_next(target: str | None) -> str:
    """Only same-site paths: ``/x`` yes; ``//evil``, ``/\\evil``, ``http://...`` no."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 32 for c in target):
        return "/"
    return target


def _login_page(
    request: Request, *, next_: str, error: str | None = None, status_code: int = 200
) -> Response:
    token = secrets.token_urlsafe(32)
    response = request.app.state.templates.TemplateResponse(
        request,
        "login.html",
        {"csrf_token": token, "next": safe_next(next_), "error": error},
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.cookie_secure,
        path="/login",
    )
    return response


@router.get(
    "/login",
    response_class=HTMLResponse,
    dependencies=[Depends(PUBLIC)],
    summary="The login form",
)
async def login_form(request: Request, next: str = "/") -> Response:  # noqa: A002
    return _login_page(request, next_=next)


@router.post(
    "/login",
    dependencies=[Depends(PUBLIC)],
    summary="Log in: sets the session cookie and redirects to `next`",
    response_class=HTMLResponse,
    status_code=303,
    responses={
        303: {"description": "logged in: on to `next` (a path of this site)"},
        401: {"description": "wrong username or password (the form again)"},
        403: {"description": "the account is disabled (the form again)"},
        429: {"description": "too many failed attempts: wait (the form again)"},
    },
)
async def login(
    request: Request,
    db: DbSession,
    settings: AppSettings,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=accounts.MAX_PASSWORD_LENGTH)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",  # noqa: A002
) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf_token.encode()):
        return _login_page(
            request,
            next_=next,
            error="Your login form expired; please try again.",
            status_code=403,
        )
    ip = client_ip(request)
    try:
        user = await accounts.authenticate(
            db, username, password, ip, request.app.state.login_policy
        )
    except accounts.LoginThrottled:
        await db.commit()
        log.warning("login throttled", extra={"username": username[:64], "ip": ip})
        return _login_page(
            request,
            next_=next,
            status_code=429,
            error="Too many failed attempts. Wait a few minutes and try again.",
        )
    if user is None:
        await db.commit()
        log.info("login failed", extra={"username": username[:64], "ip": ip})
        return _login_page(
            request, next_=next, error="Wrong username or password.", status_code=401
        )
    token = await sessions.open_session(
        db, user, request.app.state.session_policy, ip, request.headers.get("user-agent")
    )
    audit.record(
        db,
        actor_id=user.id,
        actor_name=user.username,
        action="user.login",
        object_type="user",
        object_id=user.id,
        ip=ip,
    )
    await db.commit()
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        sessions.COOKIE_NAME,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        max_age=settings.session_max_age_s,
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post(
    "/logout",
    summary="Log out: ends the session",
    response_class=RedirectResponse,
    status_code=303,
    responses={303: {"description": "logged out: on to the login page"}},
)
async def logout(request: Request, ctx: AnyAccount, db: DbSession) -> Response:
    await sessions.close_session(db, request.cookies.get(sessions.COOKIE_NAME, ""))
    audit.record(
        db,
        actor_id=ctx.user.id,
        actor_name=ctx.user.username,
        action="user.logout",
        object_type="user",
        object_id=ctx.user.id,
        ip=client_ip(request),
    )
    await db.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(sessions.COOKIE_NAME, path="/")
    return response
