"""Knowledge base API: every member of the centre's staff searches and reads articles;
editors and admins write them (every change a version, any version restorable); agents get
the articles for a caller's open tickets in the screen-pop.

An article's body is Markdown, stored verbatim; ``html`` is its rendering with nothing
active in it (``cti.knowledge.render``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from cti.knowledge import articles, render, suggest
from cti.knowledge import query as kquery
from cti.knowledge import search as ksearch
from cti.store.catalog import ServiceCategory
from cti.store.counties import County
from cti.store.knowledge import MAX_BODY, MAX_NOTE, MAX_TITLE, Article, ArticleVersion
from cti.store.tickets import OPEN_STATUSES, Ticket
from cti.store.users import Role, User
from cti.tickets import access, read
from cti.web.deps import CENTRE_ROLES, DbSession, RequireRole
from cti.web.errors import Conflict, Invalid, NotFound, documented
from cti.web.sessions import AuthContext

router = APIRouter(prefix="/api/knowledge")

#: Who reads the knowledge base: all the centre's staff. Who writes it: editors, admins.
READERS = CENTRE_ROLES
EDITORS = (Role.EDITOR, Role.ADMIN)
Reader = Annotated[AuthContext, Depends(RequireRole(*READERS))]
Editor = Annotated[AuthContext, Depends(RequireRole(*EDITORS))]
TicketReader = Annotated[AuthContext, Depends(RequireRole(*access.READERS))]
ArticleId = Annotated[int, Path(ge=1, le=2**31 - 1)]
VersionNo = Annotated[int, Path(ge=1, le=2**31 - 1)]
Code = Annotated[str, Query(max_length=64, pattern=r"^[a-z0-9_.]*$")]


async def trigram(request: Request, db: DbSession) -> bool:
    """Whether the database has pg_trgm (asked once per app: extensions change only with
    a migration)."""
    known = getattr(request.app.state, "knowledge_trigram", None)
    if known is None:
        known = await ksearch.has_trigram(db)
        request.app.state.knowledge_trigram = known
    return known


Trigram = Annotated[bool, Depends(trigram)]


class ArticleSummary(BaseModel):
    id: int
    title: str
    category: str | None = Field(description="catalogue code")
    category_name: str | None
    county: str | None = Field(description="county code; null: every county")
    version: int
    updated_at: datetime
    excerpt: str
    url: str


class Hit(ArticleSummary):
    score: float
    how: str = Field(description="words: the words are in it; similar: its title is like them")


class SearchOut(BaseModel):
    results: list[Hit]
    #: False where the database has no pg_trgm: similar titles by substring, no typos.
    typo_tolerant: bool


class ArticleOut(ArticleSummary):
    body: str = Field(description="Markdown, as written")
    html: str = Field(description="the body rendered, safe to show")
    updated_by: str | None


class ArticleIn(BaseModel):
    title: str = Field(max_length=MAX_TITLE + 50)
    body: str = Field(default="", max_length=MAX_BODY + 100)
    category: str = Field(max_length=64, description="catalogue code: category or item")
    county: str | None = Field(default=None, max_length=32, description="null: every county")
    note: str = Field(default="", max_length=MAX_NOTE + 50, description="what changed, and why")


class ArticleEdit(ArticleIn):
    base_version: int = Field(ge=1, le=2**31 - 1, description="the version this edit started from")


class RestoreIn(BaseModel):
    note: str = Field(default="", max_length=MAX_NOTE + 50)


class VersionOut(BaseModel):
    version: int
    title: str
    category: str | None
    county: str | None
    editor: str
    edited_at: datetime
    change: str
    note: str


class VersionDetail(VersionOut):
    body: str
    html: str


class SuggestionOut(ArticleSummary):
    ticket: str = Field(description="the open ticket it is suggested for")


async def _names(db: DbSession) -> tuple[dict[int, tuple[str, str]], dict[int, str]]:
    categories = {
        i: (code, name)
        for i, code, name in await db.execute(
            select(ServiceCategory.id, ServiceCategory.code, ServiceCategory.name)
        )
    }
    counties = dict((await db.execute(select(County.id, County.code))).all())
    return categories, counties


def _summary(a: Article, categories: dict, counties: dict) -> dict:
    code, name = categories.get(a.category_id, (None, None))
    return {
        "id": a.id,
        "title": a.title,
        "category": code,
        "category_name": name,
        "county": counties.get(a.county_id),
        "version": a.version,
        "updated_at": a.updated_at,
        "excerpt": render.excerpt(a.body),
        "url": f"/knowledge/articles/{a.id}",
    }


async def summaries(db: DbSession, rows: list[Article]) -> list[ArticleSummary]:
    categories, counties = await _names(db)
    return [ArticleSummary(**_summary(a, categories, counties)) for a in rows]


async def article_out(db: DbSession, a: Article) -> ArticleOut:
    categories, counties = await _names(db)
    editor = await db.get(User, a.updated_by) if a.updated_by else None
    return ArticleOut(
        **_summary(a, categories, counties),
        body=a.body,
        html=render.to_html(a.body),
        updated_by=(editor.display_name or editor.username) if editor else None,
    )


async def version_out(db: DbSession, v: ArticleVersion) -> VersionOut:
    categories, counties = await _names(db)
    return VersionOut(
        version=v.version,
        title=v.title,
        category=categories.get(v.category_id, (None, None))[0],
        county=counties.get(v.county_id),
        editor=v.editor_name,
        edited_at=v.edited_at,
        change=v.change,
        note=v.note,
    )


async def find(db: DbSession, article_id: int) -> Article:
    found = await db.get(Article, article_id)
    if found is None:
        raise NotFound(f"no article {article_id}")
    return found


async def run_search(
    db: DbSession, q: str, filters: ksearch.Filters, *, trigram: bool, limit: int
) -> SearchOut:
    """Search (words given) or browse (none) within ``filters``, as the API answers."""
    parsed = kquery.parse(q)
    categories, counties = await _names(db)
    if parsed.empty:
        rows = await ksearch.browse(db, filters, limit=limit)
        return SearchOut(
            results=[
                Hit(**_summary(a, categories, counties), score=0.0, how="browse") for a in rows
            ],
            typo_tolerant=trigram,
        )
    found = await ksearch.search(db, parsed, filters, trigram=trigram, limit=limit)
    return SearchOut(
        results=[
            Hit(**_summary(h.article, categories, counties), score=h.score, how=h.how)
            for h in found.hits
        ],
        typo_tolerant=found.trigram,
    )


@router.get(
    "/articles",
    summary='Search the knowledge base (words, "phrases", -words), or browse it',
    responses=documented(Invalid),
)
async def search_articles(
    ctx: Reader,
    db: DbSession,
    has_trigram: Trigram,
    q: Annotated[str, Query(max_length=kquery.MAX_TEXT)] = "",
    category: Code = "",
    county: Annotated[str, Query(max_length=32, pattern=r"^[a-z0-9_]*$")] = "",
    limit: Annotated[int, Query(ge=1, le=ksearch.MAX_LIMIT)] = 20,
) -> SearchOut:
    """Best first. Without words: the articles within the filters by title. ``category``
    takes in its items; ``county`` gives that county's articles and those for every county
    (``all``: only the latter)."""
    try:
        filters = await ksearch.resolve_filters(db, category, county)
    except ksearch.UnknownFilter as exc:
        raise Invalid(str(exc), fields={exc.field: str(exc)}) from None
    return await run_search(db, q, filters, trigram=has_trigram, limit=limit)


@router.get("/articles/{article_id}", summary="One article", responses=documented(NotFound))
async def get_article(article_id: ArticleId, ctx: Reader, db: DbSession) -> ArticleOut:
    return await article_out(db, await find(db, article_id))


def _draft(body: ArticleIn) -> articles.Draft:
    return articles.Draft(
        title=body.title,
        body=body.body,
        category=body.category,
        county=body.county or None,
        note=body.note,
    )


@router.post(
    "/articles",
    status_code=201,
    summary="Write a new article (version 1)",
    responses=documented(Invalid),
)
async def create_article(body: ArticleIn, ctx: Editor, db: DbSession) -> ArticleOut:
    try:
        created = await articles.create(db, ctx.user, _draft(body))
    except articles.ArticleError as exc:
        raise Invalid(str(exc), fields={exc.field: str(exc)}) from None
    await db.commit()
    return await article_out(db, created)


@router.put(
    "/articles/{article_id}",
    summary="Save an edit as the article's next version",
    responses=documented(NotFound, Conflict, Invalid),
)
async def edit_article(
    article_id: ArticleId, body: ArticleEdit, ctx: Editor, db: DbSession
) -> ArticleOut:
    """Refused (409) when someone saved a version after ``base_version``."""
    found = await find(db, article_id)
    try:
        saved = await articles.edit(
            db, ctx.user, found, _draft(body), base_version=body.base_version
        )
    except articles.StaleVersion as exc:
        raise Conflict(str(exc)) from None
    except articles.ArticleError as exc:
        raise Invalid(str(exc), fields={exc.field: str(exc)}) from None
    await db.commit()
    return await article_out(db, saved)


@router.get(
    "/articles/{article_id}/versions",
    summary="Every version of an article, newest first: who, when, what changed",
    responses=documented(NotFound),
)
async def list_versions(article_id: ArticleId, ctx: Editor, db: DbSession) -> list[VersionOut]:
    await find(db, article_id)
    return [await version_out(db, v) for v in await articles.history(db, article_id)]


@router.get(
    "/articles/{article_id}/versions/{version}",
    summary="One version of an article, as it was",
    responses=documented(NotFound),
)
async def get_version(
    article_id: ArticleId, version: VersionNo, ctx: Editor, db: DbSession
) -> VersionDetail:
    found = await articles.version_of(db, article_id, version)
    if found is None:
        raise NotFound(f"article {article_id} has no version {version}")
    shown = await version_out(db, found)
    return VersionDetail(**shown.model_dump(), body=found.body, html=render.to_html(found.body))


@router.post(
    "/articles/{article_id}/versions/{version}/restore",
    summary="Make an older version's text the article's next version",
    responses=documented(NotFound, Invalid),
)
async def restore_version(
    article_id: ArticleId, version: VersionNo, body: RestoreIn, ctx: Editor, db: DbSession
) -> ArticleOut:
    found = await find(db, article_id)
    try:
        saved = await articles.restore(db, ctx.user, found, version, body.note)
    except articles.ArticleError as exc:
        raise Invalid(str(exc), fields={exc.field: str(exc)}) from None
    await db.commit()
    return await article_out(db, saved)


@router.get(
    "/suggestions",
    summary="Articles for a caller's open tickets (the screen-pop's panel)",
    responses=documented(Invalid),
)
async def suggestions(
    ctx: TicketReader,
    db: DbSession,
    ticket: Annotated[
        list[str], Query(max_length=suggest.MAX_TICKETS, description="ticket numbers")
    ] = [],  # noqa: B006  (FastAPI's way to declare a repeated query parameter)
    citizen: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> list[SuggestionOut]:
    """For the tickets named (those the caller may see; others are ignored, as if
    missing) or the citizen's open tickets; best first."""
    if not ticket and citizen is None:
        raise Invalid("name a ticket or a citizen", fields={"ticket": "give ticket or citizen"})
    tickets: list[Ticket] = []
    for number in ticket:
        if not number or len(number) > 24 or not number.replace("-", "").isalnum():
            raise Invalid(f"not a ticket number: {number[:24]!r}", fields={"ticket": number[:24]})
        found = await read.visible_ticket(db, ctx.user, number)
        if found is not None:
            tickets.append(found)
    if citizen is not None:
        tickets += list(
            await db.scalars(
                select(Ticket)
                .where(
                    Ticket.citizen_id == citizen,
                    Ticket.status.in_([s.value for s in OPEN_STATUSES]),
                    *access.conditions(access.scope_of(ctx.user)),
                )
                .order_by(Ticket.created_at.desc(), Ticket.id.desc())
                .limit(suggest.MAX_TICKETS)
            )
        )
    categories, counties = await _names(db)
    return [
        SuggestionOut(**_summary(s.article, categories, counties), ticket=s.ticket)
        for s in await suggest.for_tickets(db, tickets, limit=limit)
    ]
