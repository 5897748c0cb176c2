"""The starter articles ``cti db seed`` writes so a fresh install is not empty: one per
catalogue item, for every county, saying what the centre arranges and what to ask the
caller. Each carries its item's code (``seed_key``): a re-seed adds the articles of new
items and leaves every existing one, edited or not, as it is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.store.base import utcnow
from cti.store.catalog import ServiceCategory
from cti.store.knowledge import Article, ArticleVersion

AUTHOR = "starter set (cti db seed)"
#: The "life information" items are answered from what the article says; the others are
#: usually a ticket for a company.
INFORMATION = "info"


def seed_key(code: str) -> str:
    return f"catalog:{code}"


def text_for(group: dict[str, Any], item: dict[str, str]) -> tuple[str, str]:
    """(title, Markdown body) of the starter article of ``item`` under ``group`` (pure)."""
    name, category = item["name"], group["name"]
    if group["code"] == INFORMATION:
        body = (
            f"# {name}\n\n"
            f"*{category}* — the caller asks about **{name.lower()}**.\n\n"
            "## Answer on the call\n\n"
            "1. Ask which county and which office or service the question is about.\n"
            "2. Give the opening hours, address and telephone number of the office "
            "(editors: write them here for each county).\n"
            "3. If the answer is not here, take a ticket and say when we will call back.\n\n"
            "Close the ticket as **answered with this article**.\n"
        )
    else:
        body = (
            f"# {name}\n\n"
            f"*{category}* — the centre arranges **{name.lower()}** through its approved "
            "service companies.\n\n"
            "## Ask the caller\n\n"
            "- The address where the service is needed, and a telephone number.\n"
            "- When it suits them (the preferred time).\n"
            "- What exactly is needed, in their words.\n\n"
            "## Then\n\n"
            "Create a ticket for this item; it is dispatched to an approved company that "
            "serves the county. A question that needs no visit (prices, what is covered) "
            "is answered from this article: close the ticket as **answered with this "
            "article**.\n"
        )
    return name, body


async def seed_articles(session: AsyncSession, catalog: list[dict[str, Any]]) -> int:
    """Add the starter article of every catalogue item that has none yet; returns how
    many were added (0 on a re-seed)."""
    have = set(await session.scalars(select(Article.seed_key).where(Article.seed_key.isnot(None))))
    ids = dict((await session.execute(select(ServiceCategory.code, ServiceCategory.id))).all())
    added = 0
    for group in catalog:
        for item in group.get("items", []):
            key = seed_key(item["code"])
            if key in have or item["code"] not in ids:
                continue
            title, body = text_for(group, item)
            article = Article(
                title=title, body=body, category_id=ids[item["code"]], version=1, seed_key=key
            )
            session.add(article)
            await session.flush()
            session.add(
                ArticleVersion(
                    article_id=article.id,
                    version=1,
                    title=title,
                    body=body,
                    category_id=article.category_id,
                    county_id=None,
                    editor_id=None,
                    editor_name=AUTHOR,
                    edited_at=utcnow(),
                    change="created",
                )
            )
            added += 1
    await session.flush()
    return added
