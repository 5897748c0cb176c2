"""Affiliated service companies: their application, what and where they serve, their staff
and certifications, the jobs dispatched to them, and the notifications sent about those.

Only an approved company with staff certified for a category receives work of that
category (:mod:`cti.companies`); its reputation is computed from the facts kept here and in
``revisits``, never stored as a number someone typed.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from cti.store.base import Base, Timestamps


class CompanyStatus(StrEnum):
    APPLIED = "applied"  # waiting for an admin's review
    APPROVED = "approved"  # receives work
    REJECTED = "rejected"
    SUSPENDED = "suspended"  # approved once, receives no work until reinstated


COMPANY_STATUS_VALUES = tuple(s.value for s in CompanyStatus)


class Company(Timestamps, Base):
    __tablename__ = "companies"
    __table_args__ = (
        CheckConstraint(f"status IN {COMPANY_STATUS_VALUES!r}", name="status_known"),
        Index("ix_companies_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    licence_number: Mapped[str] = mapped_column(String(64), unique=True)
    address: Mapped[str] = mapped_column(Text, default="", server_default="")
    phone: Mapped[str] = mapped_column(String(24), default="", server_default="")
    email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    #: Where new work is posted (HMAC-signed with ``webhook_secret``); none: email only.
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    webhook_secret: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=CompanyStatus.APPLIED.value)
    applied_at: Mapped[datetime] = mapped_column(server_default=func.now())
    #: The last review (approve, reject, suspend, reinstate): who, when and why.
    reviewed_at: Mapped[datetime | None]
    #: use_alter: users.company_id points back here (the two tables refer to each other).
    reviewed_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", use_alter=True)
    )
    review_reason: Mapped[str | None] = mapped_column(Text)


class CompanyCategory(Base):
    """A service category the company offers."""

    __tablename__ = "company_categories"

    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(
        ForeignKey("service_categories.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CompanyCounty(Base):
    """A county the company serves."""

    __tablename__ = "company_counties"

    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), primary_key=True
    )
    county_id: Mapped[int] = mapped_column(
        ForeignKey("counties.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CompanyContact(Base):
    __tablename__ = "company_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(80), default="", server_default="")
    phone: Mapped[str] = mapped_column(String(24), default="", server_default="")
    email: Mapped[str] = mapped_column(String(254), default="", server_default="")


class CompanyStaff(Base):
    __tablename__ = "company_staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(default=True, server_default="true")


class StaffCertification(Base):
    """A training or certification record of one staff member for one category."""

    __tablename__ = "staff_certifications"
    __table_args__ = (
        CheckConstraint(
            "valid_until IS NULL OR valid_from IS NULL OR valid_until >= valid_from",
            name="validity_order",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("company_staff.id", ondelete="CASCADE"), index=True
    )
    category_id: Mapped[int] = mapped_column(
        ForeignKey("service_categories.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    issuer: Mapped[str] = mapped_column(String(200), default="", server_default="")
    number: Mapped[str] = mapped_column(String(64), default="", server_default="")
    valid_from: Mapped[date | None]
    #: None: does not expire.
    valid_until: Mapped[date | None]


class DispatchStatus(StrEnum):
    OFFERED = "offered"  # waiting for the company to accept or decline
    ACCEPTED = "accepted"
    DECLINED = "declined"
    IN_SERVICE = "in_service"
    DONE = "done"
    WITHDRAWN = "withdrawn"  # taken back by the centre (e.g. re-dispatched after a complaint)


DISPATCH_STATUS_VALUES = tuple(s.value for s in DispatchStatus)
ACTIVE_DISPATCH_STATUSES = (
    DispatchStatus.OFFERED,
    DispatchStatus.ACCEPTED,
    DispatchStatus.IN_SERVICE,
)


class Dispatch(Base):
    """A ticket handed to a company: who dispatched it, when, and by when the company must
    accept it and finish it; then what the company answered and when."""

    __tablename__ = "dispatches"
    __table_args__ = (
        CheckConstraint(f"status IN {DISPATCH_STATUS_VALUES!r}", name="status_known"),
        CheckConstraint("finish_by >= accept_by", name="deadline_order"),
        Index("ix_dispatches_ticket", "ticket_id"),
        Index("ix_dispatches_company_status", "company_id", "status"),
        # Ticket search by company: its tickets in their order (migration 0008).
        Index(
            "ix_dispatches_company_ticket_created", "company_id", "ticket_created_at", "ticket_id"
        ),
        # ... and with the ticket's status too (migration 0010).
        Index(
            "ix_dispatches_company_ticket_status_created",
            "company_id",
            "ticket_status",
            "ticket_created_at",
            "ticket_id",
        ),
        # A ticket is with at most one company at a time.
        Index(
            "uq_dispatches_active_ticket",
            "ticket_id",
            unique=True,
            postgresql_where=text("status IN ('offered', 'accepted', 'in_service')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="RESTRICT"))
    dispatched_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    dispatched_at: Mapped[datetime] = mapped_column(server_default=func.now())
    #: Offered automatically (the county's choice) rather than picked by the agent.
    automatic: Mapped[bool] = mapped_column(default=False, server_default="false")
    #: Why the company was suggested: its reputation facts and load when it was chosen.
    reasons: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    accept_by: Mapped[datetime]
    finish_by: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default=DispatchStatus.OFFERED.value)
    accepted_at: Mapped[datetime | None]
    declined_at: Mapped[datetime | None]
    decline_reason: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    done_note: Mapped[str | None] = mapped_column(Text)
    withdrawn_at: Mapped[datetime | None]
    #: When the county's supervisors were told the company was late to accept, and late
    #: to finish: two deadlines, two flags (migration 0020), so a job late on both is
    #: reported twice, once for each.
    accept_late_flagged_at: Mapped[datetime | None]
    finish_late_flagged_at: Mapped[datetime | None]
    #: The ticket's ``created_at``, copied by a trigger on insert (migration 0008): ticket
    #: search by company walks a company's dispatches in their tickets' order.
    ticket_created_at: Mapped[datetime | None]
    #: The ticket's status, kept by triggers on both tables (migration 0010): a company's
    #: tickets of one status without reading each ticket to filter it.
    ticket_status: Mapped[str | None] = mapped_column(String(16))


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry


NOTIFICATION_STATUS_VALUES = tuple(s.value for s in NotificationStatus)


class Notification(Base):
    """An email or webhook post owed to a company, written in the transaction that caused
    it and delivered later by the notifier (so a slow receiver never blocks a request),
    retried with backoff until sent or given up."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'webhook')", name="channel_known"),
        CheckConstraint(f"status IN {NOTIFICATION_STATUS_VALUES!r}", name="status_known"),
        Index("ix_notifications_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    dispatch_id: Mapped[int | None] = mapped_column(
        ForeignKey("dispatches.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    #: What happened (``dispatch.offered``...) and its body, as sent.
    event: Mapped[str] = mapped_column(String(48))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default=NotificationStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
