"""Ticket search benchmark (issue #13): every list and filter combination of ``/tickets``,
p50/p95 with the project's indexes, against the same queries without them, same run.

``--rows`` tickets are seeded into a throwaway database with one ``INSERT ... SELECT
generate_series`` per batch (deterministic pseudo-random values: two years, four counties,
200 agents, one citizen per ten tickets with a phone each, 60 companies, 80 % of the
service tickets dispatched once; descriptions of six words out of 2,000 drawn with a
skew, so the commonest words are in about 1 ticket in 50 and the rarest in 1 in 50,000; a
note on one ticket in five). The search indexes are built after the load. Each query is
what the page runs: ``cti.tickets.read.search_page`` (the page of 50, plus one to know
"Older" exists) for an agent of one county (their county's tickets or their own), with
varied parameters; then
the indexes are dropped (``ANALYZE``\\d again) and the same queries run again. Target:
p95 <= 50 ms at 2M tickets for every combination.

    .venv/bin/python bench/bench_ticket_search.py --rows 2000000
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from bench.docs import publish  # noqa: E402
from cti.seed import seed  # noqa: E402
from cti.store.db import make_engine, make_session_factory  # noqa: E402
from cti.tickets import access, read, search  # noqa: E402
from tests.databases import throwaway_database  # noqa: E402

ADMIN_URL = os.environ.get(
    "CTI_BENCH_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
SECTION = "Ticket search"
#: The indexes the search relies on (the baseline runs without every one of them).
SEARCH_INDEXES = {
    "tickets": [
        "ix_tickets_citizen_status",
        "ix_tickets_county_status_created",
        "ix_tickets_owner_status",
        "ix_tickets_created_at",
        "ix_tickets_search",
        "ix_tickets_county_created",
        "ix_tickets_owner_created",
        "ix_tickets_category_created",
        "ix_tickets_subcategory_created",
        "ix_tickets_status_created",
        "ix_tickets_status_category_created",
        "ix_tickets_status_category_county_created",
    ],
    "citizens": ["ix_citizens_name_trgm"],
    "citizen_phones": ["ix_citizen_phones_number"],
    "dispatches": [
        "ix_dispatches_ticket",
        "ix_dispatches_company_status",
        "ix_dispatches_company_ticket_created",
        "ix_dispatches_company_ticket_status_created",
    ],
}
#: Tables whose ``service_rollup`` trigger is off while the bench loads its rows.
ROLLUP_TABLES = ("tickets", "dispatches")
AGENTS = 200
COMPANIES = 60
WORDS = 2000
END = datetime(2026, 12, 1, tzinfo=UTC)
SPAN_S = 2 * 365 * 86400
FIRST = ["Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu"]
LAST = ["Fang", "Wei", "Min", "Jing", "Lei", "Jun", "Yan", "Tao", "Hui", "Ping"]
STATUSES = (
    ["closed"] * 12
    + ["answered"] * 2
    + ["new", "dispatched", "accepted", "in_service", "done", "revisited"]
    + ["cancelled"]
)

HASHINT = """
CREATE OR REPLACE FUNCTION hashint(g bigint, salt int) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT abs(hashtextextended(g::text, salt)) $$
"""
WORD_SQL = "'w' || ((hashint(g, {salt}) % 1000) * (hashint(g, {salt} + 50) % 1000) / 500)"

TICKETS_SQL = f"""
INSERT INTO tickets (number, citizen_id, category_id, subcategory_id, county_id, status,
    channel, priority, description, notes_text, author_id, owner_id, created_at, updated_at,
    closed_at)
SELECT 'T' || (2025 + (g % 2)) || '-' || lpad(g::text, 7, '0'),
    CAST(:citizen0 AS bigint) + hashint(g, 1) % CAST(:citizens AS bigint),
    (CAST(:parents AS int[]))[1 + item], (CAST(:items AS int[]))[1 + item],
    (CAST(:counties AS int[]))[1 + county], status, 'phone', 'normal',
    {" || ' ' || ".join(WORD_SQL.format(salt=10 + i) for i in range(6))},
    CASE WHEN hashint(g, 30) % 5 = 0 THEN
        {" || ' ' || ".join(WORD_SQL.format(salt=20 + i) for i in range(4))} ELSE '' END,
    owner, owner, at, at,
    CASE WHEN status IN ('closed', 'cancelled') THEN at + interval '3 days' END
FROM (
    SELECT g, hashint(g, 2) % CAST(:n_items AS bigint) AS item, hashint(g, 3) % 4 AS county,
        (CAST(:statuses AS text[]))[1 + hashint(g, 4) % CAST(:n_statuses AS bigint)] AS status,
        CAST(:agent0 AS bigint) + hashint(g, 5) % CAST(:agents AS bigint) AS owner,
        timestamptz '2026-12-01'
            - ((CAST(:rows AS bigint) - g) * CAST(:span AS bigint) / CAST(:rows AS bigint))
              * interval '1 second' AS at
    FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS g
) s
"""
# One dispatch for every ticket that went to a company (the closed ones: half of them).
DISPATCHES_SQL = """
INSERT INTO dispatches (ticket_id, company_id, dispatched_at, accept_by, finish_by, status)
SELECT id, CAST(:company0 AS bigint) + hashint(id, 40) % CAST(:companies AS bigint),
    created_at, created_at + interval '1 hour', created_at + interval '2 days',
    CASE status WHEN 'dispatched' THEN 'offered' WHEN 'accepted' THEN 'accepted'
                WHEN 'in_service' THEN 'in_service' ELSE 'done' END
FROM tickets
WHERE id BETWEEN :lo AND :hi AND (status IN ('dispatched', 'accepted', 'in_service', 'done',
    'revisited') OR (status = 'closed' AND hashint(id, 41) % 2 = 0))
"""


async def seed_rows(engine, rows: int) -> dict[str, object]:
    async with make_session_factory(engine)() as db:
        await seed(db)
        await db.commit()
    async with engine.begin() as conn:
        counties = [r[0] for r in await conn.execute(text("SELECT id FROM counties ORDER BY id"))]
        items = (
            await conn.execute(
                text(
                    "SELECT id, parent_id FROM service_categories "
                    "WHERE parent_id IS NOT NULL ORDER BY id"
                )
            )
        ).all()
        await conn.execute(
            text("""
            INSERT INTO users (username, display_name, password_hash, role, county_id)
            SELECT 'bench-agent-' || i, 'Agent ' || i, 'x', 'agent',
                (CAST(:counties AS int[]))[1 + i % 4]
            FROM generate_series(0, :n - 1) i
        """),
            {"n": AGENTS, "counties": counties},
        )
        agent0 = await conn.scalar(
            text("SELECT min(id) FROM users WHERE username LIKE 'bench-agent-%'")
        )
        await conn.execute(
            text("""
            INSERT INTO companies (name, licence_number, status)
            SELECT 'Company ' || i, 'LIC-' || i, 'approved' FROM generate_series(1, :n) i
        """),
            {"n": COMPANIES},
        )
        company0 = await conn.scalar(text("SELECT min(id) FROM companies"))
        await conn.execute(text(HASHINT))
        citizens = max(1, rows // 10)
        await conn.execute(
            text("""
            INSERT INTO citizens (name, county_id)
            SELECT (CAST(:first AS text[]))[1 + g % 10] || ' '
                || (CAST(:last AS text[]))[1 + (g / 10) % 10] || ' ' || g,
                (CAST(:counties AS int[]))[1 + g % 4]
            FROM generate_series(1, :n) g
        """),
            {"n": citizens, "first": FIRST, "last": LAST, "counties": counties},
        )
        citizen0 = await conn.scalar(text("SELECT min(id) FROM citizens"))
        await conn.execute(
            text("""
            INSERT INTO citizen_phones (citizen_id, number)
            SELECT id, (13900000000 + id - CAST(:c0 AS bigint))::text FROM citizens
        """),
            {"c0": citizen0},
        )
        await _drop_indexes(conn)  # built after the load, as a restore would
        # The service rollup's triggers (migration 0019) would refresh each loaded ticket's
        # monthly figures: hours for 2M rows, and no search reads them. Off for the load.
        for table in ROLLUP_TABLES:
            await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER service_rollup"))
    step = 250_000
    for lo in range(1, rows + 1, step):
        async with engine.begin() as conn:
            await conn.execute(
                text(TICKETS_SQL),
                {
                    "lo": lo,
                    "hi": min(rows, lo + step - 1),
                    "rows": rows,
                    "span": SPAN_S,
                    "citizen0": citizen0,
                    "citizens": citizens,
                    "parents": [p for _, p in items],
                    "items": [i for i, _ in items],
                    "n_items": len(items),
                    "counties": counties,
                    "statuses": STATUSES,
                    "n_statuses": len(STATUSES),
                    "agent0": agent0,
                    "agents": AGENTS,
                },
            )
    async with engine.begin() as conn:
        low, high = (await conn.execute(text("SELECT min(id), max(id) FROM tickets"))).one()
    for lo in range(low, high + 1, step):
        async with engine.begin() as conn:
            await conn.execute(
                text(DISPATCHES_SQL),
                {"lo": lo, "hi": lo + step - 1, "company0": company0, "companies": COMPANIES},
            )
    async with engine.begin() as conn:
        for table in ROLLUP_TABLES:
            await conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER service_rollup"))
        categories = (
            await conn.execute(text("SELECT id, parent_id FROM service_categories"))
        ).all()
    return {
        "counties": counties,
        "agent0": agent0,
        "company0": company0,
        "citizen0": citizen0,
        "citizens": citizens,
        "rows": rows,
        "tops": sorted(i for i, parent in categories if parent is None),
        "items": sorted(i for i, parent in categories if parent is not None),
    }


async def _drop_indexes(conn) -> None:
    for names in SEARCH_INDEXES.values():
        for name in names:
            await conn.execute(text(f"DROP INDEX IF EXISTS {name}"))


async def create_indexes(url: str) -> None:
    """The indexes exactly as the models (and so the migrations) define them."""
    from sqlalchemy.schema import CreateIndex

    from cti.store.base import Base

    wanted = {name for names in SEARCH_INDEXES.values() for name in names}
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        for table in SEARCH_INDEXES:
            for index in Base.metadata.tables[table].indexes:
                if index.name in wanted:
                    await conn.execute(CreateIndex(index))
        for table in SEARCH_INDEXES:
            await conn.execute(text(f"VACUUM ANALYZE {table}"))
    await engine.dispose()


Query = Callable[[], tuple[search.Filters, access.Scope]]


def queries(ctx: dict[str, object], rng: random.Random) -> dict[str, Query]:
    """Every list and filter combination the page offers, as an agent of one county
    (their county's tickets and their own) runs it."""
    counties: list[int] = ctx["counties"]  # type: ignore[assignment]
    agent0: int = ctx["agent0"]  # type: ignore[assignment]
    company0: int = ctx["company0"]  # type: ignore[assignment]
    rows: int = ctx["rows"]  # type: ignore[assignment]
    citizens: int = ctx["citizens"]  # type: ignore[assignment]
    F = search.Filters
    now = END

    def agent() -> tuple[int, access.Scope]:
        i = rng.randrange(AGENTS)
        return agent0 + i, access.Scope(county_id=counties[i % 4], owner_id=agent0 + i)

    def scope() -> access.Scope:
        return agent()[1]

    def day() -> dict[str, datetime]:
        start = END - timedelta(days=rng.randrange(1, 700))
        return {"since": start, "until": start + timedelta(days=1)}

    def month() -> dict[str, datetime]:
        start = END - timedelta(days=rng.randrange(30, 700))
        return {"since": start, "until": start + timedelta(days=30)}

    def number() -> str:
        g = rng.randrange(1, rows + 1)
        return f"T{2025 + g % 2}-{g:07d}"

    def phone() -> str:  # typed as people type it: +86, spaces, dashes
        n = str(13900000000 + rng.randrange(citizens))
        return f"+86 {n[:3]}-{n[3:7]}-{n[7:]}"

    def name() -> str:
        g = 1 + rng.randrange(citizens)
        return f"{LAST[(g // 10) % 10].lower()} {g}"

    def common_word() -> str:
        return f"w{rng.randrange(0, 5)}"  # about 1 ticket in 50

    def rare_word() -> str:
        return f"w{rng.randrange(1500, 1990)}"  # 1 ticket in 1,500 to 1 in 50,000

    def status() -> str:
        return rng.choice(["new", "closed", "dispatched", "done", "cancelled"])

    def company() -> int:
        return company0 + rng.randrange(COMPANIES)

    def top() -> int:
        return rng.choice(ctx["tops"])  # type: ignore[arg-type]

    def item() -> int:
        return rng.choice(ctx["items"])  # type: ignore[arg-type]

    def county() -> int:
        return rng.choice(counties)

    def mine() -> tuple[search.Filters, access.Scope]:
        uid, s = agent()
        return search.tab_filters(search.Tab.MINE, uid, s.county_id, now, F()), s

    def county_tab() -> tuple[search.Filters, access.Scope]:
        uid, s = agent()
        return search.tab_filters(search.Tab.COUNTY, uid, s.county_id, now, F()), s

    def overdue() -> tuple[search.Filters, access.Scope]:
        uid, s = agent()
        return search.tab_filters(search.Tab.OVERDUE, uid, s.county_id, now, F()), s

    return {
        "tab: mine (open, owned)": mine,
        "tab: my county's (open)": county_tab,
        "tab: overdue": overdue,
        "newest, no filter": lambda: (F(), scope()),
        "number": lambda: (F(number=number()), scope()),
        "citizen name (part)": lambda: (F(citizen=name()), scope()),
        "phone (+86 138-...)": lambda: (F(phone=phone()), scope()),
        "category": lambda: (F(category_id=top()), scope()),
        "sub-category": lambda: (F(subcategory_id=item()), scope()),
        "county": lambda: (F(county_id=county()), scope()),
        "status": lambda: (F(status=status()), scope()),
        "company": lambda: (F(company_id=company()), scope()),
        "date range: one day": lambda: (F(**day()), scope()),
        "free text: common word": lambda: (F(text=common_word()), scope()),
        "free text: rare word": lambda: (F(text=rare_word()), scope()),
        "free text: two words": lambda: (F(text=f"{common_word()} {rare_word()}"), scope()),
        "free text: rare, -common": lambda: (F(text=f"{rare_word()} -{common_word()}"), scope()),
        "county + status + category": lambda: (
            F(county_id=county(), status=status(), category_id=top()),
            scope(),
        ),
        "sub-category + one month": lambda: (F(subcategory_id=item(), **month()), scope()),
        "status + one day": lambda: (F(status=status(), **day()), scope()),
        "company + status": lambda: (F(company_id=company(), status="done"), scope()),
        "company + one month": lambda: (F(company_id=company(), **month()), scope()),
        "phone + status": lambda: (F(phone=phone(), status=status()), scope()),
        "citizen + category": lambda: (F(citizen=name(), category_id=top()), scope()),
        "free text + county": lambda: (F(text=common_word(), county_id=county()), scope()),
        "free text + one month": lambda: (F(text=rare_word(), **month()), scope()),
        "free text + status + category": lambda: (
            F(text=common_word(), status=status(), category_id=top()),
            scope(),
        ),
        "everything at once": lambda: (
            F(
                citizen=name(),
                phone=phone(),
                category_id=top(),
                county_id=county(),
                status=status(),
                company_id=company(),
                text=common_word(),
                **month(),
            ),
            scope(),
        ),
    }


async def time_queries(engine, ctx, repeat: int) -> dict[str, tuple[float, float]]:
    rng = random.Random(13)
    out = {}
    factory = make_session_factory(engine)
    for name, make in queries(ctx, rng).items():
        samples = []
        for i in range(repeat + 2):
            filters, scope = make()
            async with factory() as db:
                started = time.perf_counter()
                found = await read.search_page(db, filters, scope)
                elapsed = (time.perf_counter() - started) * 1000
            if i >= 2:  # two warm-up runs
                samples.append(elapsed)
            del found
        samples.sort()
        out[name] = (statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)])
    return out


async def bench(rows: int, repeat: int, repeat_noindex: int) -> list[str]:
    async with throwaway_database(ADMIN_URL, "cti_bench_tix") as url:
        engine = make_engine(url)
        try:
            started = time.perf_counter()
            ctx = await seed_rows(engine, rows)
            seeded_s = time.perf_counter() - started
            started = time.perf_counter()
            await create_indexes(url)
            indexed_s = time.perf_counter() - started
            with_ix = await time_queries(engine, ctx, repeat)
            async with engine.begin() as conn:
                await _drop_indexes(conn)
                for table in SEARCH_INDEXES:
                    await conn.execute(text(f"ANALYZE {table}"))
            without = await time_queries(engine, ctx, repeat_noindex)
        finally:
            await engine.dispose()
    worst_name, (_, worst) = max(with_ix.items(), key=lambda kv: kv[1][1])
    lines = [
        f"tickets: {rows:,} (seeded in {seeded_s:.0f} s, indexes built in {indexed_s:.0f} s), "
        f"{os.cpu_count()} cores; a page of 50 (+1), agent scope, ms",
        f"{'query':34} {'p50':>7} {'p95':>7} | {'no idx p50':>10} {'p95':>8}",
    ]
    for name, (p50, p95) in with_ix.items():
        n50, n95 = without[name]
        lines.append(f"{name:34} {p50:7.1f} {p95:7.1f} | {n50:10.1f} {n95:8.1f}")
    lines.append(
        f"worst p95 with indexes: {worst:.1f} ms ({worst_name}); target <= 50 ms at 2M: "
        f"{'meets' if worst <= 50 else 'misses'}"
    )
    return lines


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--repeat-noindex", type=int, default=3)
    parser.add_argument("--write-docs", action="store_true", help="update docs/performance.md")
    return parser


def docs_command(args: argparse.Namespace) -> str:
    return (
        f"$ .venv/bin/python bench/bench_ticket_search.py --rows {args.rows} "
        f"--repeat {args.repeat} --repeat-noindex {args.repeat_noindex} --write-docs"
    )


async def main() -> None:
    args = arguments().parse_args()
    lines = await bench(args.rows, args.repeat, args.repeat_noindex)
    output = "\n".join(lines)
    print(output, flush=True)
    if args.write_docs:
        publish(SECTION, docs_command(args), output)


if __name__ == "__main__":
    asyncio.run(main())
