"""What the server-rendered pages of the centre's staff share: the page itself (the
logged-in user and their CSRF token in every template), and a refused form shown again
with why once the refused change is undone."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from cti.web.sessions import AuthContext


async def undo_refused(db: AsyncSession, ctx: AuthContext) -> None:
    """Roll the refused change back and reload the logged-in account the page shows (the
    rollback expired it: reading it afterwards would need I/O the template cannot do)."""
    await db.rollback()
    for row in (ctx.user, ctx.session, ctx.token):
        if row is not None:
            await db.refresh(row)


def staff_page(
    request: Request, ctx: AuthContext, template: str, status_code: int = 200, **context: Any
) -> Response:
    """``template`` with ``context``, the logged-in ``user`` and their ``csrf_token``."""
    return request.app.state.templates.TemplateResponse(
        request,
        template,
        {"user": ctx.user, "csrf_token": ctx.csrf_token, **context},
        status_code=status_code,
    )


async def form_again(
    db: AsyncSession,
    ctx: AuthContext,
    page: Callable[..., Awaitable[Response]],
    *,
    status_code: int,
    **context: Any,
) -> Response:
    """A refused form's page again, with why: the refused change undone
    (:func:`undo_refused`), then ``page(status_code=..., **context)`` -- the form's own
    page function, given what was typed and the error(s) in ``context``. The status is
    said at each call (422, 409): the schema test reads it there."""
    await undo_refused(db, ctx)
    return await page(status_code=status_code, **context)
