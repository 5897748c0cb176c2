"""``/password/{secret}``: where a user opens the one-time set-password link an admin gave
them and chooses their password (``cti.password_links``). Public: the link's secret is
the credential, so it also stands in for a CSRF token (another site cannot know it)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cti import accounts, password_links
from cti.web.deps import PUBLIC, DbSession

router = APIRouter(tags=["pages"])

Secret = Annotated[str, Path(max_length=64)]
Password = Annotated[str, Form(max_length=1024)]
_LINK = re.compile(password_links.LINK_PATTERN)
GONE = (
    "This link is not valid any more: it was used, replaced or has expired. "
    "Ask an admin for a new one."
)


def _page(request: Request, status_code: int = 200, **context: Any) -> Response:
    response = request.app.state.templates.TemplateResponse(
        request,
        "set_password.html",
        {"error": None, "username": None, **context},
        status_code=status_code,
    )
    # The secret is in the URL: never send it on to another site.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


async def _link(db: DbSession, secret: str):
    if not _LINK.fullmatch(secret):
        return None
    return await password_links.resolve(db, secret)


@router.get(
    "/password/{secret}",
    response_class=HTMLResponse,
    dependencies=[Depends(PUBLIC)],
    summary="Choose a password through a one-time link (page)",
    responses={404: {"description": "the link was used, replaced or expired (a page)"}},
)
async def set_password_page(secret: Secret, request: Request, db: DbSession) -> Response:
    found = await _link(db, secret)
    if found is None:
        return _page(request, status_code=404, gone=GONE)
    return _page(request, username=found[1].username, gone=None)


@router.post(
    "/password/{secret}",
    response_class=HTMLResponse,
    dependencies=[Depends(PUBLIC)],
    status_code=303,
    summary="Set the password through a one-time link (form)",
    responses={
        404: {"description": "the link was used, replaced or expired (a page)"},
        422: {
            "description": "the password was refused (the form again)",
            "content": {"text/html": {}},
        },
    },
)
async def set_password(
    secret: Secret,
    request: Request,
    db: DbSession,
    password: Password = "",
    password_again: Password = "",
) -> Response:
    found = await _link(db, secret)
    if found is None:
        return _page(request, status_code=404, gone=GONE)
    link, user = found
    username = user.username  # the rollback below expires the row
    error = None
    if password != password_again:
        error = "the two passwords differ"
    else:
        try:
            await password_links.use(db, link, user, password)
        except accounts.AccountError as exc:
            error = str(exc)
    if error is not None:
        await db.rollback()
        return _page(request, status_code=422, username=username, gone=None, error=error)
    await db.commit()
    return RedirectResponse("/login?next=%2F", status_code=303)
