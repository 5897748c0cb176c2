"""The recordings index, its access log and QA scores (cti.recordings).

One ``recordings`` row per audio file, keyed by its path relative to the recordings root.
The search fields of the call (start, caller, agent, county, DID, disposition) and the
latest QA total are copied onto the row: the inspector's queries then filter and sort one
table through one composite index each, with keyset pagination on ``(started_at, id)``,
instead of joining ``calls`` for every page (the figures are in docs/performance.md).
``cti.recordings.indexer`` keeps the copies in step with the call row.

``recording_access_log`` is append-only: a trigger in the migration refuses UPDATE, DELETE
and TRUNCATE for everybody, the application included.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from cti.store.base import Base
from cti.store.calls import Call

#: Finding the call of a file by the Uniqueid in its name: the calls table is keyed by
#: (node, linkedid), which no index serves for a Linkedid alone. Declared here, with the
#: feature that needs them, and created by migration 0003.
Index("ix_calls_linkedid", Call.linkedid)
Index("ix_calls_uniqueid", Call.uniqueid)

ACCESS_ACTIONS = ("play", "download")


class Recording(Base):
    __tablename__ = "recordings"
    __table_args__ = (
        CheckConstraint("size_bytes >= 0", name="size_not_negative"),
        CheckConstraint("duration_ms >= 0", name="duration_not_negative"),
        # Keyset pagination is ORDER BY started_at DESC, id DESC: every search index ends in
        # (started_at, id) so that the filter and the order come from the same index.
        Index("ix_recordings_started_at_id", "started_at", "id"),
        Index("ix_recordings_caller_started", "caller_number", "started_at", "id"),
        Index("ix_recordings_agent_started", "agent_id", "started_at", "id"),
        Index("ix_recordings_county_started", "county_id", "started_at", "id"),
        Index("ix_recordings_county_disp_started", "county_id", "disposition", "started_at", "id"),
        Index("ix_recordings_did_started", "did", "started_at", "id"),
        Index("ix_recordings_agent_duration", "agent_id", "duration_ms"),
        Index(
            "ix_recordings_qa_score",
            "qa_score",
            "started_at",
            postgresql_where=text("qa_score IS NOT NULL"),
        ),
        Index("ix_recordings_uniqueid", "uniqueid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: Relative to the recordings root, always with forward slashes, never ``..``.
    path: Mapped[str] = mapped_column(String(512), unique=True)
    #: From the file name (``<Uniqueid>.wav``, or the capture's ``<county>-<num>-<Uniqueid>``).
    uniqueid: Mapped[str | None] = mapped_column(String(64))
    call_id: Mapped[int | None] = mapped_column(
        ForeignKey("calls.id", ondelete="SET NULL"), index=True
    )
    format: Mapped[str] = mapped_column(String(16))
    codec: Mapped[str] = mapped_column(String(32))
    sample_rate: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    #: The file's mtime when it was hashed: an unchanged (size, mtime) skips re-hashing.
    mtime: Mapped[datetime]
    #: Set when the header and the bytes disagree (e.g. Asterisk died before closing it).
    problem: Mapped[str | None] = mapped_column(String(255))
    indexed_at: Mapped[datetime] = mapped_column(server_default=func.now())
    verified_at: Mapped[datetime | None]
    #: The checksum no longer matches the bytes on disk (tampering or corruption).
    checksum_changed_at: Mapped[datetime | None]
    #: The file was gone at the last scan.
    missing_at: Mapped[datetime | None]
    #: Retention removed the audio; the row stays as proof of what existed.
    purged_at: Mapped[datetime | None]
    legal_hold: Mapped[bool] = mapped_column(default=False, server_default="false")

    # Copied from the call row (search fields); for an orphan ``started_at`` comes from the
    # Uniqueid's epoch or the file's mtime.
    started_at: Mapped[datetime]
    caller_number: Mapped[str] = mapped_column(String(24), default="", server_default="")
    did: Mapped[str | None] = mapped_column(String(32))
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id", ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    agent_interface: Mapped[str | None] = mapped_column(String(80))
    disposition: Mapped[str | None] = mapped_column(String(16))
    #: When the copied call fields were last refreshed from ``calls.updated_at``.
    call_synced_at: Mapped[datetime | None]
    #: The latest QA total (0-100), for filtering by score.
    qa_score: Mapped[float | None] = mapped_column(Numeric(5, 2))


class RecordingAccess(Base):
    """Who played or downloaded which recording, when and from where. Append-only."""

    __tablename__ = "recording_access_log"
    __table_args__ = (
        CheckConstraint(f"action IN {ACCESS_ACTIONS!r}", name="action_known"),
        Index("ix_recording_access_log_recording", "recording_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)
    # No foreign keys: a referential action (SET NULL) would be an UPDATE of the log.
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(64))
    recording_id: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(16))
    #: What was sent: ``bytes 0-1023/96364``, or ``full``.
    byte_range: Mapped[str | None] = mapped_column(String(80))
    variant: Mapped[str] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(String(255))


class Scorecard(Base):
    __tablename__ = "qa_scorecards"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    active: Mapped[bool] = mapped_column(default=True, server_default="true")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Criterion(Base):
    __tablename__ = "qa_criteria"
    __table_args__ = (
        CheckConstraint("weight > 0", name="weight_positive"),
        CheckConstraint("max_points > 0", name="max_points_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scorecard_id: Mapped[int] = mapped_column(
        ForeignKey("qa_scorecards.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))
    weight: Mapped[int] = mapped_column(Integer)
    max_points: Mapped[int] = mapped_column(Integer)


class Score(Base):
    """One inspector's scoring of one recording against one scorecard."""

    __tablename__ = "qa_scores"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("recordings.id", ondelete="CASCADE"), index=True
    )
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("qa_scorecards.id", ondelete="RESTRICT"))
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    total: Mapped[float] = mapped_column(Numeric(5, 2))
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ScoreItem(Base):
    __tablename__ = "qa_score_items"
    __table_args__ = (CheckConstraint("points >= 0", name="points_not_negative"),)

    score_id: Mapped[int] = mapped_column(
        ForeignKey("qa_scores.id", ondelete="CASCADE"), primary_key=True
    )
    criterion_id: Mapped[int] = mapped_column(
        ForeignKey("qa_criteria.id", ondelete="RESTRICT"), primary_key=True
    )
    points: Mapped[int] = mapped_column(Integer)


class TimedComment(Base):
    """A remark pinned to a moment of the recording."""

    __tablename__ = "qa_comments"
    __table_args__ = (CheckConstraint("at_ms >= 0", name="at_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("recordings.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(64))
    at_ms: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Complaint(Base):
    """A complaint or dispute about a call: links its recording to a ticket and puts the
    recording on legal hold (never purged) while it is open."""

    __tablename__ = "recording_complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("recordings.id", ondelete="RESTRICT"), index=True
    )
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    opened_at: Mapped[datetime] = mapped_column(server_default=func.now())
    closed_at: Mapped[datetime | None]
