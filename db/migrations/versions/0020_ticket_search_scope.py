"""Ticket search for an agent of one county, and a flag per dispatch deadline (issue 13).

Search: free text with a status and a category, ``(status, category_id, county_id,
created_at)``.

The agent's scope is "my county's tickets or my own". With this index the planner reads
the scope as a bitmap too (this index for the county, ``(owner_id, status)`` for the own
tickets) and ANDs it with the words' bitmap, so only the tickets the agent may see are
read from the table to be sorted; before, every ticket with the word, the status and the
category was read, three in four of them to be thrown away. Measured by
bench/bench_ticket_search.py (docs/performance.md, "Ticket search").

Dispatches: ``overdue_flagged_at`` was one flag for two deadlines, so a company late to
accept and then late to finish was reported only for the first. It becomes
``accept_late_flagged_at``, and ``finish_late_flagged_at`` is added. A flag set before
``finish_by`` can only have been for the acceptance; one set at or after it may have been
for either, so both are taken as told (nobody is told twice about an old job).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_tickets_status_category_county_created"


def upgrade() -> None:
    op.create_index(
        NAME, "tickets", ["status", "category_id", "county_id", "created_at"], unique=False
    )
    op.alter_column("dispatches", "overdue_flagged_at", new_column_name="accept_late_flagged_at")
    op.add_column(
        "dispatches",
        sa.Column("finish_late_flagged_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.execute(
        "UPDATE dispatches SET finish_late_flagged_at = accept_late_flagged_at "
        "WHERE accept_late_flagged_at >= finish_by"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE dispatches SET accept_late_flagged_at = finish_late_flagged_at "
        "WHERE accept_late_flagged_at IS NULL"
    )
    op.drop_column("dispatches", "finish_late_flagged_at")
    op.alter_column("dispatches", "accept_late_flagged_at", new_column_name="overdue_flagged_at")
    op.drop_index(NAME, table_name="tickets")
