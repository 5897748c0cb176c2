"""Calls the hotline places (click-to-call: revisits of done tickets, after-hours
callbacks) and what the citizen said on a revisit.

An :class:`OutboundCall` is written before the AMI ``Originate`` is sent; its ``linkedid``
is the ``ChannelId`` passed in that Originate, so the call row the FastAGI side logs for it
(and the recording filed against that call) are found by (node, linkedid). An agent has at
most one outbound call in progress (a partial unique index says so).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, func, text
from sqlalchemy.orm import Mapped, mapped_column

from cti.store.base import Base


class OutboundPurpose(StrEnum):
    REVISIT = "revisit"
    CALLBACK = "callback"


class OutboundStatus(StrEnum):
    DIALING = "dialing"  # Originate sent, the outcome not known yet
    CONNECTED = "connected"  # the agent's phone answered, the citizen is being dialled
    FAILED = "failed"  # the agent's phone did not answer, or Asterisk refused the action
    ENDED = "ended"


OUTBOUND_STATUS_VALUES = tuple(s.value for s in OutboundStatus)
IN_PROGRESS = (OutboundStatus.DIALING.value, OutboundStatus.CONNECTED.value)


class OutboundCall(Base):
    __tablename__ = "outbound_calls"
    __table_args__ = (
        CheckConstraint("purpose IN ('revisit', 'callback')", name="purpose_known"),
        CheckConstraint(f"status IN {OUTBOUND_STATUS_VALUES!r}", name="status_known"),
        CheckConstraint("number ~ '^[0-9]{3,20}$'", name="number_digits"),
        CheckConstraint(
            "(purpose = 'revisit') = (ticket_id IS NOT NULL)", name="revisit_has_ticket"
        ),
        CheckConstraint(
            "(purpose = 'callback') = (callback_id IS NOT NULL)", name="callback_has_request"
        ),
        Index("ix_outbound_calls_ticket", "ticket_id"),
        Index("ix_outbound_calls_node_linkedid", "node", "linkedid", unique=True),
        # One call at a time per agent: a second click while one is in progress is refused.
        Index(
            "uq_outbound_calls_agent_in_progress",
            "agent_id",
            unique=True,
            postgresql_where=text("status IN ('dialing', 'connected')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    callback_id: Mapped[int | None] = mapped_column(
        ForeignKey("callback_requests.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: The agent's phone (from the account) and the citizen's number (digits only).
    interface: Mapped[str] = mapped_column(String(80))
    number: Mapped[str] = mapped_column(String(24))
    node: Mapped[str] = mapped_column(String(64))
    #: ChannelId given to Originate: the agent channel's Uniqueid, so the call's Linkedid.
    linkedid: Mapped[str] = mapped_column(String(64))
    action_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=OutboundStatus.DIALING.value)
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    ended_at: Mapped[datetime | None]
    #: Why it failed, as Asterisk said it (``Reason: 3``, ``Originate failed``...).
    failure: Mapped[str | None] = mapped_column(Text)


class Revisit(Base):
    """What the citizen said when asked how the service went."""

    __tablename__ = "revisits"
    __table_args__ = (
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction_range"),
        CheckConstraint("channel IN ('phone', 'sms')", name="channel_known"),
        Index("ix_revisits_ticket", "ticket_id"),
        Index("ix_revisits_company_at", "company_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    #: The company whose work was rated (the ticket's last dispatch), for its reputation.
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))
    dispatch_id: Mapped[int | None] = mapped_column(
        ForeignKey("dispatches.id", ondelete="SET NULL")
    )
    outbound_call_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_calls.id", ondelete="SET NULL")
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(8), default="phone", server_default="phone")
    at: Mapped[datetime] = mapped_column(server_default=func.now())
    satisfaction: Mapped[int]
    service_done: Mapped[bool]
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: The citizen complained: the ticket was reopened or a complaint ticket opened.
    complaint: Mapped[bool] = mapped_column(default=False, server_default="false")
    #: Set by a supervisor reviewing the complaint: it counts against the company.
    complaint_upheld: Mapped[bool | None]
