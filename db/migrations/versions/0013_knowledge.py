"""Knowledge base: articles with every version, full-text search, the tickets answered with
an article, and the editor role (issue 15, knowledge).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 06:00:00

Search is measured by bench/bench_knowledge.py (docs/performance.md, "Knowledge search").
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ROLES = "('agent', 'inspector', 'supervisor', 'admin', 'company')"
NEW_ROLES = "('agent', 'inspector', 'supervisor', 'admin', 'company', 'editor')"
SEARCH_DOCUMENT = (
    "setweight(to_tsvector('simple'::regconfig, title), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, body), 'B')"
)


def _roles(roles: str) -> None:
    for table in ("users", "api_tokens"):
        op.drop_constraint(op.f(f"ck_{table}_role_known"), table, type_="check")
        op.create_check_constraint("role_known", table, f"role IN {roles}")


def upgrade() -> None:
    _roles(NEW_ROLES)
    op.create_table(
        "knowledge_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("county_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), server_default="", nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("seed_key", sa.String(length=80), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed(SEARCH_DOCUMENT, persisted=True),
            nullable=False,
        ),
        sa.Column(
            "title_search",
            postgresql.TSVECTOR(),
            sa.Computed("to_tsvector('simple'::regconfig, title)", persisted=True),
            nullable=False,
        ),
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
        sa.CheckConstraint("version >= 1", name=op.f("ck_knowledge_articles_version_positive")),
        sa.CheckConstraint(
            "char_length(title) BETWEEN 1 AND 200", name=op.f("ck_knowledge_articles_title_length")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["service_categories.id"],
            name=op.f("fk_knowledge_articles_category_id_service_categories"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_knowledge_articles_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_knowledge_articles_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_knowledge_articles_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_articles")),
        sa.UniqueConstraint("seed_key", name=op.f("uq_knowledge_articles_seed_key")),
    )
    op.create_index(
        "ix_knowledge_articles_search",
        "knowledge_articles",
        ["search"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_knowledge_articles_title_search",
        "knowledge_articles",
        ["title_search"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        "ix_knowledge_articles_category_title",
        "knowledge_articles",
        ["category_id", "title"],
        unique=False,
    )
    op.create_index(
        "ix_knowledge_articles_county_title", "knowledge_articles", ["county_id", "title"]
    )
    # Typos and parts of words in titles: pg_trgm ships with every PostgreSQL package
    # (contrib) but not with the embedded default server (pgserver); there search finds
    # parts of titles by a substring match without an index, and typos not at all.
    if op.get_bind().scalar(
        sa.text("SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ):
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_knowledge_articles_title_trgm",
            "knowledge_articles",
            ["title"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"title": "gin_trgm_ops"},
        )
    op.create_table(
        "knowledge_article_versions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("county_id", sa.Integer(), nullable=True),
        sa.Column("editor_id", sa.Integer(), nullable=True),
        sa.Column("editor_name", sa.String(length=120), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("change", sa.String(length=120), nullable=False),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["knowledge_articles.id"],
            name=op.f("fk_knowledge_article_versions_article_id_knowledge_articles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["service_categories.id"],
            name=op.f("fk_knowledge_article_versions_category_id_service_categories"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_knowledge_article_versions_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["editor_id"],
            ["users.id"],
            name=op.f("fk_knowledge_article_versions_editor_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_article_versions")),
        sa.UniqueConstraint(
            "article_id", "version", name=op.f("uq_knowledge_article_versions_article_id_version")
        ),
    )
    op.create_table(
        "ticket_article_answers",
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("article_version", sa.Integer(), nullable=False),
        sa.Column("county_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["knowledge_articles.id"],
            name=op.f("fk_ticket_article_answers_article_id_knowledge_articles"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_ticket_article_answers_county_id_counties"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["ticket_events.id"],
            name=op.f("fk_ticket_article_answers_event_id_ticket_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_article_answers_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_ticket_article_answers")),
    )
    op.create_index(
        "ix_ticket_article_answers_article_at",
        "ticket_article_answers",
        ["article_id", "answered_at"],
        unique=False,
    )
    op.create_index(
        "ix_ticket_article_answers_county_at",
        "ticket_article_answers",
        ["county_id", "answered_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ticket_article_answers_ticket_id"),
        "ticket_article_answers",
        ["ticket_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("ticket_article_answers")
    op.drop_table("knowledge_article_versions")
    op.execute("DROP INDEX IF EXISTS ix_knowledge_articles_title_trgm")
    op.drop_table("knowledge_articles")
    # An editor's account cannot outlive its role; their articles keep their name in the
    # (now dropped) history only.
    op.execute("DELETE FROM api_tokens WHERE role = 'editor'")
    op.execute("DELETE FROM users WHERE role = 'editor'")
    _roles(OLD_ROLES)
    # pg_trgm stays: another schema object may use it, and it holds no data.
