"""Retention: remove recordings older than N days, except those on legal hold.

A recording is on legal hold when its ``legal_hold`` flag is set (a complaint was opened
on it) or when any complaint about it is still open; such a file is never removed. The
row stays (``purged_at`` set) so searches and the access log keep their history.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cti.recordings import names
from cti.store.recordings import Complaint, Recording

log = logging.getLogger(__name__)


@dataclass
class PurgeReport:
    purged: list[str] = field(default_factory=list)
    held: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    dry_run: bool = False


def on_hold():
    """SQL condition: the recording must be kept whatever its age."""
    open_complaint = exists().where(
        Complaint.recording_id == Recording.id, Complaint.closed_at.is_(None)
    )
    return Recording.legal_hold.is_(True) | open_complaint


async def purge(
    db: AsyncSession, root: Path, older_than_days: int, *, dry_run: bool = False
) -> PurgeReport:
    """Delete the audio of recordings that started more than ``older_than_days`` ago and
    are not on hold; with ``dry_run`` only list them. The caller commits."""
    if older_than_days < 1:
        raise ValueError("--older-than must be at least 1 day")
    cutoff = datetime.now(UTC) - timedelta(days=older_than_days)
    old = (Recording.started_at < cutoff) & Recording.purged_at.is_(None)
    report = PurgeReport(dry_run=dry_run)
    report.held = await db.scalar(select(func.count()).where(old, on_hold())) or 0
    rows = (
        await db.execute(
            select(Recording.id, Recording.path)
            .where(old, ~on_hold())
            .order_by(Recording.started_at)
            .with_for_update(skip_locked=True)
        )
    ).all()
    now = datetime.now(UTC)
    done: list[int] = []
    for rid, path in rows:
        if dry_run:
            report.purged.append(path)
            continue
        try:
            names.resolve_inside(root, path).unlink(missing_ok=True)
        except (OSError, names.OutsideRoot) as exc:
            report.errors.append((path, str(exc)))
            continue
        report.purged.append(path)
        done.append(rid)
    if done:
        await db.execute(update(Recording).where(Recording.id.in_(done)).values(purged_at=now))
        log.info(
            "recordings purged", extra={"count": len(done), "older_than_days": older_than_days}
        )
    return report
