"""after-hours calls: dispositions voicemail and callback; callback_requests

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 05:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "('in_progress', 'answered', 'abandoned', 'timeout', 'transferred', 'failed')"
NEW = (
    "('in_progress', 'answered', 'abandoned', 'timeout', 'transferred', 'failed', "
    "'voicemail', 'callback')"
)


def upgrade() -> None:
    op.drop_constraint(op.f("ck_calls_disposition_known"), "calls", type_="check")
    op.create_check_constraint(op.f("ck_calls_disposition_known"), "calls", f"disposition IN {NEW}")
    op.create_table(
        "callback_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("county_id", sa.Integer(), nullable=True),
        sa.Column("number", sa.String(length=24), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('open', 'done', 'unreachable')",
            name=op.f("ck_callback_requests_status_known"),
        ),
        sa.CheckConstraint(
            "attempts >= 0", name=op.f("ck_callback_requests_attempts_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.id"],
            name=op.f("fk_callback_requests_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_callback_requests_county_id_counties"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["handled_by"],
            ["users.id"],
            name=op.f("fk_callback_requests_handled_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_requests")),
        sa.UniqueConstraint("call_id", name=op.f("uq_callback_requests_call_id")),
    )
    op.create_index(
        "ix_callback_requests_status_county_requested",
        "callback_requests",
        ["status", "county_id", "requested_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_callback_requests_status_county_requested", table_name="callback_requests")
    op.drop_table("callback_requests")
    # Before 0005 an after-hours call never reached a queue: "failed" (rows are kept).
    op.execute(
        "UPDATE calls SET disposition = 'failed' WHERE disposition IN ('voicemail', 'callback')"
    )
    op.drop_constraint(op.f("ck_calls_disposition_known"), "calls", type_="check")
    op.create_check_constraint(op.f("ck_calls_disposition_known"), "calls", f"disposition IN {OLD}")
