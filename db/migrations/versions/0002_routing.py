"""county routing rules and their applied versions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 02:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NUMBER = r"^\+?[0-9]{1,20}$"


def upgrade() -> None:
    op.create_table(
        "routing_county_policies",
        sa.Column("county_id", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=100), nullable=True),
        sa.Column(
            "hours", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column(
            "holidays", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column("after_hours_action", sa.String(length=16), nullable=True),
        sa.Column("after_hours_mailbox", sa.String(length=10), nullable=True),
        sa.Column("after_hours_queue", sa.String(length=64), nullable=True),
        sa.Column("overflow_queue", sa.String(length=64), nullable=True),
        sa.Column("overflow_when_empty", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("overflow_after_s", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "after_hours_action IS NULL OR after_hours_action IN ('voicemail', 'callback', 'queue')",
            name=op.f("ck_routing_county_policies_after_hours_action"),
        ),
        sa.CheckConstraint(
            "after_hours_mailbox IS NULL OR after_hours_mailbox ~ '^[0-9]{1,10}$'",
            name=op.f("ck_routing_county_policies_mailbox_format"),
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_routing_county_policies_county_id_counties"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("county_id", name=op.f("pk_routing_county_policies")),
    )
    op.create_table(
        "routing_dids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("did", sa.String(length=21), nullable=False),
        sa.Column("county_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(f"did ~ '{NUMBER}'", name=op.f("ck_routing_dids_did_format")),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_routing_dids_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_dids")),
        sa.UniqueConstraint("did", name=op.f("uq_routing_dids_did")),
    )
    op.create_table(
        "routing_prefixes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=21), nullable=False),
        sa.Column("did", sa.String(length=21), nullable=True),
        sa.Column("county_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            f"did IS NULL OR did ~ '{NUMBER}'", name=op.f("ck_routing_prefixes_did_format")
        ),
        sa.CheckConstraint(f"prefix ~ '{NUMBER}'", name=op.f("ck_routing_prefixes_prefix_format")),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_routing_prefixes_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_prefixes")),
    )
    # One rule per (prefix, DID) and one all-DIDs rule per prefix (NULL is distinct in a
    # plain unique constraint, hence two partial indexes).
    op.create_index(
        "uq_routing_prefixes_prefix_any",
        "routing_prefixes",
        ["prefix"],
        unique=True,
        postgresql_where=sa.text("did IS NULL"),
    )
    op.create_index(
        "uq_routing_prefixes_prefix_did",
        "routing_prefixes",
        ["prefix", "did"],
        unique=True,
        postgresql_where=sa.text("did IS NOT NULL"),
    )
    op.create_table(
        "routing_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("default_county_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_routing_settings_single_row")),
        sa.ForeignKeyConstraint(
            ["default_county_id"],
            ["counties.id"],
            name=op.f("fk_routing_settings_default_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_settings")),
    )
    op.create_table(
        "routing_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("diff", sa.Text(), nullable=False),
        sa.Column("lint_output", sa.Text(), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("rules", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("rollback_of", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "result IN ('applied', 'failed')", name=op.f("ck_routing_versions_result_value")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_routing_versions_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["rollback_of"],
            ["routing_versions.id"],
            name=op.f("fk_routing_versions_rollback_of_routing_versions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_versions")),
    )
    op.create_index(
        op.f("ix_routing_versions_created_at"), "routing_versions", ["created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_routing_versions_created_at"), table_name="routing_versions")
    op.drop_table("routing_versions")
    op.drop_table("routing_settings")
    op.drop_index("uq_routing_prefixes_prefix_did", table_name="routing_prefixes")
    op.drop_index("uq_routing_prefixes_prefix_any", table_name="routing_prefixes")
    op.drop_table("routing_prefixes")
    op.drop_table("routing_dids")
    op.drop_table("routing_county_policies")
