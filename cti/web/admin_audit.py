"""``/admin/audit``: the audit log for administrators, filtered, in keyset pages (newest
first; "Older entries" carries the last id of the page). Read-only, as the API."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from cti.web.audit import AuditParams, read_entries
from cti.web.deps import AdminUser, DbSession
from cti.web.errors import Invalid, documented

router = APIRouter(prefix="/admin", tags=["pages"])


@router.get(
    "/audit",
    response_class=HTMLResponse,
    summary="The audit log: filter by user, action, object, time (page)",
    responses=documented(Invalid),
)
async def audit_page(request: Request, ctx: AdminUser, db: DbSession, q: AuditParams) -> Response:
    entries = await read_entries(db, q.model_copy(update={"limit": q.limit + 1}))
    more = len(entries) > q.limit
    entries = entries[: q.limit]
    filters = q.model_dump(exclude={"before_id", "limit"}, exclude_none=True)
    older = None
    if more and entries:
        params = {**{k: str(v) for k, v in filters.items()}, "before_id": str(entries[-1].id)}
        older = params
    return request.app.state.templates.TemplateResponse(
        request,
        "admin_audit.html",
        {
            "user": ctx.user,
            "csrf_token": ctx.csrf_token,
            "entries": [
                {**e.model_dump(), "detail_text": json.dumps(e.detail, ensure_ascii=False)}
                for e in entries
            ],
            "filters": {
                k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in filters.items()
            },
            "older": older,
            "first_page": q.before_id is None,
        },
    )
