"""Public web site: volunteer sign-ups (issue 15).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 09:40:00

The public site's other forms write through existing tables (tickets, citizens,
companies); its refusal counters live in the process (``/metrics``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "volunteers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("phone_raw", sa.String(length=40), nullable=False),
        sa.Column("phone", sa.String(length=24), nullable=False),
        sa.Column("county_id", sa.Integer(), nullable=True),
        sa.Column("skills", sa.Text(), server_default="", nullable=False),
        sa.Column("availability", sa.Text(), server_default="", nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("locale", sa.String(length=8), server_default="en", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_volunteers_county_id_counties"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteers")),
    )
    op.create_index("ix_volunteers_created_at", "volunteers", ["created_at"])
    op.create_index("ix_volunteers_phone", "volunteers", ["phone"])


def downgrade() -> None:
    op.drop_index("ix_volunteers_phone", table_name="volunteers")
    op.drop_index("ix_volunteers_created_at", table_name="volunteers")
    op.drop_table("volunteers")
