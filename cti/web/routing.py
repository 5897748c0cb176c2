"""Admin pages and API for the county routing (cti.routing)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
