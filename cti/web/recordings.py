"""Recording search, replay, QA scoring and the access log (cti.recordings)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
