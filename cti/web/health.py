"""``/healthz`` (database and every running part) and ``/metrics`` (Prometheus text)."""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text

from cti.service import Health
from cti.web.deps import PUBLIC

router = APIRouter(dependencies=[Depends(PUBLIC)])

DB_TIMEOUT_S = 2.0


async def database_health(request: Request) -> Health:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(DB_TIMEOUT_S):
            async with request.app.state.session_factory() as db:
                await db.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "down"; the detail says which
        return Health(False, {"error": type(exc).__name__})
    return Health(True, {"latency_ms": round((time.perf_counter() - started) * 1000, 1)})


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class HealthOut(BaseModel):
    """``status`` and ``roles``, then one object per part (``database``, ``ami``, ``agi``,
    ``recordings``...), each with ``ok`` and what the part reports about itself."""

    model_config = ConfigDict(extra="allow")

    status: Literal["ok", "degraded"]
    roles: list[str]


@router.get(
    "/healthz",
    summary="Liveness and readiness of the process and its parts",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "a part (the database...) is down"}},
)
async def healthz(request: Request) -> JSONResponse:
    db = await database_health(request)
    parts: dict[str, object] = {"database": {"ok": db.ok, **db.detail}}
    ok = db.ok
    for service in request.app.state.services:
        health = service.health()
        parts[service.name] = {"ok": health.ok, **health.detail}
        ok = ok and health.ok
    for role in ("ami", "agi", "recordings"):
        parts.setdefault(role, {"ok": True, "running": False})
    body = {"status": "ok" if ok else "degraded", "roles": sorted(request.app.state.roles), **parts}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get(
    "/metrics", response_class=PlainTextResponse, summary="Prometheus metrics (text format)"
)
async def metrics(request: Request) -> PlainTextResponse:
    db = await database_health(request)
    lines = [
        "# HELP cti_up The backend process is running.",
        "# TYPE cti_up gauge",
        "cti_up 1",
        "# HELP cti_database_up Postgres answered SELECT 1 within 2 s.",
        "# TYPE cti_database_up gauge",
        f"cti_database_up {int(db.ok)}",
        "# HELP cti_http_requests_total HTTP requests by method and status code.",
        "# TYPE cti_http_requests_total counter",
    ]
    for (method, status), count in sorted(request.app.state.request_counts.items()):
        lines.append(
            f'cti_http_requests_total{{method="{_label(method)}",status="{status}"}} {count}'
        )
    for service in request.app.state.services:
        lines.extend(service.metrics())
    lines.extend(request.app.state.sms_intake.counters.metrics())
    lines.extend(request.app.state.public_site.counters.metrics())
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
