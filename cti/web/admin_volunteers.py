"""``/admin/volunteers``: who signed up as a volunteer on the public site, newest first
(an admin of one county sees that county's). Read-only; what they typed is shown as
text."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from cti.public.volunteers import recent
from cti.web.deps import AdminUser, DbSession

router = APIRouter(prefix="/admin", tags=["pages"])


@router.get(
    "/volunteers",
    response_class=HTMLResponse,
    summary="Volunteers who signed up on the public site (page)",
)
async def volunteers_page(request: Request, ctx: AdminUser, db: DbSession) -> Response:
    rows = await recent(db, county_id=ctx.user.county_id)
    return request.app.state.templates.TemplateResponse(
        request,
        "admin_volunteers.html",
        {"user": ctx.user, "csrf_token": ctx.csrf_token, "rows": rows},
    )
