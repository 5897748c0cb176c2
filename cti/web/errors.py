"""Typed errors of the web layer, mapped to status codes in one handler."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field


class AppError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, detail: str = "", *, fields: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.code)
        self.detail = detail or self.code.replace("_", " ")
        self.fields = fields or {}


class NotAuthenticated(AppError):
    status_code = 401
    code = "not_authenticated"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class CsrfFailed(Forbidden):
    code = "csrf_failed"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class Invalid(AppError):
    status_code = 422
    code = "invalid"


class TooManyRequests(AppError):
    status_code = 429
    code = "too_many_requests"


def _wants_html(request: Request) -> bool:
    """A browser asking for a page (not the API's JSON; ``/api/docs`` is a page)."""
    route = request.scope.get("route")
    page = getattr(route, "response_class", None) is HTMLResponse
    if request.url.path.startswith("/api/") and not page:
        return False
    return "text/html" in request.headers.get("accept", "")


async def handle_app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    if isinstance(exc, NotAuthenticated) and request.method == "GET" and _wants_html(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    body: dict[str, object] = {"error": exc.code, "detail": exc.detail}
    if exc.fields:
        body["fields"] = exc.fields
    return JSONResponse(body, status_code=exc.status_code)


def install(app: FastAPI) -> None:
    app.add_exception_handler(AppError, handle_app_error)


class ErrorOut(BaseModel):
    """The body of every error the API returns itself (not FastAPI's request validation)."""

    error: str = Field(description="machine-readable code, e.g. not_found, csrf_failed")
    detail: str = Field(description="what went wrong, for a person")
    fields: dict[str, str] | None = Field(
        default=None, description="per input field, what is wrong with it"
    )


def documented(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that raises ``errors``: one entry per status code, its
    description naming the error codes. Authentication and role errors are added for every
    route from its access rule (``cti.web.openapi``); list only what the route raises."""
    by_status: dict[int, list[str]] = {}
    for error in errors:
        by_status.setdefault(error.status_code, []).append(error.code)
    return {
        status: {"model": ErrorOut, "description": ", ".join(sorted(set(codes)))}
        for status, codes in sorted(by_status.items())
    }
