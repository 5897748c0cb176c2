"""Knowledge search benchmark (issue 15): what an agent types into the knowledge search,
p50/p95 through ``cti.knowledge.search.search`` at ``--articles`` articles, against an
unindexed ``ILIKE`` search of title and body for the same words, same run.

The articles are copied (COPY) into a throwaway database (migrated and seeded, so the
starter articles and the catalogue are there): deterministic pseudo-random text, a title
of a catalogue item's name and two words, a body of 80-200 words drawn from 5,000 with a
skew (``random() ** 4``: the commonest word is in every article, the rarest in a few
dozen, as in real text), a category item and one county in four or every county.
Target: p95 < 30 ms at 100,000 articles for every query kind.

    .venv/bin/python bench/bench_knowledge.py --articles 100000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select, text  # noqa: E402

from bench.docs import publish  # noqa: E402
from cti.knowledge import query as kquery  # noqa: E402
from cti.knowledge import search as ksearch  # noqa: E402
from cti.seed import seed  # noqa: E402
from cti.store.catalog import ServiceCategory  # noqa: E402
from cti.store.counties import County  # noqa: E402
from cti.store.db import make_engine, make_session_factory  # noqa: E402
from tests.databases import throwaway_database  # noqa: E402

ADMIN_URL = os.environ.get(
    "CTI_BENCH_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
SECTION = "Knowledge search"
#: The indexes migration 0013 makes for search, as it makes them.
SEARCH_INDEXES = {
    "ix_knowledge_articles_search": "USING gin (search)",
    "ix_knowledge_articles_title_search": "USING gin (title_search)",
    "ix_knowledge_articles_title_trgm": "USING gin (title gin_trgm_ops)",
}
WORDS = 5000
#: Word i (0-based) is drawn with probability ~ 1/(i+1)^SKEW-ish: power(random(), 4).
SKEW = 4
SYLLABLES = ["ba", "ko", "ri", "te", "lu", "ma", "ne", "so", "di", "fa", "gu", "pe", "zo", "xi"]


def vocabulary(rng: random.Random) -> list[str]:
    """5,000 distinct made-up words of 2-4 syllables (deterministic)."""
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < WORDS:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


async def seed_articles(url: str, articles: int, words: list[str]) -> dict[str, object]:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    async with factory() as db:
        await seed(db)
        await db.commit()
        items = list(
            await db.execute(
                select(ServiceCategory.id, ServiceCategory.name).where(
                    ServiceCategory.parent_id.isnot(None)
                )
            )
        )
        counties = list(await db.scalars(select(County.id)))
    async with engine.begin() as conn:
        # Loaded without the search indexes, built after (as a bulk import would).
        for name in SEARCH_INDEXES:
            await conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
    # Drawn here and copied in (COPY): drawing words in SQL reads the whole word array for
    # every word drawn.
    rng = random.Random(42)
    records = []
    for g in range(1, articles + 1):
        item_id, item_name = items[g % len(items)]
        county = counties[(g // 4) % len(counties)] if g % 4 == 0 else None
        title = f"{item_name} {words[int(rng.random() ** 2 * WORDS)]} {rng.choice(words)}"
        body = " ".join(
            words[int(rng.random() ** SKEW * WORDS)] for _ in range(80 + (g * 7919) % 121)
        )
        records.append((item_id, county, title, body))
    async with engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        for start in range(0, len(records), 20_000):
            await raw.copy_records_to_table(
                "knowledge_articles",
                records=records[start : start + 20_000],
                columns=["category_id", "county_id", "title", "body"],
            )
        await conn.commit()
    async with engine.begin() as conn:
        for name, definition in SEARCH_INDEXES.items():
            if "gin_trgm_ops" in definition and not await ksearch.has_trigram(conn):
                continue
            await conn.execute(text(f"CREATE INDEX {name} ON knowledge_articles {definition}"))
        await conn.execute(text("ANALYZE knowledge_articles"))
    await engine.dispose()
    return {"items": items, "counties": counties}


Query = Callable[[], tuple[str, ksearch.Filters]]


def queries(ctx: dict[str, object], words: list[str], rng: random.Random) -> dict[str, Query]:
    items = ctx["items"]
    counties = ctx["counties"]
    common = words[:20]
    middle = words[200:1000]
    rare = words[3000:]

    def pick(seq):
        return rng.choice(seq)

    def typo(word: str) -> str:
        i = rng.randrange(1, len(word) - 1)
        return word[:i] + word[i + 1 :]  # one letter dropped

    none = ksearch.Filters()
    return {
        "common word": lambda: (pick(common), none),
        "commonest word alone": lambda: (words[0], none),
        "middle word": lambda: (pick(middle), none),
        "rare word": lambda: (pick(rare), none),
        "two words": lambda: (f"{pick(common)} {pick(middle)}", none),
        "prefix (3 letters)": lambda: (pick(middle)[:3], none),
        '"phrase"': lambda: (f'"{pick(middle)} {pick(middle)}"', none),
        '"phrase" of common words': lambda: (f'"{pick(common)} {pick(common)}"', none),
        "word -exclusion": lambda: (f"{pick(middle)} -{pick(common)}", none),
        "catalogue name": lambda: (pick(items)[1].split()[0], none),
        "word + category": lambda: (
            pick(common),
            ksearch.Filters(category_ids=(pick(items)[0],)),
        ),
        "word + county": lambda: (pick(middle), ksearch.Filters(county_id=pick(counties))),
        "typo (trigram)": lambda: (typo(pick(middle)), none),
        "no match at all": lambda: ("zzqqxx", none),
    }


def _percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(round(0.95 * (len(samples) - 1))))]
    return statistics.median(samples), p95


async def time_search(url, qs: dict[str, Query], repeat: int, trigram: bool) -> dict:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    out: dict[str, tuple[float, float, int]] = {}
    try:
        for name, make in qs.items():
            samples, found = [], 0
            for i in range(repeat + 2):
                typed, filters = make()
                async with factory() as db:
                    started = time.perf_counter()
                    result = await ksearch.search(
                        db, kquery.parse(typed), filters, trigram=trigram, limit=20
                    )
                    elapsed = (time.perf_counter() - started) * 1000
                if i >= 2:  # two warm-ups
                    samples.append(elapsed)
                    found += len(result.hits)
            out[name] = (*_percentiles(samples), found // repeat)
    finally:
        await engine.dispose()
    return out


async def time_ilike(url, qs: dict[str, Query], repeat: int) -> dict:
    """The baseline: the words as substrings of title or body, no index, by title."""
    engine = make_engine(url)
    out: dict[str, tuple[float, float]] = {}
    try:
        for name, make in qs.items():
            samples = []
            for i in range(repeat + 1):
                typed, _ = make()
                words = kquery.parse(typed).plain.split() or [typed]
                where = " AND ".join(
                    f"(title ILIKE :w{n} OR body ILIKE :w{n})" for n in range(len(words))
                )
                params = {f"w{n}": f"%{w}%" for n, w in enumerate(words)}
                async with engine.connect() as conn:
                    started = time.perf_counter()
                    await conn.execute(
                        text(
                            f"SELECT id, title FROM knowledge_articles WHERE {where} "
                            "ORDER BY title LIMIT 20"
                        ),
                        params,
                    )
                    elapsed = (time.perf_counter() - started) * 1000
                if i >= 1:
                    samples.append(elapsed)
            out[name] = _percentiles(samples)
    finally:
        await engine.dispose()
    return out


async def bench(articles: int, repeat: int, repeat_baseline: int) -> list[str]:
    words = vocabulary(random.Random(7))
    async with throwaway_database(ADMIN_URL, "cti_bench_kb") as url:
        started = time.perf_counter()
        ctx = await seed_articles(url, articles, words)
        seeded_s = time.perf_counter() - started
        engine = make_engine(url)
        async with make_session_factory(engine)() as db:
            trigram = await ksearch.has_trigram(db)
            total = await db.scalar(text("SELECT count(*) FROM knowledge_articles"))
            share = await db.scalar(
                text(
                    "SELECT round(100.0 * count(*) / :n) FROM knowledge_articles "
                    "WHERE search @@ to_tsquery('simple', :w)"
                ),
                {"n": total, "w": words[0]},
            )
        await engine.dispose()
        qs = queries(ctx, words, random.Random(11))
        fts = await time_search(url, qs, repeat, trigram)
        # The embedded server's case: no pg_trgm, similar titles by substring.
        no_trgm = await time_search(url, {"typo (no pg_trgm)": qs["typo (trigram)"]}, repeat, False)
        base = await time_ilike(url, qs, repeat_baseline)
    worst_name, (_, worst, _) = max(fts.items(), key=lambda kv: kv[1][1])
    lines = [
        f"articles: {total:,} (seeded in {seeded_s:.0f} s), {os.cpu_count()} cores, "
        f"pg_trgm: {'yes' if trigram else 'no'}; the commonest word is in {share}% of them; "
        "20 results, ms",
        f"{'query':24} {'p50':>7} {'p95':>7} {'hits':>5} | {'ILIKE p50':>9} {'p95':>8}",
    ]
    for name, (p50, p95, hits) in fts.items():
        b50, b95 = base[name]
        lines.append(f"{name:24} {p50:7.1f} {p95:7.1f} {hits:5d} | {b50:9.1f} {b95:8.1f}")
    for name, (p50, p95, hits) in no_trgm.items():
        lines.append(f"{name:24} {p50:7.1f} {p95:7.1f} {hits:5d} |")
    lines.append(
        f"worst p95: {worst:.1f} ms ({worst_name}); target < 30 ms at 100,000: "
        f"{'meets' if worst < 30 else 'misses'}"
    )
    return lines


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--repeat-baseline", type=int, default=5)
    parser.add_argument("--write-docs", action="store_true", help="update docs/performance.md")
    return parser


def docs_command(args: argparse.Namespace) -> str:
    return (
        f"$ .venv/bin/python bench/bench_knowledge.py --articles {args.articles} "
        f"--repeat {args.repeat} --repeat-baseline {args.repeat_baseline} --write-docs"
    )


async def main() -> None:
    args = arguments().parse_args()
    lines = await bench(args.articles, args.repeat, args.repeat_baseline)
    output = "\n".join(lines)
    print(output, flush=True)
    if args.write_docs:
        publish(SECTION, docs_command(args), output)


if __name__ == "__main__":
    asyncio.run(main())
