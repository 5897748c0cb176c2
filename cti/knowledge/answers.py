"""A ticket answered with an article: which article (and version) the agent read out, kept
with the ``answer`` event that closed the question (:mod:`cti.tickets.service` calls this
inside the move's transaction). Only the store is imported here: the ticket service
depends on this module, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.store.knowledge import Article, TicketArticleAnswer
from cti.store.tickets import Ticket, TicketEvent


@dataclass(frozen=True, slots=True)
class Cited:
    article_id: int
    version: int
    title: str
    answered_at: object


async def article(db: AsyncSession, article_id: int) -> Article | None:
    """The article an answer names, or None when there is none by that id."""
    if not 0 < article_id < 2**31:
        return None
    return await db.get(Article, article_id)


def event_note(found: Article) -> str:
    """The line the answer's event carries (the timeline and ticket search read it)."""
    return f"Answered with article #{found.id} “{found.title}” (version {found.version})"


def record(db: AsyncSession, ticket: Ticket, event: TicketEvent, found: Article) -> None:
    """Link ``event`` (an answer of ``ticket``, already flushed) to ``found``."""
    db.add(
        TicketArticleAnswer(
            event_id=event.id,
            ticket_id=ticket.id,
            article_id=found.id,
            article_version=found.version,
            county_id=ticket.county_id,
            answered_at=event.at,
        )
    )


async def cited_by(db: AsyncSession, ticket_id: int) -> list[Cited]:
    """The articles a ticket was answered with, in the order of the answers."""
    rows = await db.execute(
        select(
            TicketArticleAnswer.article_id,
            TicketArticleAnswer.article_version,
            Article.title,
            TicketArticleAnswer.answered_at,
        )
        .join(Article, Article.id == TicketArticleAnswer.article_id)
        .where(TicketArticleAnswer.ticket_id == ticket_id)
        .order_by(TicketArticleAnswer.answered_at, TicketArticleAnswer.event_id)
    )
    return [Cited(*row) for row in rows]
