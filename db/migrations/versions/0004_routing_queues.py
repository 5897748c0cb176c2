"""routing versions also record the county queues include (queues_counties.conf)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 04:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NULL for versions applied before the queues were generated.
    op.add_column("routing_versions", sa.Column("queues_text", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("routing_versions", "queues_text")
