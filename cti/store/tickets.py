"""Tickets: what the citizen asked for, written by the agent during or after the call."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Sequence, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cti.store.base import Base, Timestamps


class TicketStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DISPATCHED = "dispatched"
    ANSWERED = "answered"
    CLOSED = "closed"


STATUS_VALUES = tuple(s.value for s in TicketStatus)
OPEN_STATUSES = (TicketStatus.OPEN, TicketStatus.IN_PROGRESS, TicketStatus.DISPATCHED)

#: Feeds the human-readable ticket number (``T2026-000042``); never reused.
ticket_number_seq = Sequence("ticket_number_seq", metadata=Base.metadata)


class Ticket(Timestamps, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUS_VALUES!r}", name="status_known"),
        Index("ix_tickets_citizen_status", "citizen_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id", ondelete="SET NULL"))
    call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), index=True
    )
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_categories.id", ondelete="SET NULL")
    )
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.OPEN.value)
    description: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None]


def format_ticket_number(year: int, seq: int) -> str:
    return f"T{year}-{seq:06d}"
