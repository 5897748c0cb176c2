"""recordings index, access log, QA scores

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 02:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_FUNCTION = """
CREATE FUNCTION recording_access_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'recording_access_log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "qa_scorecards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_scorecards")),
        sa.UniqueConstraint("name", name=op.f("uq_qa_scorecards_name")),
    )
    op.create_table(
        "recording_access_log",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("recording_id", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("byte_range", sa.String(length=80), nullable=True),
        sa.Column("variant", sa.String(length=16), nullable=False),
        sa.Column("ip", postgresql.INET(), nullable=True),
        sa.Column("user_agent", sa.String(length=255), nullable=True),
        sa.CheckConstraint(
            "action IN ('play', 'download')", name=op.f("ck_recording_access_log_action_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_access_log")),
    )
    op.create_index(
        op.f("ix_recording_access_log_at"), "recording_access_log", ["at"], unique=False
    )
    op.create_index(
        "ix_recording_access_log_recording",
        "recording_access_log",
        ["recording_id", "at"],
        unique=False,
    )
    op.create_table(
        "qa_criteria",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scorecard_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("max_points", sa.Integer(), nullable=False),
        sa.CheckConstraint("max_points > 0", name=op.f("ck_qa_criteria_max_points_positive")),
        sa.CheckConstraint("weight > 0", name=op.f("ck_qa_criteria_weight_positive")),
        sa.ForeignKeyConstraint(
            ["scorecard_id"],
            ["qa_scorecards.id"],
            name=op.f("fk_qa_criteria_scorecard_id_qa_scorecards"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_criteria")),
    )
    op.create_index(
        op.f("ix_qa_criteria_scorecard_id"), "qa_criteria", ["scorecard_id"], unique=False
    )
    op.create_table(
        "recordings",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("uniqueid", sa.String(length=64), nullable=True),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("codec", sa.String(length=32), nullable=False),
        sa.Column("sample_rate", sa.Integer(), nullable=False),
        sa.Column("channels", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("mtime", sa.DateTime(timezone=True), nullable=False),
        sa.Column("problem", sa.String(length=255), nullable=True),
        sa.Column(
            "indexed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checksum_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("missing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("legal_hold", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("caller_number", sa.String(length=24), server_default="", nullable=False),
        sa.Column("did", sa.String(length=32), nullable=True),
        sa.Column("county_id", sa.Integer(), nullable=True),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("agent_interface", sa.String(length=80), nullable=True),
        sa.Column("disposition", sa.String(length=16), nullable=True),
        sa.Column("call_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qa_score", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.CheckConstraint("duration_ms >= 0", name=op.f("ck_recordings_duration_not_negative")),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_recordings_size_not_negative")),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["users.id"],
            name=op.f("fk_recordings_agent_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_recordings_call_id_calls"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_recordings_county_id_counties"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("path", name=op.f("uq_recordings_path")),
    )
    op.create_index(
        "ix_recordings_agent_duration", "recordings", ["agent_id", "duration_ms"], unique=False
    )
    op.create_index(
        "ix_recordings_agent_started", "recordings", ["agent_id", "started_at", "id"], unique=False
    )
    op.create_index(op.f("ix_recordings_call_id"), "recordings", ["call_id"], unique=False)
    op.create_index(
        "ix_recordings_caller_started",
        "recordings",
        ["caller_number", "started_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_recordings_county_disp_started",
        "recordings",
        ["county_id", "disposition", "started_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_recordings_county_started",
        "recordings",
        ["county_id", "started_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_recordings_did_started", "recordings", ["did", "started_at", "id"], unique=False
    )
    op.create_index(
        "ix_recordings_qa_score",
        "recordings",
        ["qa_score", "started_at"],
        unique=False,
        postgresql_where=sa.text("qa_score IS NOT NULL"),
    )
    op.create_index("ix_recordings_started_at_id", "recordings", ["started_at", "id"], unique=False)
    op.create_index("ix_recordings_uniqueid", "recordings", ["uniqueid"], unique=False)
    op.create_table(
        "qa_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=64), nullable=False),
        sa.Column("at_ms", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("at_ms >= 0", name=op.f("ck_qa_comments_at_not_negative")),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_qa_comments_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_qa_comments_recording_id_recordings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_comments")),
    )
    op.create_index(
        op.f("ix_qa_comments_recording_id"), "qa_comments", ["recording_id"], unique=False
    )
    op.create_table(
        "qa_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.BigInteger(), nullable=False),
        sa.Column("scorecard_id", sa.Integer(), nullable=False),
        sa.Column("inspector_id", sa.Integer(), nullable=True),
        sa.Column("total", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["inspector_id"],
            ["users.id"],
            name=op.f("fk_qa_scores_inspector_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_qa_scores_recording_id_recordings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["scorecard_id"],
            ["qa_scorecards.id"],
            name=op.f("fk_qa_scores_scorecard_id_qa_scorecards"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_scores")),
    )
    op.create_index(op.f("ix_qa_scores_recording_id"), "qa_scores", ["recording_id"], unique=False)
    op.create_table(
        "recording_complaints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.BigInteger(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("opened_by", sa.Integer(), nullable=True),
        sa.Column(
            "opened_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["opened_by"],
            ["users.id"],
            name=op.f("fk_recording_complaints_opened_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_recording_complaints_recording_id_recordings"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_recording_complaints_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_complaints")),
    )
    op.create_index(
        op.f("ix_recording_complaints_recording_id"),
        "recording_complaints",
        ["recording_id"],
        unique=False,
    )
    op.create_table(
        "qa_score_items",
        sa.Column("score_id", sa.Integer(), nullable=False),
        sa.Column("criterion_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.CheckConstraint("points >= 0", name=op.f("ck_qa_score_items_points_not_negative")),
        sa.ForeignKeyConstraint(
            ["criterion_id"],
            ["qa_criteria.id"],
            name=op.f("fk_qa_score_items_criterion_id_qa_criteria"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["score_id"],
            ["qa_scores.id"],
            name=op.f("fk_qa_score_items_score_id_qa_scores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("score_id", "criterion_id", name=op.f("pk_qa_score_items")),
    )
    op.create_index("ix_calls_linkedid", "calls", ["linkedid"], unique=False)
    op.create_index("ix_calls_uniqueid", "calls", ["uniqueid"], unique=False)

    # The access log is evidence: nobody may change or remove an entry, the application's
    # own database user included. (A REVOKE would not bind the table's owner.)
    op.execute(APPEND_ONLY_FUNCTION)
    op.execute(
        "CREATE TRIGGER recording_access_log_no_update BEFORE UPDATE OR DELETE "
        "ON recording_access_log FOR EACH ROW EXECUTE FUNCTION recording_access_log_append_only()"
    )
    op.execute(
        "CREATE TRIGGER recording_access_log_no_truncate BEFORE TRUNCATE "
        "ON recording_access_log FOR EACH STATEMENT "
        "EXECUTE FUNCTION recording_access_log_append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS recording_access_log_no_truncate ON recording_access_log")
    op.execute("DROP TRIGGER IF EXISTS recording_access_log_no_update ON recording_access_log")
    op.execute("DROP FUNCTION IF EXISTS recording_access_log_append_only()")
    op.drop_index("ix_calls_uniqueid", table_name="calls")
    op.drop_index("ix_calls_linkedid", table_name="calls")
    op.drop_table("qa_score_items")
    op.drop_index(op.f("ix_recording_complaints_recording_id"), table_name="recording_complaints")
    op.drop_table("recording_complaints")
    op.drop_index(op.f("ix_qa_scores_recording_id"), table_name="qa_scores")
    op.drop_table("qa_scores")
    op.drop_index(op.f("ix_qa_comments_recording_id"), table_name="qa_comments")
    op.drop_table("qa_comments")
    op.drop_index("ix_recordings_uniqueid", table_name="recordings")
    op.drop_index("ix_recordings_started_at_id", table_name="recordings")
    op.drop_index(
        "ix_recordings_qa_score",
        table_name="recordings",
        postgresql_where=sa.text("qa_score IS NOT NULL"),
    )
    op.drop_index("ix_recordings_did_started", table_name="recordings")
    op.drop_index("ix_recordings_county_started", table_name="recordings")
    op.drop_index("ix_recordings_county_disp_started", table_name="recordings")
    op.drop_index("ix_recordings_caller_started", table_name="recordings")
    op.drop_index(op.f("ix_recordings_call_id"), table_name="recordings")
    op.drop_index("ix_recordings_agent_started", table_name="recordings")
    op.drop_index("ix_recordings_agent_duration", table_name="recordings")
    op.drop_table("recordings")
    op.drop_index(op.f("ix_qa_criteria_scorecard_id"), table_name="qa_criteria")
    op.drop_table("qa_criteria")
    op.drop_index("ix_recording_access_log_recording", table_name="recording_access_log")
    op.drop_index(op.f("ix_recording_access_log_at"), table_name="recording_access_log")
    op.drop_table("recording_access_log")
    op.drop_table("qa_scorecards")
