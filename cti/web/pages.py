"""The home page: who is logged in, and the pages their role may open (``navigation``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from cti.web import navigation
from cti.web.deps import AnyAccount

router = APIRouter()


@router.get("/", response_class=HTMLResponse, summary="Home page: the pages your role may open")
async def home(request: Request, ctx: AnyAccount) -> Response:
    return request.app.state.templates.TemplateResponse(
        request,
        "home.html",
        {
            "user": ctx.user,
            "csrf_token": ctx.csrf_token,
            "links": navigation.links_for(ctx.user.role),
        },
    )
