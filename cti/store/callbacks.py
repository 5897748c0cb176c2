"""Callback requests: a citizen called a closed county whose after-hours action is
"callback", so an agent calls them back.

One request per such call (``call_id`` is unique): the FastAGI writer creates it in the
same transaction as the call's end (``cti.agi.writer``), so a replayed journal cannot
create two. Agents work the open ones (``cti.callbacks``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cti.store.base import Base, Timestamps


class CallbackStatus(StrEnum):
    OPEN = "open"  # nobody reached the citizen yet
    DONE = "done"  # an agent spoke with the citizen
    UNREACHABLE = "unreachable"  # no number, a wrong number, or too many failed attempts


CALLBACK_STATUS_VALUES = tuple(s.value for s in CallbackStatus)


class CallbackRequest(Timestamps, Base):
    __tablename__ = "callback_requests"
    __table_args__ = (
        CheckConstraint(f"status IN {CALLBACK_STATUS_VALUES!r}", name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # The agents' list: open requests of a county, oldest first.
        Index(
            "ix_callback_requests_status_county_requested", "status", "county_id", "requested_at"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id", ondelete="SET NULL"))
    #: Normalised caller number to call back; "" when the caller withheld it.
    number: Mapped[str] = mapped_column(String(24), default="")
    requested_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=CallbackStatus.OPEN.value)
    attempts: Mapped[int] = mapped_column(default=0)
    last_attempt_at: Mapped[datetime | None]
    #: Who handled it last, and what they noted (agent's text: stored verbatim, bounded).
    handled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(Text)
    #: The agent calling the citizen now: two agents never dial the same citizen.
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    claimed_at: Mapped[datetime | None]
