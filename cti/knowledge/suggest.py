"""The articles for what a caller has open: for each of their open tickets, the articles of
its catalogue item first, then of its category; of its county before those for every
county. The screen-pop's panel and the ticket page's answer form show them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.store.knowledge import Article
from cti.store.tickets import Ticket

MAX_TICKETS = 10


@dataclass(frozen=True, slots=True)
class Suggestion:
    article: Article
    #: The ticket it is suggested for.
    ticket: str


async def for_tickets(
    db: AsyncSession, tickets: list[Ticket], *, limit: int = 5
) -> list[Suggestion]:
    """At most ``limit`` articles for ``tickets`` (the first :data:`MAX_TICKETS`), each
    once, for the first ticket it fits; in the order of the tickets, then as the module
    says."""
    out: list[Suggestion] = []
    seen: set[int] = set()
    for ticket in tickets[:MAX_TICKETS]:
        if len(out) >= limit:
            break
        categories = [c for c in (ticket.subcategory_id, ticket.category_id) if c is not None]
        if not categories:
            continue
        a = Article
        county = (
            or_(a.county_id == ticket.county_id, a.county_id.is_(None))
            if ticket.county_id is not None
            else a.county_id.is_(None)
        )
        stmt = (
            select(a)
            .where(a.category_id.in_(categories), county, a.id.not_in(seen or {0}))
            .order_by(
                case((a.category_id == categories[0], 0), else_=1),
                case((a.county_id.is_(None), 1), else_=0),
                a.title,
                a.id,
            )
            .limit(limit - len(out))
        )
        for article in await db.scalars(stmt):
            seen.add(article.id)
            out.append(Suggestion(article, ticket.number))
    return out
