"""County routing rules and the versions of the dialplan rendered from them (cti.routing)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from cti.store.base import Base

#: Same whitelist as cti.routing.rules.NUMBER_PATTERN (defence in depth in the database).
NUMBER_PATTERN = r"^\+?[0-9]{1,20}$"
MAILBOX_PATTERN = r"^[0-9]{1,10}$"


class RoutingDid(Base):
    """A number citizens dial. No county: the caller's prefix decides, else the default."""

    __tablename__ = "routing_dids"
    __table_args__ = (CheckConstraint(f"did ~ '{NUMBER_PATTERN}'", name="did_format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    did: Mapped[str] = mapped_column(String(21), unique=True)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id", ondelete="RESTRICT"))
    position: Mapped[int] = mapped_column(Integer)


class RoutingPrefix(Base):
    """Caller-number prefix -> county, for every DID (``did`` null) or one DID."""

    __tablename__ = "routing_prefixes"
    __table_args__ = (
        CheckConstraint(f"prefix ~ '{NUMBER_PATTERN}'", name="prefix_format"),
        CheckConstraint(f"did IS NULL OR did ~ '{NUMBER_PATTERN}'", name="did_format"),
        Index(
            "uq_routing_prefixes_prefix_did",
            "prefix",
            "did",
            unique=True,
            postgresql_where=text("did IS NOT NULL"),
        ),
        Index(
            "uq_routing_prefixes_prefix_any",
            "prefix",
            unique=True,
            postgresql_where=text("did IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(String(21))
    did: Mapped[str | None] = mapped_column(String(21))
    county_id: Mapped[int] = mapped_column(ForeignKey("counties.id", ondelete="RESTRICT"))
    position: Mapped[int] = mapped_column(Integer)


class RoutingSettings(Base):
    """One row (id 1): the default county."""

    __tablename__ = "routing_settings"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    default_county_id: Mapped[int | None] = mapped_column(
        ForeignKey("counties.id", ondelete="RESTRICT")
    )


class RoutingCountyPolicy(Base):
    """Opening hours, after-hours action and overflow of one county."""

    __tablename__ = "routing_county_policies"
    __table_args__ = (
        CheckConstraint(
            "after_hours_action IS NULL OR "
            "after_hours_action IN ('voicemail', 'callback', 'queue')",
            name="after_hours_action",
        ),
        CheckConstraint(
            f"after_hours_mailbox IS NULL OR after_hours_mailbox ~ '{MAILBOX_PATTERN}'",
            name="mailbox_format",
        ),
    )

    county_id: Mapped[int] = mapped_column(
        ForeignKey("counties.id", ondelete="CASCADE"), primary_key=True
    )
    timezone: Mapped[str | None] = mapped_column(String(100))
    #: [{"days": ["mon", ...], "start": "08:00", "end": "18:00"}, ...]
    hours: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")
    #: ["2027-01-01", ...]
    holidays: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    after_hours_action: Mapped[str | None] = mapped_column(String(16))
    after_hours_mailbox: Mapped[str | None] = mapped_column(String(10))
    after_hours_queue: Mapped[str | None] = mapped_column(String(64))
    overflow_queue: Mapped[str | None] = mapped_column(String(64))
    overflow_when_empty: Mapped[bool] = mapped_column(Boolean, server_default="false")
    overflow_after_s: Mapped[int | None] = mapped_column(Integer)


class RoutingVersion(Base):
    """One apply (or rollback) of the routing include: what was written, and how it went."""

    __tablename__ = "routing_versions"
    __table_args__ = (CheckConstraint("result IN ('applied', 'failed')", name="result_value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    #: queues_counties.conf rendered with it (NULL: versions from before migration 0004).
    queues_text: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    diff: Mapped[str] = mapped_column(Text)
    lint_output: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    #: The rule set (RuleSet.as_data) this text was rendered from, for rollback.
    rules: Mapped[dict[str, Any]] = mapped_column(JSONB)
    rollback_of: Mapped[int | None] = mapped_column(
        ForeignKey("routing_versions.id", ondelete="SET NULL")
    )
