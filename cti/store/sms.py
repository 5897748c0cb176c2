"""Text messages: every message an SMS gateway posted to us (``sms_inbound``), every
message owed to a citizen (the ``sms_outbox``), and the numbers that texted STOP.

An inbound message is stored whatever became of it (a new ticket, a note on an open one,
a revisit score, an opt-out, or nothing: a sender that is not a phone number); its
``gateway_id`` is unique, so the store is also the "seen before" table that refuses a
replayed post. An outbox row is written in the transaction that created or finished the
ticket and sent later by :mod:`cti.sms.sender`; whom it goes to and what it says are
decided when it is sent (so a STOP texted meanwhile is honoured).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from cti.store.base import Base


class InboundOutcome(StrEnum):
    TICKET = "ticket"  # opened a new ticket
    NOTE = "note"  # added to the sender's open ticket (a ticket event)
    REVISIT = "revisit"  # a 1-5 answer to our revisit question: the revisit's satisfaction
    OPT_OUT = "opt_out"  # STOP: no more texts to this number
    OPT_IN = "opt_in"  # START: texts again
    UNROUTABLE = "unroutable"  # the sender is no phone number (withheld, a name): kept only


INBOUND_OUTCOME_VALUES = tuple(o.value for o in InboundOutcome)


class SmsInbound(Base):
    __tablename__ = "sms_inbound"
    __table_args__ = (
        CheckConstraint(f"outcome IN {INBOUND_OUTCOME_VALUES!r}", name="outcome_known"),
        Index("ix_sms_inbound_sender_at", "sender", "received_at"),
        Index("ix_sms_inbound_ticket", "ticket_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: The gateway's own message id: a second post with it is refused as a replay.
    gateway_id: Mapped[str] = mapped_column(String(100), unique=True)
    #: The sender as the gateway wrote it (verbatim), and its ``cti.numbers`` key ("" when
    #: it is no phone number).
    sender_raw: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(24))
    #: Our number it was sent to (a county's DID, when the gateway says).
    recipient_raw: Mapped[str] = mapped_column(String(64), default="", server_default="")
    #: Verbatim, markup and all (shown escaped).
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(server_default=func.now())
    outcome: Mapped[str] = mapped_column(String(16))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id", ondelete="SET NULL"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    #: The ticket event that carries the text when it was added to an open ticket (the
    #: timeline shows the message once, as the message).
    event_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("ticket_events.id", ondelete="SET NULL")
    )


class OutboxKind(StrEnum):
    TICKET_CREATED = "ticket_created"  # "your request is ticket T..."
    REVISIT_QUESTION = "revisit_question"  # "how satisfied are you? reply 1-5"


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting to be sent (or for a gateway to be configured)
    SENT = "sent"  # the gateway took it (2xx)
    FAILED = "failed"  # the gateway refused it for good, or the last retry failed
    SUPPRESSED = "suppressed"  # the number texted STOP
    SKIPPED = "skipped"  # the ticket has no mobile number to text


OUTBOX_KIND_VALUES = tuple(k.value for k in OutboxKind)
OUTBOX_STATUS_VALUES = tuple(s.value for s in OutboxStatus)


class SmsOutbox(Base):
    __tablename__ = "sms_outbox"
    __table_args__ = (
        CheckConstraint(f"kind IN {OUTBOX_KIND_VALUES!r}", name="kind_known"),
        CheckConstraint(f"status IN {OUTBOX_STATUS_VALUES!r}", name="status_known"),
        Index("ix_sms_outbox_due", "status", "next_attempt_at"),
        Index("ix_sms_outbox_ticket", "ticket_id"),
        # The revisit reply looks up the question last sent to a number.
        Index("ix_sms_outbox_recipient_sent", "recipient", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value)
    #: Set when the row is first claimed: the ``cti.numbers`` key texted, and the text.
    recipient: Mapped[str | None] = mapped_column(String(24))
    text: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[datetime | None]
    #: The gateway's id for the message it accepted, when it answered one.
    gateway_id: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)


class SmsOptOut(Base):
    """A number that texted STOP: nothing is sent to it until it texts START."""

    __tablename__ = "sms_opt_outs"

    number: Mapped[str] = mapped_column(String(24), primary_key=True)
    at: Mapped[datetime] = mapped_column(server_default=func.now())
    inbound_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("sms_inbound.id", ondelete="SET NULL")
    )
