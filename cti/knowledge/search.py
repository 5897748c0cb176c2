"""Finding articles: full-text search ranked by relevance, titles close to what was typed
(typos), and browsing by category and county.

Articles whose title has the words come first, then those that have them in the body
only; each group is ranked by ``ts_rank`` over the stored ``search`` vector (a word in the
title weighs 1.0, in the body 0.4, normalised by length: a shorter article about the words
ranks above a long one that mentions them in passing); ties go by title. At most
:data:`RANKED` matches per group are ranked, and a "phrase" is looked for in at most
:data:`EXAMINED` of the articles that hold its words.
When the words find fewer articles than asked for, titles similar to the text fill the
rest, after them: with pg_trgm, each word must be like a word of the title
(``word_similarity``: a typo like "plumbng" finds "Plumbing"); without it (the embedded
default server has no pg_trgm), titles containing the text as a substring, and typos find
nothing. :func:`has_trigram` says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from cti.knowledge.query import Query, to_tsquery
from cti.store.catalog import ServiceCategory
from cti.store.counties import County
from cti.store.knowledge import Article

SIMPLE = literal_column("'simple'::regconfig")
#: ts_rank's weights for D, C, B (body), A (title).
WEIGHTS = literal_column("'{0.1, 0.2, 0.4, 1.0}'::float4[]")
#: ts_rank normalisation 1: divide by 1 + log(length of the document).
NORMALISE = 1
#: How alike a title must be to the text to be offered as "similar" (0-1). pg_trgm's own
#: default (0.6) misses one-letter typos in short words.
SIMILARITY = 0.45
MAX_LIMIT = 100
#: At most this many matches of one step (title, then body) are ranked; the others are
#: not looked at. Only a query whose words are in more articles than this (a word in
#: most bodies, alone) is affected: its body matches are ranked among the first RANKED
#: the index gives, not among all. Measured by bench/bench_knowledge.py.
RANKED = 1000
#: A "phrase" is looked for in at most this many of the articles that hold its words.
EXAMINED = 2000


@dataclass(frozen=True, slots=True)
class Filters:
    """``category_ids``: the article's category is one of these (empty: any). ``county_id``:
    articles of that county and those for every county; ``every_county_only``: only the
    latter."""

    category_ids: tuple[int, ...] = ()
    county_id: int | None = None
    every_county_only: bool = False


@dataclass(frozen=True, slots=True)
class Hit:
    article: Article
    score: float
    #: "words": the words are in it; "similar": its title is like the text.
    how: str = "words"


@dataclass(frozen=True, slots=True)
class Found:
    hits: list[Hit] = field(default_factory=list)
    #: Whether similar titles were looked for by trigram (else by substring).
    trigram: bool = False


def conditions(filters: Filters) -> list[ColumnElement[bool]]:
    a = Article
    where: list[ColumnElement[bool]] = []
    if filters.category_ids:
        where.append(a.category_id.in_(filters.category_ids))
    if filters.every_county_only:
        where.append(a.county_id.is_(None))
    elif filters.county_id is not None:
        where.append(or_(a.county_id == filters.county_id, a.county_id.is_(None)))
    return where


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def has_trigram(db: AsyncSession) -> bool:
    """Whether pg_trgm is installed in this database (migration 0013 installs it where the
    server offers it)."""
    return bool(
        await db.scalar(text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'"))
    )


async def search(
    db: AsyncSession,
    query: Query,
    filters: Filters = Filters(),
    *,
    trigram: bool,
    limit: int = 20,
) -> Found:
    """Articles matching ``query`` within ``filters``, best first (see the module's
    ranking), at most ``limit``. An empty query finds nothing (use :func:`browse`)."""
    limit = max(1, min(limit, MAX_LIMIT))
    if query.empty:
        return Found([], trigram)
    tsquery = func.to_tsquery(SIMPLE, cast(literal(to_tsquery(query)), Text))
    if query.phrases:
        hits = await _phrase(db, query, tsquery, filters, limit)
    else:
        # Title matches first, then body-only ones: each step ranks at most RANKED
        # candidates, so a word that is in most bodies costs a bounded amount of ranking.
        in_title = Article.title_search.op("@@", is_comparison=True)(tsquery)
        hits = await _ranked(db, tsquery, in_title, filters, limit)
        if len(hits) < limit:
            body_only = and_(Article.search.op("@@", is_comparison=True)(tsquery), not_(in_title))
            hits += await _ranked(db, tsquery, body_only, filters, limit - len(hits))
    if len(hits) < limit and not query.excluded:
        hits += await _similar(db, query, filters, trigram, limit - len(hits), hits)
    return Found(hits, trigram)


async def _ranked(
    db: AsyncSession,
    tsquery: ColumnElement,
    match: ColumnElement[bool],
    filters: Filters,
    limit: int,
) -> list[Hit]:
    candidates = (
        select(Article.id, Article.search)
        .where(match, *conditions(filters))
        .limit(RANKED)
        .subquery()
    )
    rank = func.ts_rank(WEIGHTS, candidates.c.search, tsquery, NORMALISE)
    stmt = (
        select(Article, rank.label("rank"))
        .join(candidates, candidates.c.id == Article.id)
        .order_by(rank.desc(), Article.title, Article.id)
        .limit(limit)
    )
    return [Hit(row[0], float(row[1])) for row in await db.execute(stmt)]


async def _phrase(
    db: AsyncSession, query: Query, tsquery: ColumnElement, filters: Filters, limit: int
) -> list[Hit]:
    # The index knows which articles hold the words, not whether they are next to each
    # other: that is read from each row. Only the first EXAMINED articles with the words
    # are read (two common words are both in most articles, rarely side by side).
    loose = func.to_tsquery(SIMPLE, cast(literal(to_tsquery(query, loose=True)), Text))
    candidates = (
        select(Article.id, Article.search, Article.title_search)
        .where(Article.search.op("@@", is_comparison=True)(loose), *conditions(filters))
        .limit(EXAMINED)
        .subquery()
    )
    rank = func.ts_rank(WEIGHTS, candidates.c.search, tsquery, NORMALISE)
    title_first = case(
        (candidates.c.title_search.op("@@", is_comparison=True)(tsquery), 0), else_=1
    )
    stmt = (
        select(Article, rank.label("rank"))
        .join(candidates, candidates.c.id == Article.id)
        .where(candidates.c.search.op("@@", is_comparison=True)(tsquery))
        .order_by(title_first, rank.desc(), Article.title, Article.id)
        .limit(limit)
    )
    return [Hit(row[0], float(row[1])) for row in await db.execute(stmt)]


async def _similar(
    db: AsyncSession,
    query: Query,
    filters: Filters,
    trigram: bool,
    limit: int,
    found: list[Hit],
) -> list[Hit]:
    typed = query.plain
    seen = [h.article.id for h in found]
    where = [*conditions(filters)]
    if seen:
        where.append(Article.id.not_in(seen))
    if trigram:
        # ``<%`` (word_similarity above the threshold) is what the title's trigram index
        # serves; the threshold is set for this transaction only.
        await db.execute(
            text("SELECT set_config('pg_trgm.word_similarity_threshold', :t, true)"),
            {"t": str(SIMILARITY)},
        )
        # Every word must be like a word of the title (AND, as the full-text match).
        typed_words = [cast(literal(w), Text) for w in typed.split()]
        similarity = sum(
            (func.word_similarity(w, Article.title) for w in typed_words[1:]),
            func.word_similarity(typed_words[0], Article.title),
        ) / len(typed_words)
        stmt = (
            select(Article, similarity.label("sim"))
            .where(*(w.op("<%")(Article.title) for w in typed_words), *where)
            .order_by(similarity.desc(), Article.title, Article.id)
            .limit(limit)
        )
        return [Hit(row[0], float(row[1]), "similar") for row in await db.execute(stmt)]
    if len(typed) < 3:
        return []  # two letters are in half the titles: not a useful substring match
    stmt = (
        select(Article)
        .where(Article.title.ilike(f"%{_like_escape(typed)}%", escape="\\"), *where)
        .order_by(Article.title, Article.id)
        .limit(limit)
    )
    return [Hit(row, 0.0, "similar") for row in await db.scalars(stmt)]


async def browse(
    db: AsyncSession, filters: Filters = Filters(), *, limit: int = 50, offset: int = 0
) -> list[Article]:
    """Articles within ``filters`` by title (a page of ``limit`` from ``offset``)."""
    stmt = (
        select(Article)
        .where(*conditions(filters))
        .order_by(Article.title, Article.id)
        .limit(max(1, min(limit, MAX_LIMIT)))
        .offset(max(0, offset))
    )
    return list(await db.scalars(stmt))


class UnknownFilter(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


#: The county filter's value for "only the articles for every county".
EVERY_COUNTY = "all"


async def resolve_filters(db: AsyncSession, category: str = "", county: str = "") -> Filters:
    """Filters from a category or item code (a category takes in its items) and a county
    code (or :data:`EVERY_COUNTY`); :class:`UnknownFilter` names an unknown one."""
    category_ids: tuple[int, ...] = ()
    if category:
        found = await db.scalar(select(ServiceCategory.id).where(ServiceCategory.code == category))
        if found is None:
            raise UnknownFilter("category", f"no catalogue entry {category[:64]!r}")
        items = await db.scalars(
            select(ServiceCategory.id).where(ServiceCategory.parent_id == found)
        )
        category_ids = (found, *items)
    if county == EVERY_COUNTY:
        return Filters(category_ids, None, every_county_only=True)
    county_id = None
    if county:
        county_id = await db.scalar(select(County.id).where(County.code == county))
        if county_id is None:
            raise UnknownFilter("county", f"no county {county[:32]!r}")
    return Filters(category_ids, county_id)
