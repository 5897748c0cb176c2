"""``/healthz`` (database and every running part) and ``/metrics`` (Prometheus text)."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse
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


@router.get("/healthz")
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


@router.get("/metrics", response_class=PlainTextResponse)
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
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")
