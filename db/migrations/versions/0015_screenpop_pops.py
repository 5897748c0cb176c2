"""screen_pops: the pops each agent should see, kept across restarts and reloads (issue 16)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "screen_pops",
        sa.Column("pop_id", sa.String(length=400), nullable=False),
        sa.Column("node", sa.String(length=100), nullable=False),
        sa.Column("linkedid", sa.String(length=100), nullable=False),
        sa.Column("interface", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("pop_id", name=op.f("pk_screen_pops")),
    )
    op.create_index("ix_screen_pops_interface", "screen_pops", ["interface"])
    op.create_index("ix_screen_pops_node", "screen_pops", ["node"])


def downgrade() -> None:
    op.drop_index("ix_screen_pops_node", table_name="screen_pops")
    op.drop_index("ix_screen_pops_interface", table_name="screen_pops")
    op.drop_table("screen_pops")
