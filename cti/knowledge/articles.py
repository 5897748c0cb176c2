"""Writing articles: create, edit, restore. Every change is a new version row saying who,
when and what changed; the article row holds the newest. Nothing here commits.

An edit names the version it was made from (``base_version``): if someone saved another
version since, the edit is refused (:class:`StaleVersion`) rather than silently undoing
their change.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.store import audit
from cti.store.base import utcnow
from cti.store.catalog import ServiceCategory
from cti.store.counties import County
from cti.store.knowledge import MAX_BODY, MAX_NOTE, MAX_TITLE, Article, ArticleVersion
from cti.store.users import User


class ArticleError(ValueError):
    """Refused input; ``field`` names the form field it is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class StaleVersion(ValueError):
    """The article changed since the version the edit was made from."""


@dataclass(frozen=True, slots=True)
class Draft:
    """What an editor submits. ``county``: a county code, or None for every county."""

    title: str
    body: str
    category: str
    county: str | None = None
    note: str = ""


def _clean(field: str, value: str, limit: int, *, required: bool = False) -> str:
    if "\x00" in value:
        raise ArticleError(field, "must not contain NUL characters")
    value = value.strip() if field != "body" else value.rstrip()
    if required and not value:
        raise ArticleError(field, f"the {field} is required")
    if len(value) > limit:
        raise ArticleError(field, f"at most {limit} characters")
    return value


async def _references(db: AsyncSession, draft: Draft) -> tuple[int, int | None]:
    category_id = await db.scalar(
        select(ServiceCategory.id).where(ServiceCategory.code == draft.category[:64])
    )
    if category_id is None:
        raise ArticleError("category", f"unknown catalogue entry {draft.category[:64]!r}")
    if not draft.county:
        return category_id, None
    county_id = await db.scalar(select(County.id).where(County.code == draft.county[:32]))
    if county_id is None:
        raise ArticleError("county", f"unknown county {draft.county[:32]!r}")
    return category_id, county_id


def _version(article: Article, editor: User, change: str, note: str) -> ArticleVersion:
    return ArticleVersion(
        article_id=article.id,
        version=article.version,
        title=article.title,
        body=article.body,
        category_id=article.category_id,
        county_id=article.county_id,
        editor_id=editor.id,
        editor_name=editor.display_name or editor.username,
        edited_at=utcnow(),
        change=change,
        note=note,
    )


def _audit(db: AsyncSession, editor: User, action: str, article: Article, **detail: object) -> None:
    audit.record(
        db,
        actor_id=editor.id,
        actor_name=editor.username,
        action=f"article.{action}",
        object_type="article",
        object_id=str(article.id),
        detail={"version": article.version, **detail},
    )


async def create(
    db: AsyncSession, editor: User, draft: Draft, *, seed_key: str | None = None
) -> Article:
    """A new article (version 1) from ``draft``; :class:`ArticleError` names a bad field."""
    title = _clean("title", draft.title, MAX_TITLE, required=True)
    body = _clean("body", draft.body, MAX_BODY)
    note = _clean("note", draft.note, MAX_NOTE)
    category_id, county_id = await _references(db, draft)
    article = Article(
        title=title,
        body=body,
        category_id=category_id,
        county_id=county_id,
        version=1,
        seed_key=seed_key,
        created_by=editor.id,
        updated_by=editor.id,
    )
    db.add(article)
    await db.flush()
    db.add(_version(article, editor, "created", note))
    _audit(db, editor, "create", article, title=title)
    await db.flush()
    return article


async def edit(
    db: AsyncSession, editor: User, article: Article, draft: Draft, *, base_version: int
) -> Article:
    """Save ``draft`` as the article's next version. Refused with :class:`StaleVersion`
    when the article is no longer at ``base_version``, and with :class:`ArticleError` when
    nothing changed (a version that changes nothing is noise in the history)."""
    title = _clean("title", draft.title, MAX_TITLE, required=True)
    body = _clean("body", draft.body, MAX_BODY)
    note = _clean("note", draft.note, MAX_NOTE)
    category_id, county_id = await _references(db, draft)
    await db.refresh(article, with_for_update=True)
    if article.version != base_version:
        raise StaleVersion(
            f"someone saved version {article.version} after the version {base_version} you "
            "edited: open the article again and redo your change"
        )
    changed = [
        name
        for name, old, new in (
            ("title", article.title, title),
            ("body", article.body, body),
            ("category", article.category_id, category_id),
            ("county", article.county_id, county_id),
        )
        if old != new
    ]
    if not changed:
        raise ArticleError("body", "nothing changed")
    article.title, article.body = title, body
    article.category_id, article.county_id = category_id, county_id
    return await _new_version(db, editor, article, ", ".join(changed), note, "edit")


async def restore(
    db: AsyncSession, editor: User, article: Article, version: int, note: str = ""
) -> Article:
    """Make version ``version``'s text the article's next version (history is kept)."""
    note = _clean("note", note, MAX_NOTE)
    await db.refresh(article, with_for_update=True)
    old = await version_of(db, article.id, version)
    if old is None:
        raise ArticleError("version", f"article {article.id} has no version {version}")
    if version == article.version:
        raise ArticleError("version", f"version {version} is the current one")
    article.title, article.body = old.title, old.body
    article.category_id, article.county_id = old.category_id, old.county_id
    return await _new_version(db, editor, article, f"restored version {version}", note, "restore")


async def _new_version(
    db: AsyncSession, editor: User, article: Article, change: str, note: str, action: str
) -> Article:
    article.version += 1
    article.updated_by = editor.id
    article.updated_at = utcnow()
    db.add(_version(article, editor, change, note))
    _audit(db, editor, action, article, change=change)
    await db.flush()
    await db.refresh(article)  # the search vector is computed by the database
    return article


async def version_of(db: AsyncSession, article_id: int, version: int) -> ArticleVersion | None:
    return await db.scalar(
        select(ArticleVersion).where(
            ArticleVersion.article_id == article_id, ArticleVersion.version == version
        )
    )


async def history(db: AsyncSession, article_id: int) -> list[ArticleVersion]:
    """Every version, newest first."""
    return list(
        await db.scalars(
            select(ArticleVersion)
            .where(ArticleVersion.article_id == article_id)
            .order_by(ArticleVersion.version.desc())
        )
    )
