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

    .venv/bin/python bench/bench_reports.py --rows 10000000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from bench.docs import publish  # noqa: E402
from cti.seed import seed  # noqa: E402
from cti.stats.calls import figures, grouped  # noqa: E402
from cti.stats.queries import RAW_GROUPED, Period, raw_grouped_facts, rollup_facts, thresholds  # noqa: E402
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


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


async def timed(work, repeat: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = await work()
        times.append(time.perf_counter() - t)
    return times, result


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
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
        publish(SECTION, f"$ .venv/bin/python bench/bench_reports.py --rows {args.rows}", output)


if __name__ == "__main__":
    asyncio.run(main())
