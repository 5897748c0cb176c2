"""The knowledge base: articles agents answer callers from, every version of each, and the
tickets answered with one.

An article belongs to a catalogue category (a top-level one or an item under it) and to a
county, or to every county (``county_id`` null). Its row holds the current text; every
change (the first text included) is also a :class:`ArticleVersion` row saying who made it,
when and what changed, so any older text can be read and restored (a restore is a new
version, history is never rewritten).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from cti.store.base import Base, Timestamps

MAX_TITLE = 200
MAX_BODY = 50_000
MAX_NOTE = 500

#: What full-text search reads: the title weighs more than the body. ``simple``: no
#: stemming and no stop words, the texts are in several languages (as ticket search).
SEARCH_DOCUMENT = (
    "setweight(to_tsvector('simple'::regconfig, title), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, body), 'B')"
)
#: The title's words alone: search looks at title matches first (few, ranked in full),
#: then at body matches (a word common in bodies matches most articles).
TITLE_DOCUMENT = "to_tsvector('simple'::regconfig, title)"


class Article(Timestamps, Base):
    __tablename__ = "knowledge_articles"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(f"char_length(title) BETWEEN 1 AND {MAX_TITLE}", name="title_length"),
        Index("ix_knowledge_articles_search", "search", postgresql_using="gin"),
        Index("ix_knowledge_articles_title_search", "title_search", postgresql_using="gin"),
        Index("ix_knowledge_articles_category_title", "category_id", "title"),
        Index("ix_knowledge_articles_county_title", "county_id", "title"),
        # Typos and parts of words in titles; only where the server has pg_trgm (migration
        # 0013 creates it then; the embedded default server has not, and search degrades
        # to a substring match, cti/knowledge/search.py).
        Index(
            "ix_knowledge_articles_title_trgm",
            "title",
            postgresql_using="gin",
            postgresql_ops={"title": "gin_trgm_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The catalogue category or item it is about (null only if that entry was removed).
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_categories.id", ondelete="SET NULL")
    )
    #: Null: the article holds for every county.
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    #: Markdown, stored verbatim; shown only through ``cti.knowledge.render``.
    body: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: The number of the current version (its row in ``knowledge_article_versions``).
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    #: The starter articles of ``cti db seed`` carry the catalogue code they were made
    #: from, so a re-seed adds what is missing and never overwrites an editor's work.
    seed_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Read by the database only (deferred: a loaded article does not carry it).
    search: Mapped[str] = mapped_column(
        TSVECTOR, Computed(SEARCH_DOCUMENT, persisted=True), deferred=True
    )
    title_search: Mapped[str] = mapped_column(
        TSVECTOR, Computed(TITLE_DOCUMENT, persisted=True), deferred=True
    )


class ArticleVersion(Base):
    """One version of an article: its whole text then, who wrote it, when, and what changed."""

    __tablename__ = "knowledge_article_versions"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("knowledge_articles.id", ondelete="CASCADE"))
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    body: Mapped[str] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_categories.id", ondelete="SET NULL")
    )
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id", ondelete="RESTRICT"))
    editor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: Who it was, kept when the account is gone.
    editor_name: Mapped[str] = mapped_column(String(120))
    edited_at: Mapped[datetime]
    #: What changed, in words made by the code: "created", "title, body", "restored 2".
    change: Mapped[str] = mapped_column(String(120))
    #: What the editor said about it (verbatim, optional).
    note: Mapped[str] = mapped_column(String(MAX_NOTE), default="", server_default="")


class TicketArticleAnswer(Base):
    """A ticket answered with an article: one row per ``answer`` event that cited one (a
    reopened ticket answered again may cite another). ``county_id`` is the ticket's county
    when it was answered, so the reports count per county without reading tickets."""

    __tablename__ = "ticket_article_answers"
    __table_args__ = (
        Index("ix_ticket_article_answers_article_at", "article_id", "answered_at"),
        Index("ix_ticket_article_answers_county_at", "county_id", "answered_at"),
    )

    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("ticket_events.id", ondelete="CASCADE"), primary_key=True
    )
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("knowledge_articles.id", ondelete="RESTRICT")
    )
    #: The version the agent read out.
    article_version: Mapped[int]
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime]
