"""One row per call, keyed by the Asterisk node and the call's Linkedid."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cti.store.base import Base, Timestamps


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Disposition(StrEnum):
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    ABANDONED = "abandoned"  # caller hung up while queued or ringing
    TIMEOUT = "timeout"  # queue timeout / no agent: Queue() returned on its own
    TRANSFERRED = "transferred"
    FAILED = "failed"  # never reached a queue (error, congestion, originate failure)
    VOICEMAIL = "voicemail"  # county closed: the caller was sent to its mailbox
    CALLBACK = "callback"  # county closed: the call is a callback request (callback_requests)


DISPOSITION_VALUES = tuple(d.value for d in Disposition)
DIRECTION_VALUES = tuple(d.value for d in Direction)


class Call(Timestamps, Base):
    __tablename__ = "calls"
    __table_args__ = (
        # Uniqueids restart with Asterisk and repeat across nodes: the node is part of the key.
        UniqueConstraint("node", "linkedid"),
        CheckConstraint(f"disposition IN {DISPOSITION_VALUES!r}", name="disposition_known"),
        CheckConstraint(f"direction IN {DIRECTION_VALUES!r}", name="direction_known"),
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_caller_number_started_at", "caller_number", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    node: Mapped[str] = mapped_column(String(64))
    linkedid: Mapped[str] = mapped_column(String(64))
    #: The inbound (caller) channel's Uniqueid; for inbound calls equal to the Linkedid.
    uniqueid: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(16), default=Direction.INBOUND.value)
    #: Normalised (``cti.numbers``); "" when withheld or not a number.
    caller_number: Mapped[str] = mapped_column(String(24), default="")
    #: Exactly as received, whatever it holds (hostile input is data, not code).
    caller_number_raw: Mapped[str | None] = mapped_column(String(255))
    caller_name: Mapped[str | None] = mapped_column(String(255))
    did: Mapped[str | None] = mapped_column(String(32))
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id", ondelete="SET NULL"))
    queue: Mapped[str | None] = mapped_column(String(64))
    agent_interface: Mapped[str | None] = mapped_column(String(80))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    citizen_id: Mapped[int | None] = mapped_column(
        ForeignKey("citizens.id", ondelete="SET NULL"), index=True
    )
    started_at: Mapped[datetime | None]
    queued_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    wait_s: Mapped[int | None]
    talk_s: Mapped[int | None]
    disposition: Mapped[str] = mapped_column(String(16), default=Disposition.IN_PROGRESS.value)
    hangup_cause: Mapped[int | None]
