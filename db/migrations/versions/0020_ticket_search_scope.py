"""Ticket search: free text with a status and a category, for an agent of one county
(issue 13): ``(status, category_id, county_id, created_at)``.

The agent's scope is "my county's tickets or my own". With this index the planner reads
the scope as a bitmap too (this index for the county, ``(owner_id, status)`` for the own
tickets) and ANDs it with the words' bitmap, so only the tickets the agent may see are
read from the table to be sorted; before, every ticket with the word, the status and the
category was read, three in four of them to be thrown away. Measured by
bench/bench_ticket_search.py (docs/performance.md, "Ticket search").

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 09:40:00
"""

from collections.abc import Sequence

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


def downgrade() -> None:
    op.drop_index(NAME, table_name="tickets")
