"""Tickets: what the citizen asked for, and every change made to it since (its events).

A ticket's ``status`` is only ever changed together with a :class:`TicketEvent` row saying
who changed it, when, from what, to what and why; which change is allowed from which state
for which role is decided by the pure :mod:`cti.tickets.lifecycle`, never here.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    ForeignKey,
    Index,
    Sequence,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from cti.store.base import Base, Timestamps


class TicketStatus(StrEnum):
    NEW = "new"  # taken, nothing done yet
    ANSWERED = "answered"  # an information request, answered by the agent on the call
    DISPATCHED = "dispatched"  # offered to a company, waiting for it to accept
    DECLINED = "declined"  # the company declined: back to the agents to dispatch again
    ACCEPTED = "accepted"  # the company took the job
    IN_SERVICE = "in_service"  # the company is doing the work
    DONE = "done"  # the company says the work is done: waits for the revisit call
    REVISITED = "revisited"  # the citizen was asked how it went
    CLOSED = "closed"
    REOPENED = "reopened"  # a complaint sent it back to be dispatched again
    CANCELLED = "cancelled"  # withdrawn by the citizen, or a duplicate


STATUS_VALUES = tuple(s.value for s in TicketStatus)
#: Statuses in which something is still to be done by someone.
OPEN_STATUSES = (
    TicketStatus.NEW,
    TicketStatus.DISPATCHED,
    TicketStatus.DECLINED,
    TicketStatus.ACCEPTED,
    TicketStatus.IN_SERVICE,
    TicketStatus.DONE,
    TicketStatus.REOPENED,
)


class Channel(StrEnum):
    PHONE = "phone"
    SMS = "sms"
    WEB = "web"
    WALK_IN = "walk_in"


CHANNEL_VALUES = tuple(c.value for c in Channel)


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


PRIORITY_VALUES = tuple(p.value for p in Priority)

#: Feeds the human-readable ticket number (``T2026-000042``); never reused.
ticket_number_seq = Sequence("ticket_number_seq", metadata=Base.metadata)

#: What ticket search's free text reads: the description and every note written on it.
#: ``simple``: no stemming, the texts are in several languages.
SEARCH_DOCUMENT = "to_tsvector('simple'::regconfig, description || ' ' || notes_text)"


class Ticket(Timestamps, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(f"status IN {STATUS_VALUES!r}", name="status_known"),
        CheckConstraint(f"channel IN {CHANNEL_VALUES!r}", name="channel_known"),
        CheckConstraint(f"priority IN {PRIORITY_VALUES!r}", name="priority_known"),
        CheckConstraint(
            "preferred_end IS NULL OR preferred_start IS NULL OR preferred_end > preferred_start",
            name="preferred_window_order",
        ),
        Index("ix_tickets_citizen_status", "citizen_id", "status"),
        Index("ix_tickets_county_status_created", "county_id", "status", "created_at"),
        Index("ix_tickets_owner_status", "owner_id", "status"),
        Index("ix_tickets_created_at", "created_at"),
        Index("ix_tickets_search", "search", postgresql_using="gin"),
        # Ticket search (migration 0008): each list and filter walks one of these in
        # created_at order and stops after a page.
        Index("ix_tickets_owner_created", "owner_id", "created_at"),
        Index("ix_tickets_county_created", "county_id", "created_at"),
        Index("ix_tickets_category_created", "category_id", "created_at"),
        Index("ix_tickets_subcategory_created", "subcategory_id", "created_at"),
        Index("ix_tickets_status_created", "status", "created_at"),
        Index("ix_tickets_status_category_created", "status", "category_id", "created_at"),
        # Free text + status + category for an agent (migration 0020): the county's part of
        # the scope as a bitmap, ANDed with the words'.
        Index(
            "ix_tickets_status_category_county_created",
            "status",
            "category_id",
            "county_id",
            "created_at",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id", ondelete="SET NULL"))
    #: The call it was taken on (the revisit calls are in ``outbound_calls``).
    call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), index=True
    )
    #: Top-level service category, and the catalogue item under it (when one was chosen).
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_categories.id", ondelete="SET NULL")
    )
    subcategory_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_categories.id", ondelete="SET NULL")
    )
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.NEW.value)
    channel: Mapped[str] = mapped_column(
        String(16), default=Channel.PHONE.value, server_default=Channel.PHONE.value
    )
    priority: Mapped[str] = mapped_column(
        String(16), default=Priority.NORMAL.value, server_default=Priority.NORMAL.value
    )
    description: Mapped[str] = mapped_column(Text, default="")
    #: Where the work is to be done, and when the citizen would like it (both optional).
    address: Mapped[str | None] = mapped_column(Text)
    preferred_start: Mapped[datetime | None]
    preferred_end: Mapped[datetime | None]
    #: Every note written on the ticket, in order, for free-text search (the notes
    #: themselves are in ``ticket_events``; this copy is appended with each note event).
    notes_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    search: Mapped[str] = mapped_column(TSVECTOR, Computed(SEARCH_DOCUMENT, persisted=True))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: The agent who looks after it ("my tickets"): its author until someone takes it over.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: A complaint ticket names the ticket it complains about.
    complaint_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("tickets.id", ondelete="SET NULL"), index=True
    )
    #: For a complaint ticket: a supervisor's finding (None: not reviewed yet); an upheld
    #: complaint counts against the company that did the work.
    complaint_upheld: Mapped[bool | None]
    closed_at: Mapped[datetime | None]


class TicketEvent(Base):
    """One change to a ticket: a status move (``from_status`` -> ``to_status``) or a note
    (both statuses equal), by a user or a company, with the note they wrote (verbatim)."""

    __tablename__ = "ticket_events"
    __table_args__ = (
        Index("ix_ticket_events_ticket_at", "ticket_id", "at"),
        CheckConstraint(f"to_status IN {STATUS_VALUES!r}", name="to_status_known"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(server_default=func.now())
    #: What happened, in one word: create, answer, dispatch, accept, decline, start, done,
    #: revisit, close, complaint, reopen, cancel, note, migrate...
    kind: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Who it was as shown in the timeline, kept when the account is gone.
    actor_name: Mapped[str] = mapped_column(String(120))
    actor_role: Mapped[str] = mapped_column(String(16))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="", server_default="")


def format_ticket_number(year: int, seq: int) -> str:
    return f"T{year}-{seq:06d}"
