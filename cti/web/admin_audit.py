"""``/admin/audit``: the audit log for administrators, filtered, in keyset pages (newest
first; "Older entries" carries the last id of the page). Read-only, as the API."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from cti.web.audit import AuditFilterParams, AuditOut, filter_problems, query_of, read_entries
from cti.web.deps import AdminUser, DbSession

router = APIRouter(prefix="/admin", tags=["pages"])


@router.get(
    "/audit",
    response_class=HTMLResponse,
    summary="The audit log: filter by user, action, object, time (page)",
    responses={
        422: {
            "description": "a filter is not valid (the page again, filters kept, with why)",
            "content": {"text/html": {}},
        }
    },
)
async def audit_page(
    request: Request, ctx: AdminUser, db: DbSession, raw: AuditFilterParams
) -> Response:
    problems = filter_problems(raw)
    if problems:
        # The filters as typed, and why, instead of the API's JSON: the admin fixes them.
        typed = raw.model_dump(exclude={"before_id", "limit"}, exclude_none=True)
        return _render(
            request,
            ctx,
            [],
            typed,
            None,
            True,
            error="; ".join(f"{detail}: {message}" for detail, message in problems.values()),
            status_code=422,
        )
    q = query_of(raw)
    entries = await read_entries(db, q.model_copy(update={"limit": q.limit + 1}))
    more = len(entries) > q.limit
    entries = entries[: q.limit]
    filters = q.model_dump(exclude={"before_id", "limit"}, exclude_none=True)
    older = None
    if more and entries:
        params = {**{k: str(v) for k, v in filters.items()}, "before_id": str(entries[-1].id)}
        older = params
    shown = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in filters.items()}
    return _render(request, ctx, entries, shown, older, q.before_id is None)


def _render(
    request: Request,
    ctx: Any,
    entries: list[AuditOut],
    filters: dict[str, Any],
    older: dict[str, str] | None,
    first_page: bool,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
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
            "filters": filters,
            "older": older,
            "first_page": first_page,
            "error": error,
        },
        status_code=status_code,
    )
