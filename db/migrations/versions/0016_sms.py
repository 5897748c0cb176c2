"""Text messages: inbound webhook, outbound gateway, replies as revisit scores (issue 15, SMS).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 06:00:00

``sms_inbound`` keeps every message the gateway posted (its unique gateway id is the
"seen before" check against replays), ``sms_outbox`` what is owed to citizens (ticket
number on creation, revisit question when done), ``sms_opt_outs`` the numbers that texted
STOP.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sms_outbox",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=24), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gateway_id", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('ticket_created', 'revisit_question')",
            name=op.f("ck_sms_outbox_kind_known"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed', 'suppressed', 'skipped')",
            name=op.f("ck_sms_outbox_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_sms_outbox_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_outbox")),
    )
    op.create_index("ix_sms_outbox_due", "sms_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_sms_outbox_recipient_sent", "sms_outbox", ["recipient", "sent_at"])
    op.create_index("ix_sms_outbox_ticket", "sms_outbox", ["ticket_id"])
    op.create_table(
        "sms_inbound",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("gateway_id", sa.String(length=100), nullable=False),
        sa.Column("sender_raw", sa.String(length=64), nullable=False),
        sa.Column("sender", sa.String(length=24), nullable=False),
        sa.Column("recipient_raw", sa.String(length=64), server_default="", nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("citizen_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('ticket', 'note', 'revisit', 'opt_out', 'opt_in', 'unroutable')",
            name=op.f("ck_sms_inbound_outcome_known"),
        ),
        sa.ForeignKeyConstraint(
            ["citizen_id"],
            ["citizens.id"],
            name=op.f("fk_sms_inbound_citizen_id_citizens"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["ticket_events.id"],
            name=op.f("fk_sms_inbound_event_id_ticket_events"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_sms_inbound_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_inbound")),
        sa.UniqueConstraint("gateway_id", name=op.f("uq_sms_inbound_gateway_id")),
    )
    op.create_index("ix_sms_inbound_sender_at", "sms_inbound", ["sender", "received_at"])
    op.create_index("ix_sms_inbound_ticket", "sms_inbound", ["ticket_id"])
    op.create_table(
        "sms_opt_outs",
        sa.Column("number", sa.String(length=24), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("inbound_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["inbound_id"],
            ["sms_inbound.id"],
            name=op.f("fk_sms_opt_outs_inbound_id_sms_inbound"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_sms_opt_outs")),
    )


def downgrade() -> None:
    op.drop_table("sms_opt_outs")
    op.drop_index("ix_sms_inbound_ticket", table_name="sms_inbound")
    op.drop_index("ix_sms_inbound_sender_at", table_name="sms_inbound")
    op.drop_table("sms_inbound")
    op.drop_index("ix_sms_outbox_ticket", table_name="sms_outbox")
    op.drop_index("ix_sms_outbox_recipient_sent", table_name="sms_outbox")
    op.drop_index("ix_sms_outbox_due", table_name="sms_outbox")
    op.drop_table("sms_outbox")
