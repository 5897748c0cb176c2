"""Browser pages. Each role's console arrives with its own issue; the home page lists what
the logged-in user may open."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from cti.store.users import Role
from cti.web.deps import AnyUser

router = APIRouter()

#: What each role may open from the home page (the role consoles add themselves here).
LINKS: dict[Role, list[tuple[str, str]]] = {
    Role.AGENT: [("/agent", "Agent console")],
    Role.INSPECTOR: [("/recordings", "Recordings")],
    Role.SUPERVISOR: [("/recordings", "Recordings")],
    Role.ADMIN: [
        ("/recordings", "Recordings"),
        ("/admin/routing", "County routing"),
        ("/api/users", "Users (JSON)"),
        ("/api/audit", "Audit log (JSON)"),
    ],
}
COMMON_LINKS = [
    ("/api/me", "My profile (JSON)"),
    ("/api/service-categories", "Service catalogue (JSON)"),
]


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, ctx: AnyUser) -> Response:
    return request.app.state.templates.TemplateResponse(
        request,
        "home.html",
        {
            "user": ctx.user,
            "csrf_token": ctx.session.csrf_token,
            "links": [
                {"href": href, "label": label}
                for href, label in LINKS[Role(ctx.user.role)] + COMMON_LINKS
            ],
        },
    )
