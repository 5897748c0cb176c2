"""How often each article answered a ticket, for the reports: a pure fold over answer rows
and the one SQL statement that feeds it.

``answered_with_article(db, since, until, county_id=None)`` returns
``[ArticleUsage(article_id, title, answers, tickets)]``, most used first: the answers
(``answer`` events that cited the article) with ``since <= answered_at < until``, and how
many distinct tickets those were; ``county_id`` counts only tickets of that county (the
ticket's county when it was answered). :func:`count` is the same fold over plain rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.store.knowledge import Article, TicketArticleAnswer


@dataclass(frozen=True, slots=True)
class ArticleUsage:
    article_id: int
    title: str
    answers: int
    tickets: int


@dataclass(frozen=True, slots=True)
class AnswerRow:
    """One answer as the fold reads it."""

    article_id: int
    ticket_id: int
    county_id: int | None
    answered_at: datetime


def count(
    rows: Iterable[AnswerRow],
    titles: dict[int, str],
    since: datetime,
    until: datetime,
    county_id: int | None = None,
) -> list[ArticleUsage]:
    """Per article, the answers in ``[since, until)`` (of ``county_id``'s tickets when
    given) and their distinct tickets; most answers first, then by title, then id."""
    answers: dict[int, int] = {}
    tickets: dict[int, set[int]] = {}
    for row in rows:
        if not since <= row.answered_at < until:
            continue
        if county_id is not None and row.county_id != county_id:
            continue
        answers[row.article_id] = answers.get(row.article_id, 0) + 1
        tickets.setdefault(row.article_id, set()).add(row.ticket_id)
    out = [
        ArticleUsage(a, titles.get(a, f"article {a}"), n, len(tickets[a]))
        for a, n in answers.items()
    ]
    return sorted(out, key=lambda u: (-u.answers, u.title, u.article_id))


async def answered_with_article(
    db: AsyncSession, since: datetime, until: datetime, county_id: int | None = None
) -> list[ArticleUsage]:
    """:func:`count` done by the database (indexes on (county_id, answered_at) and
    (article_id, answered_at))."""
    t = TicketArticleAnswer
    answers = func.count().label("answers")
    stmt = (
        select(t.article_id, Article.title, answers, func.count(t.ticket_id.distinct()))
        .join(Article, Article.id == t.article_id)
        .where(t.answered_at >= since, t.answered_at < until)
        .group_by(t.article_id, Article.title)
        .order_by(answers.desc(), Article.title, t.article_id)
    )
    if county_id is not None:
        stmt = stmt.where(t.county_id == county_id)
    return [ArticleUsage(*row) for row in await db.execute(stmt)]
