"""Reports benchmark (issue 14): a month's call report by county from the rollup
(``call_rollup_daily``, kept by the ``calls_rollup`` trigger) against the same report from
the raw ``calls`` rows, same run; and what the trigger costs a call write.

``--rows`` calls are loaded with ``INSERT ... SELECT generate_series`` in batches of a
million (deterministic pseudo-random values over six months ending 2026-12-01, the four
seeded counties, 200 agents, dispositions 80 % answered / 12 % abandoned / 3 % timeout /
2 % transferred / 3 % after hours, waits 0-180 s), with the trigger off; the rollup is
then built from the rows by one ``INSERT ... SELECT`` (what the trigger would have
written: the run checks the two reports agree figure by figure). Then, with the trigger
on: a late correction (one call's end rewritten) and how soon the report shows it, and
10,000 single-row call writes with and without the trigger. Target: the month's report by
county in under 500 ms at 10M calls.

``--tickets`` tickets are loaded the same way over the same six months (60 % dispatched to
one of 20 companies, 50 % accepted, 45 % done, 5 % declined, 30 % revisited, 20 %
answered on the call, half of those with a knowledge article) and the month's service
figures (``cti.stats.service_queries``, from the raw rows) are timed, for every county and
for one, next to the call report.

    .venv/bin/python bench/bench_reports.py --rows 10000000 --tickets 2000000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from bench.docs import publish  # noqa: E402
from cti.seed import seed  # noqa: E402
from cti.stats.calls import figures, grouped  # noqa: E402
from cti.stats.queries import RAW_GROUPED, Period, raw_grouped_facts, rollup_facts, thresholds  # noqa: E402
from cti.stats.service_queries import rollup_service_figures, service_period_figures  # noqa: E402
from cti.store.db import make_engine, make_session_factory  # noqa: E402
from tests.databases import throwaway_database  # noqa: E402

ADMIN_URL = os.environ.get(
    "CTI_BENCH_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
SECTION = "Reports"
MONTH = Period.month(2026, 11)
SPAN_S = 183 * 86400
BATCH = 1_000_000

#: One batch of calls; $lo/$hi is the batch's range of generate_series. h is a hash of i.
LOAD = """
INSERT INTO calls (node, linkedid, uniqueid, direction, caller_number, county_id, queue,
                   agent_id, started_at, answered_at, ended_at, wait_s, talk_s, disposition,
                   created_at, updated_at)
SELECT 'bench', i::text, i::text, 'inbound', '', c.id, c.queue_name, NULL,
       s.at,
       CASE WHEN s.d IN ('answered', 'transferred') THEN s.at + make_interval(secs => s.w) END,
       s.at + make_interval(secs => s.w + s.t), s.w,
       CASE WHEN s.d IN ('answered', 'transferred') THEN s.t ELSE 0 END, s.d, now(), now()
FROM (
    SELECT i, h,
           timestamptz '2026-12-01 00:00+00'
               - make_interval(secs => (h % CAST(:span AS bigint))::float8) AS at,
           CASE WHEN h % 100 < 80 THEN 'answered' WHEN h % 100 < 92 THEN 'abandoned'
                WHEN h % 100 < 95 THEN 'timeout' WHEN h % 100 < 97 THEN 'transferred'
                WHEN h % 100 < 99 THEN 'callback' ELSE 'voicemail' END AS d,
           ((h / 100) % 181)::int AS w, ((h / 20000) % 600)::int AS t,
           (h / 7) % 4 AS k
    FROM (SELECT i, abs(hashint8(i)) AS h
          FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS i) g
) s
JOIN (SELECT id, queue_name, row_number() OVER (ORDER BY id) - 1 AS k
      FROM counties ORDER BY id LIMIT 4) c ON c.k = s.k
"""
BUILD_ROLLUP = (
    "INSERT INTO call_rollup_daily (day, county_id, queue, disposition, wait_s, calls, "
    "talk_s, handle_s) "
    + RAW_GROUPED.replace(":start", "'-infinity'").replace(":end", "'infinity'")
)


#: Tickets $lo..$hi; h is a hash of i. Companies and one article are made first.
LOAD_TICKETS = """
INSERT INTO tickets (number, county_id, category_id, status, channel, priority,
                     description, notes_text, created_at, updated_at)
SELECT 'B' || i, c.id, g.id,
       CASE WHEN h % 100 < 30 THEN 'revisited' WHEN h % 100 < 45 THEN 'done'
            WHEN h % 100 < 50 THEN 'accepted' WHEN h % 100 < 55 THEN 'declined'
            WHEN h % 100 < 60 THEN 'dispatched' WHEN h % 100 < 80 THEN 'answered'
            ELSE 'new' END,
       (ARRAY['phone', 'sms', 'web', 'walk_in'])[1 + (h / 7) % 4], 'normal', '', '',
       timestamptz '2026-12-01 00:00+00'
           - make_interval(secs => (h % CAST(:span AS bigint))::float8),
       now()
FROM (SELECT i, abs(hashint8(i + 1000000007)) AS h
      FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS i) s
JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM counties ORDER BY id LIMIT 4) c
  ON c.k = (s.h / 3) % 4
JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM service_categories
      WHERE parent_id IS NULL ORDER BY id LIMIT 4) g ON g.k = (s.h / 11) % 4
"""
LOAD_DISPATCHES = """
INSERT INTO dispatches (ticket_id, company_id, dispatched_at, accept_by, finish_by, status,
                        accepted_at, declined_at, done_at)
SELECT t.id, co.id, d.at, d.at + interval '1 hour', d.at + interval '48 hours',
       CASE WHEN d.h % 100 < 45 THEN 'done' WHEN d.h % 100 < 50 THEN 'accepted'
            WHEN d.h % 100 < 55 THEN 'declined' ELSE 'offered' END,
       CASE WHEN d.h % 100 < 50
            THEN d.at + make_interval(secs => ((d.h / 1000) % 3600)::float8) END,
       CASE WHEN d.h % 100 >= 50 AND d.h % 100 < 55 THEN d.at + interval '20 minutes' END,
       CASE WHEN d.h % 100 < 45 THEN d.at + make_interval(secs => (3600 + (d.h / 1000) % 3600
                                        + (d.h / 10000000) % 259200)::float8) END
FROM tickets t
CROSS JOIN LATERAL (
    SELECT abs(hashint8(t.id)) AS h,
           t.created_at
               + make_interval(secs => ((abs(hashint8(t.id)) / 100) % 7200)::float8) AS at
) d
JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM companies
      WHERE licence_number LIKE 'BENCH-%') co ON co.k = (d.h / 13) % 20
WHERE t.id BETWEEN :lo AND :hi AND d.h % 100 < 60
"""
LOAD_REVISITS = """
INSERT INTO revisits (ticket_id, company_id, dispatch_id, at, satisfaction, service_done,
                      complaint, complaint_upheld)
SELECT d.ticket_id, d.company_id, d.id,
       d.done_at + make_interval(secs => ((abs(hashint8(d.id)) / 100) % 1209600)::float8),
       1 + abs(hashint8(d.id)) % 5, true, abs(hashint8(d.id)) % 100 < 3,
       abs(hashint8(d.id)) % 100 < 1
FROM dispatches d
WHERE d.ticket_id BETWEEN :lo AND :hi AND d.done_at IS NOT NULL
  AND abs(hashint8(d.ticket_id)) % 100 < 30
"""
LOAD_ANSWERS = """
WITH e AS (
    INSERT INTO ticket_events (ticket_id, at, kind, actor_name, actor_role, from_status,
                               to_status)
    SELECT t.id, t.created_at + interval '3 minutes', 'answer', 'bench', 'agent', 'new',
           'answered'
    FROM tickets t WHERE t.id BETWEEN :lo AND :hi AND t.status = 'answered'
    RETURNING id, ticket_id, at
)
INSERT INTO ticket_article_answers (event_id, ticket_id, article_id, article_version,
                                    county_id, answered_at)
SELECT e.id, e.ticket_id, :article, 1, t.county_id, e.at
FROM e JOIN tickets t ON t.id = e.ticket_id WHERE e.ticket_id % 2 = 0
"""


#: The tables whose ``service_rollup`` trigger (migration 0019) keeps the service rollup.
SERVICE_TABLES = ("tickets", "dispatches", "revisits", "ticket_events", "ticket_article_answers")
#: What the triggers would have written, built at once from the loaded rows.
BUILD_SERVICE_ROLLUP = (
    "INSERT INTO service_ticket_contributions "
    "SELECT t.id, c.month, c.county_id, c.metric, c.k1, c.k2, sum(c.n), sum(c.total) "
    "FROM tickets t, LATERAL service_contributions(t.id) c GROUP BY 1, 2, 3, 4, 5, 6",
    "INSERT INTO service_rollup_monthly SELECT month, county_id, metric, k1, k2, sum(n), "
    "sum(total) FROM service_ticket_contributions GROUP BY 1, 2, 3, 4, 5",
)


async def load_tickets(engine, factory, n: int) -> str:
    """``n`` tickets and their jobs, revisits and answers, the rollup built from them
    afterwards (triggers off meanwhile); one line saying what was made."""
    t = time.perf_counter()
    async with factory() as db:
        for table in SERVICE_TABLES:
            await db.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER service_rollup"))
        for k in range(20):
            await db.execute(
                text(
                    "INSERT INTO companies (name, licence_number, status, created_at, "
                    "updated_at) VALUES (:n, :l, 'approved', now(), now())"
                ),
                {"n": f"Bench company {k}", "l": f"BENCH-{k}"},
            )
        article = (
            await db.execute(
                text(
                    "INSERT INTO knowledge_articles (title, body, version, created_at, "
                    "updated_at) VALUES ('Bench article', '', 1, now(), now()) RETURNING id"
                )
            )
        ).scalar()
        await db.commit()
        for lo in range(1, n + 1, BATCH // 2):
            hi = min(lo + BATCH // 2 - 1, n)
            await db.execute(text(LOAD_TICKETS), {"lo": lo, "hi": hi, "span": SPAN_S})
            ids = (
                await db.execute(
                    text("SELECT min(id), max(id) FROM tickets WHERE number = ANY(:b)"),
                    {"b": [f"B{lo}", f"B{hi}"]},
                )
            ).one()
            for sql in (LOAD_DISPATCHES, LOAD_REVISITS):
                await db.execute(text(sql), {"lo": ids[0], "hi": ids[1]})
            await db.execute(text(LOAD_ANSWERS), {"lo": ids[0], "hi": ids[1], "article": article})
            await db.commit()
            print(f"loaded tickets {hi:,}", flush=True)
        built = time.perf_counter()
        for sql in BUILD_SERVICE_ROLLUP:
            await db.execute(text(sql))
        for table in SERVICE_TABLES:
            await db.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER service_rollup"))
        await db.commit()
        built = time.perf_counter() - built
    # Freshly loaded rows: set their hint bits and visibility once (what autovacuum does
    # in time), so the timed writes do not pay for the bulk load's first touch.
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in (*SERVICE_TABLES, "service_rollup_monthly", "service_ticket_contributions"):
            await conn.execute(text(f"VACUUM (ANALYZE) {table}"))
        await conn.execute(text("CHECKPOINT"))
    async with factory() as db:
        counts = [
            (await db.execute(text(f"SELECT count(*) FROM {table}"))).scalar()  # noqa: S608
            for table in ("dispatches", "revisits", "ticket_article_answers")
        ]
    return (
        f"tickets: {n:,} ({counts[0]:,} jobs, {counts[1]:,} revisits, {counts[2]:,} answered "
        f"with an article); load: {time.perf_counter() - t:.0f} s, of which the rollup "
        f"build {built:.0f} s"
    )


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


async def timed(work, repeat: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = await work()
        times.append(time.perf_counter() - t)
    return times, result


def rounded(value):
    """Figures compared to the microsecond (the rollup sums floats in its own order)."""
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


async def service_timings(
    db, call_times: list[float], call_raw_times: list[float], repeat: int
) -> list[str]:
    """The month's service figures from the rollup and from the raw rows, every county
    and one; a ticket change and how soon the next report shows it; what the trigger
    costs a ticket write."""
    north = (await db.execute(text("SELECT min(id) FROM counties"))).scalar()
    roll_t, f = await timed(lambda: rollup_service_figures(db, MONTH, None), repeat)
    one_t, g = await timed(lambda: rollup_service_figures(db, MONTH, [north]), repeat)
    raw_t, raw = await timed(lambda: service_period_figures(db, MONTH, None), 2)
    raw_one_t, raw_one = await timed(lambda: service_period_figures(db, MONTH, [north]), 2)
    same = rounded(asdict(f)) == rounded(asdict(raw)) and rounded(asdict(g)) == rounded(
        asdict(raw_one)
    )
    assert same, "the service rollup disagrees with the raw rows"
    call, roll = statistics.median(call_times), statistics.median(roll_t)
    jobs = sum(c.jobs for c in f.companies.values())
    lines = [
        f"November 2026 service figures: {f.tickets:,} tickets, {jobs:,} jobs, revisit "
        f"coverage {f.revisit_coverage:.1f} %; one county: {g.tickets:,} tickets",
        f"service figures from the rollup: median {ms(roll)} ms, max {ms(max(roll_t))} ms; "
        f"one county: median {ms(statistics.median(one_t))} ms",
        f"same figures from the raw rows: median {ms(statistics.median(raw_t))} ms; one "
        f"county: median {ms(statistics.median(raw_one_t))} ms; figures equal: yes",
        f"month's report by county, calls and service, from the rollups: {ms(call + roll)} ms "
        f"(target < 500 ms); from the raw rows: "
        f"{ms(statistics.median(raw_t) + statistics.median(call_raw_times))} ms",
    ]
    # A ticket of November answered: shown by the next report.
    t = time.perf_counter()
    await db.execute(
        text(
            "UPDATE tickets SET status = 'closed' WHERE id = (SELECT id FROM tickets "
            "WHERE status = 'new' AND created_at >= '2026-11-10' LIMIT 1)"
        )
    )
    await db.commit()
    after = await rollup_service_figures(db, MONTH, None)
    seen = time.perf_counter() - t
    assert after.by_status.get("closed", 0) == f.by_status.get("closed", 0) + 1
    lines.append(f"a ticket's change committed and shown by the next report: {ms(seen)} ms")

    async def writes(n: int) -> float:
        ids = (
            (
                await db.execute(
                    text("SELECT id FROM tickets WHERE status = 'new' ORDER BY id LIMIT :n"),
                    {"n": n},
                )
            )
            .scalars()
            .all()
        )
        t = time.perf_counter()
        for i in ids:
            await db.execute(
                text("UPDATE tickets SET status = 'cancelled' WHERE id = :i"), {"i": i}
            )
            await db.commit()
        return (time.perf_counter() - t) / max(len(ids), 1)

    # Alternating rounds, so that neither side gets the colder cache or the checkpoint.
    on: list[float] = []
    off: list[float] = []
    for _ in range(5):
        on.append(await writes(100))
        await db.execute(text("ALTER TABLE tickets DISABLE TRIGGER service_rollup"))
        await db.commit()
        off.append(await writes(100))
        await db.execute(text("ALTER TABLE tickets ENABLE TRIGGER service_rollup"))
        await db.commit()
    with_trigger, without = statistics.median(on), statistics.median(off)
    lines.append(
        f"one ticket status change (update + commit, median of 5 rounds of 100): "
        f"{with_trigger * 1e3:.2f} ms with the trigger, {without * 1e3:.2f} ms without"
    )
    return lines


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--tickets", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    lines = [f"calls: {args.rows:,}; load: {os.getloadavg()[0]:.1f} (1-min, 2 CPUs shared)"]
    async with throwaway_database(ADMIN_URL, "cti_bench_reports") as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        async with factory() as db:
            await seed(db)
            await db.commit()
        t = time.perf_counter()
        async with factory() as db:
            await db.execute(text("ALTER TABLE calls DISABLE TRIGGER calls_rollup"))
            for lo in range(1, args.rows + 1, BATCH):
                hi = min(lo + BATCH - 1, args.rows)
                await db.execute(text(LOAD), {"lo": lo, "hi": hi, "span": SPAN_S})
                await db.commit()
                print(f"loaded {hi:,}", flush=True)
            await db.execute(text(BUILD_ROLLUP))
            await db.execute(text("ALTER TABLE calls ENABLE TRIGGER calls_rollup"))
            await db.commit()
            await db.execute(text("ANALYZE calls"))
            await db.execute(text("ANALYZE call_rollup_daily"))
            size = (await db.execute(text("SELECT count(*) FROM call_rollup_daily"))).scalar()
        lines.append(f"load + rollup build: {time.perf_counter() - t:.0f} s; rollup rows: {size:,}")
        if args.tickets:
            lines.append(await load_tickets(engine, factory, args.tickets))

        async with factory() as db:
            limits = await thresholds(db, 5)

            async def from_rollup():
                return grouped(await rollup_facts(db, MONTH, None, days=False), "county", limits)

            async def from_raw():
                return grouped(await raw_grouped_facts(db, MONTH), "county", limits)

            roll_t, roll = await timed(from_rollup, args.repeat)
            raw_t, raw = await timed(from_raw, max(2, args.repeat // 2))
            assert roll == raw, "the rollup disagrees with the raw rows"
            offered = sum(f.offered for f in roll.values())
            lines.append(f"November 2026, by county: {len(roll)} counties, {offered:,} offered")
            lines.append(
                f"report from the rollup: median {ms(statistics.median(roll_t))} ms, "
                f"max {ms(max(roll_t))} ms (target < 500 ms)"
            )
            lines.append(
                f"same report from the raw rows: median {ms(statistics.median(raw_t))} ms, "
                f"max {ms(max(raw_t))} ms; figures equal: yes"
            )

            if args.tickets:
                lines.extend(await service_timings(db, roll_t, raw_t, args.repeat))
                lines.append(f"load now: {os.getloadavg()[0]:.1f}")

            # A late correction: an answered call of November turns out abandoned.
            before = figures(await rollup_facts(db, MONTH, None))
            t = time.perf_counter()
            await db.execute(
                text(
                    "UPDATE calls SET disposition = 'abandoned', answered_at = NULL, talk_s = 0 "
                    "WHERE id = (SELECT id FROM calls WHERE disposition = 'answered' "
                    "AND started_at >= '2026-11-10' LIMIT 1)"
                )
            )
            await db.commit()
            after = figures(await rollup_facts(db, MONTH, None))
            seen = time.perf_counter() - t
            assert after.abandoned + after.short_abandoned == (
                before.abandoned + before.short_abandoned + 1
            )
            lines.append(f"late correction committed and shown by the next report: {ms(seen)} ms")

            async def writes(n: int, tag: str) -> float:
                t = time.perf_counter()
                for i in range(n):
                    await db.execute(
                        text(
                            "INSERT INTO calls (node, linkedid, uniqueid, direction, "
                            "caller_number, started_at, ended_at, wait_s, talk_s, disposition, "
                            "created_at, updated_at) VALUES (:n, :l, :l, 'inbound', '', "
                            "'2026-11-20', '2026-11-20 00:01', 3, 50, 'answered', now(), now())"
                        ),
                        {"n": tag, "l": str(i)},
                    )
                    await db.commit()
                return (time.perf_counter() - t) / n

            with_trigger = await writes(2000, "bench-w")
            await db.execute(text("ALTER TABLE calls DISABLE TRIGGER calls_rollup"))
            await db.commit()
            without = await writes(2000, "bench-wo")
            lines.append(
                f"one call write (insert + commit): {with_trigger * 1e3:.2f} ms with the "
                f"trigger, {without * 1e3:.2f} ms without"
            )
        await engine.dispose()
    output = "\n".join(lines)
    print(output, flush=True)
    if args.write_docs:
        command = f"$ .venv/bin/python bench/bench_reports.py --rows {args.rows}"
        if args.tickets:
            command += f" --tickets {args.tickets}"
        publish(SECTION, command, output)


if __name__ == "__main__":
    asyncio.run(main())
