"""``GET /recordings``: the inspector's page (search, replay, score)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from cti.store.calls import DISPOSITION_VALUES
from cti.store.counties import County
from cti.web.deps import DbSession
from cti.web.recordings.shared import StaffUser

router = APIRouter()


@router.get(
    "/recordings", response_class=HTMLResponse, summary="Recordings: search, replay, score (page)"
)
async def page(request: Request, ctx: StaffUser, db: DbSession) -> Response:
    counties = (await db.execute(select(County.code, County.name).order_by(County.code))).all()
    return request.app.state.templates.TemplateResponse(
        request,
        "recordings.html",
        {
            "user": ctx.user,
            "csrf_token": ctx.csrf_token,
            "counties": counties,
            "dispositions": DISPOSITION_VALUES,
        },
    )
