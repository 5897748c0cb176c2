"""Versions of the applied routing include: fingerprint, diff, and the stored history."""

from __future__ import annotations

import difflib
import hashlib
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.store.routing import RoutingVersion


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def unified_diff(before: str, after: str, before_name: str, after_name: str) -> str:
    """A unified diff of two texts ('' when equal)."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=before_name,
            tofile=after_name,
        )
    )


async def last_applied(session: AsyncSession) -> RoutingVersion | None:
    return await session.scalar(
        select(RoutingVersion)
        .where(RoutingVersion.result == "applied")
        .order_by(RoutingVersion.id.desc())
        .limit(1)
    )


async def history(session: AsyncSession, limit: int = 100) -> list[RoutingVersion]:
    rows = await session.scalars(
        select(RoutingVersion).order_by(RoutingVersion.id.desc()).limit(limit)
    )
    return list(rows)


def summary(version: RoutingVersion, *, full: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": version.id,
        "created_at": version.created_at.isoformat() if version.created_at else None,
        "author": version.author_name,
        "sha256": version.sha256,
        "result": version.result,
        "error": version.error,
        "rollback_of": version.rollback_of,
    }
    if full:
        data |= {
            "text": version.text,
            "queues_text": version.queues_text,
            "diff": version.diff,
            "lint_output": version.lint_output,
        }
    return data
