"""The published API for logged-in users: ``/api/openapi.json`` and Swagger UI at ``/api/docs``.

Swagger UI's files come from the ``swagger-ui-bundle-v2`` package and are served by the app
itself (``/api/docs/assets``), so the page works on a closed network and under the app's
CSP (scripts from 'self' only: the page's own start-up code is ``/static/api-docs.js``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import swagger_ui_bundle
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from cti.web.deps import AnyAccount

router = APIRouter(prefix="/api", tags=["api"])

ASSETS_PATH = "/api/docs/assets"
ASSETS_DIR = Path(swagger_ui_bundle.swagger_ui_path)


@router.get("/openapi.json", summary="The OpenAPI description of this API")
async def openapi_json(request: Request, _: AnyAccount) -> dict[str, Any]:
    return request.app.openapi()


@router.get(
    "/docs", response_class=HTMLResponse, summary="Interactive API documentation (Swagger UI)"
)
async def docs_page(request: Request, ctx: AnyAccount) -> Response:
    return request.app.state.templates.TemplateResponse(
        request,
        "api_docs.html",
        {"user": ctx.user, "csrf_token": ctx.csrf_token, "assets": ASSETS_PATH},
    )
