"""The audit log: who did what, when, on which object. Rows are only ever inserted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, func, select
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from cti.store.base import Base


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)
    #: Null for the system itself (CLI, seeding, background jobs).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Kept as text so the entry survives the user's deletion.
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    ip: Mapped[str | None] = mapped_column(INET)


def record(
    session: AsyncSession,
    *,
    actor_id: int | None,
    actor_name: str,
    action: str,
    object_type: str,
    object_id: object = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Add an audit entry to the session's current transaction (it commits with the change)."""
    entry = AuditEntry(
        actor_id=actor_id,
        actor_name=actor_name,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        detail=detail or {},
        ip=ip,
    )
    session.add(entry)
    return entry


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What a reader of the log narrows it to; ``None`` means any. ``actor`` and ``action``
    match exactly or, ending in ``*``, by prefix (``user.*``)."""

    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _match(column: Any, value: str) -> Any:
    if value.endswith("*"):
        prefix = value[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return column.like(prefix + "%", escape="\\")
    return column == value


async def read_page(
    session: AsyncSession, where: AuditFilter, *, before_id: int | None, limit: int
) -> list[AuditEntry]:
    """Newest first, at most ``limit``, older than ``before_id`` (keyset pages)."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    if where.actor:
        stmt = stmt.where(_match(AuditEntry.actor_name, where.actor))
    if where.action:
        stmt = stmt.where(_match(AuditEntry.action, where.action))
    if where.object_type:
        stmt = stmt.where(AuditEntry.object_type == where.object_type)
    if where.object_id:
        stmt = stmt.where(AuditEntry.object_id == where.object_id)
    if where.since is not None:
        stmt = stmt.where(AuditEntry.at >= where.since)
    if where.until is not None:
        stmt = stmt.where(AuditEntry.at < where.until)
    return list((await session.scalars(stmt)).all())
