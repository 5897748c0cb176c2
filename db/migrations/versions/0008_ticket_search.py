"""Ticket search indexes: each list and filter of /tickets is an index range in
created_at order (owner, county, category, item, status), citizens' names by trigram,
a company's dispatches in their tickets' order

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 01:50:00

Measured by bench/bench_ticket_search.py (docs/performance.md, "Ticket search").
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TICKET_INDEXES = {
    "ix_tickets_owner_created": ["owner_id", "created_at"],
    "ix_tickets_county_created": ["county_id", "created_at"],
    "ix_tickets_category_created": ["category_id", "created_at"],
    "ix_tickets_subcategory_created": ["subcategory_id", "created_at"],
    "ix_tickets_status_created": ["status", "created_at"],
    # with words of the text: the bitmap of the words AND this one's, few rows left
    "ix_tickets_status_category_created": ["status", "category_id", "created_at"],
}


def upgrade() -> None:
    for name, columns in TICKET_INDEXES.items():
        op.create_index(name, "tickets", columns, unique=False)
    # "Part of a name" is ILIKE '%...%': only a trigram index serves it. pg_trgm ships with
    # every PostgreSQL package (contrib), but not with the embedded default server
    # (pgserver): there the search still works, reading the citizens without an index.
    if op.get_bind().scalar(
        sa.text("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ):
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_citizens_name_trgm",
            "citizens",
            ["name"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        )
    # A company's tickets, newest first, from its dispatches alone: the ticket's created_at
    # is copied onto each dispatch (it never changes), by the database so no writer can
    # forget it; else "company" reads every one of its tickets at random to sort them.
    op.add_column(
        "dispatches",
        sa.Column("ticket_created_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.execute(
        "UPDATE dispatches SET ticket_created_at = tickets.created_at "
        "FROM tickets WHERE tickets.id = dispatches.ticket_id"
    )
    op.execute(
        "CREATE FUNCTION dispatches_ticket_created_at() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN SELECT created_at INTO NEW.ticket_created_at FROM tickets "
        "WHERE id = NEW.ticket_id; RETURN NEW; END $$"
    )
    op.execute(
        "CREATE TRIGGER dispatches_ticket_created_at BEFORE INSERT OR UPDATE OF ticket_id "
        "ON dispatches FOR EACH ROW EXECUTE FUNCTION dispatches_ticket_created_at()"
    )
    op.create_index(
        "ix_dispatches_company_ticket_created",
        "dispatches",
        ["company_id", "ticket_created_at", "ticket_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_dispatches_company_ticket_created", table_name="dispatches")
    op.execute("DROP TRIGGER dispatches_ticket_created_at ON dispatches")
    op.execute("DROP FUNCTION dispatches_ticket_created_at()")
    op.drop_column("dispatches", "ticket_created_at")
    op.execute("DROP INDEX IF EXISTS ix_citizens_name_trgm")
    for name in TICKET_INDEXES:
        op.drop_index(name, table_name="tickets")
    # pg_trgm stays: another schema object may use it by then, and it holds no data.
