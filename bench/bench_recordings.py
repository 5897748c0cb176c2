"""Recordings benchmarks (issue #6): indexing rate and search latency.

Indexing: N one-minute 8 kHz 16-bit mono WAVs (what MixMonitor writes, 960 044 bytes
each) are indexed into a fresh database; the limit is the rate of just reading and
hashing the same files (SHA-256, one thread) in the same run, after a warm-up read so
both see the same page cache. Target: indexing >= 0.8x that limit.

Search: ``--rows`` recordings are seeded with ``INSERT ... SELECT generate_series``
(deterministic pseudo-random values), then the inspector's common queries run through
``cti.recordings.search`` exactly as the API builds them (the page of 50 plus the capped
count), p50/p95 over ``--repeat`` runs with varied parameters; then the project's search
indexes are dropped and the same queries run again. Target: p95 <= 30 ms at 5M rows.

    .venv/bin/python bench/bench_recordings.py --files 300 --rows 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import statistics
import struct
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from cti.recordings import search  # noqa: E402
from cti.recordings.indexer import Indexer, Kind  # noqa: E402
from cti.seed import seed  # noqa: E402
from cti.store.db import make_engine, make_session_factory  # noqa: E402
from tests.databases import throwaway_database  # noqa: E402

ADMIN_URL = os.environ.get(
    "CTI_BENCH_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
SEARCH_INDEXES = [
    "ix_recordings_started_at_id",
    "ix_recordings_caller_started",
    "ix_recordings_agent_started",
    "ix_recordings_county_started",
    "ix_recordings_county_disp_started",
    "ix_recordings_did_started",
    "ix_recordings_agent_duration",
    "ix_recordings_qa_score",
]
AGENTS = 200
CALLERS = 500_000


def make_wavs(folder: Path, count: int) -> list[str]:
    day = folder / "20261126"
    day.mkdir(parents=True)
    frames = 8000 * 60
    rng = random.Random(6)
    noise = bytes(rng.getrandbits(8) for _ in range(frames * 2))
    header = (
        b"RIFF"
        + struct.pack("<I", 36 + frames * 2)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 8000, 16000, 2, 16)
        + b"data"
        + struct.pack("<I", frames * 2)
    )
    then = time.time() - 3600
    names = []
    for i in range(count):
        path = day / f"{1795710000 + i}.{i}.wav"
        # each file differs (its own checksum): the counter is stamped into the audio
        path.write_bytes(header + struct.pack("<I", i) + noise[4:])
        os.utime(path, (then, then))
        names.append(f"20261126/{path.name}")
    return names


def read_and_hash(folder: Path, relpaths: list[str]) -> float:
    started = time.perf_counter()
    for rel in relpaths:
        digest = hashlib.sha256()
        with open(folder / rel, "rb") as fh:  # noqa: ASYNC230 (a sync benchmark loop)
            while chunk := fh.read(1024 * 1024):
                digest.update(chunk)
        digest.hexdigest()
    return time.perf_counter() - started


async def bench_indexing(count: int) -> list[str]:
    async with throwaway_database(ADMIN_URL, "cti_bench_rec") as url:
        return await _bench_indexing(url, count)


async def _bench_indexing(url: str, count: int) -> list[str]:
    engine = make_engine(url)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            relpaths = make_wavs(folder, count)
            read_and_hash(folder, relpaths)  # warm the page cache for both runs
            limit_s = min(read_and_hash(folder, relpaths) for _ in range(2))
            async with engine.connect() as conn:  # the pool's first connection is not indexing
                await conn.execute(text("SELECT 1"))
            indexer = Indexer(folder, make_session_factory(engine))
            started = time.perf_counter()
            outcomes = await indexer.index_paths(relpaths)
            index_s = time.perf_counter() - started
            indexer.close()
            assert all(o.kind is Kind.INDEXED for o in outcomes), outcomes[:3]
            again = time.perf_counter()
            indexer = Indexer(folder, make_session_factory(engine))
            await indexer.index_paths(relpaths)
            reindex_s = time.perf_counter() - again
            indexer.close()
    finally:
        await engine.dispose()
    limit, rate = count / limit_s, count / index_s
    verdict = "meets" if rate >= 0.8 * limit else "misses"
    return [
        f"files: {count} x 1-minute 8 kHz 16-bit mono WAV (960,044 bytes), {os.cpu_count()} cores",
        f"read + SHA-256 only (one thread):   {limit:8,.0f} files/s",
        f"indexing (probe+hash+call+insert):  {rate:8,.0f} files/s  "
        f"({rate / limit:.2f}x, target >= 0.8x: {verdict})",
        f"re-verifying the same files:        {count / reindex_s:8,.0f} files/s",
    ]


SEED_SQL = """
INSERT INTO recordings (path, uniqueid, format, codec, sample_rate, channels, duration_ms,
    size_bytes, sha256, mtime, started_at, caller_number, did, county_id, agent_id,
    agent_interface, disposition, qa_score, call_synced_at)
SELECT
    'bench/' || g || '.wav', (1700000000 + g) || '.' || g, 'wav', 'pcm_s16le', 8000, 1,
    dur, dur * 16, md5(g::text) || md5((g + 1)::text), now(),
    timestamptz '2026-11-26'
        - (g * CAST(:span AS bigint) / CAST(:rows AS bigint)) * interval '1 second',
    (13800000000 + (hashint(g, 1) % CAST(:callers AS bigint)))::text,
    (9615601 + hashint(g, 2) % 4)::text,
    CAST(:county0 AS bigint) + hashint(g, 3) % 4,
    CAST(:agent0 AS bigint) + hashint(g, 4) % CAST(:agents AS bigint),
    'PJSIP/' || (1000 + hashint(g, 4) % CAST(:agents AS bigint)),
    (ARRAY['answered','answered','answered','answered','answered','answered',
           'abandoned','abandoned','timeout','transferred'])[1 + hashint(g, 5) % 10],
    CASE WHEN hashint(g, 6) % 20 = 0 THEN (hashint(g, 7) % 101)::numeric ELSE NULL END,
    now()
FROM (SELECT g, CASE WHEN hashint(g, 8) % 30 = 0 THEN 600000 + hashint(g, 9) % 1200000
                     ELSE 20000 + hashint(g, 9) % 400000 END AS dur
      FROM generate_series(CAST(:lo AS bigint), CAST(:hi AS bigint)) AS g) s
"""

HASHINT = """
CREATE OR REPLACE FUNCTION hashint(g bigint, salt int) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT abs(hashtextextended(g::text, salt)) $$
"""


async def seed_rows(engine, rows: int) -> dict[str, object]:
    async with make_session_factory(engine)() as db:
        await seed(db)
        await db.commit()
    async with engine.begin() as conn:
        counties = [r[0] for r in await conn.execute(text("SELECT id FROM counties ORDER BY id"))]
        await conn.execute(
            text("""
            INSERT INTO users (username, display_name, password_hash, role, interface)
            SELECT 'bench-agent-' || i, 'Agent ' || i, 'x', 'agent', 'PJSIP/' || (1000 + i)
            FROM generate_series(0, :n - 1) i
        """),
            {"n": AGENTS},
        )
        agent0 = await conn.scalar(
            text("SELECT min(id) FROM users WHERE username LIKE 'bench-agent-%'")
        )
        await conn.execute(text(HASHINT))
        # indexes are built after the load (as a restore would), not maintained row by row
        for name in SEARCH_INDEXES:
            await conn.execute(text(f"DROP INDEX {name}"))
    span_s = 365 * 86400
    step = 500_000
    for lo in range(1, rows + 1, step):
        async with engine.begin() as conn:
            await conn.execute(
                text(SEED_SQL),
                {
                    "lo": lo,
                    "hi": min(rows, lo + step - 1),
                    "rows": rows,
                    "span": span_s,
                    "callers": CALLERS,
                    "county0": counties[0],
                    "agent0": agent0,
                    "agents": AGENTS,
                },
            )
    return {"counties": counties, "agent0": agent0, "end": datetime(2026, 11, 26, tzinfo=UTC)}


async def create_indexes(url: str) -> None:
    """The indexes exactly as migration 0003 defines them."""
    from sqlalchemy.schema import CreateIndex

    from cti.store.recordings import Recording

    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        for index in Recording.__table__.indexes:
            if index.name in SEARCH_INDEXES:
                await conn.execute(CreateIndex(index))
        await conn.execute(text("VACUUM ANALYZE recordings"))
    await engine.dispose()


def queries(ctx: dict[str, object], rng: random.Random):
    end: datetime = ctx["end"]  # type: ignore[assignment]
    counties: list[int] = ctx["counties"]  # type: ignore[assignment]
    agent0: int = ctx["agent0"]  # type: ignore[assignment]
    F, S = search.Filters, search.Scope(everything=True)

    def day() -> dict[str, datetime]:
        start = end - timedelta(days=rng.randrange(1, 300))
        return {"since": start, "until": start + timedelta(days=1)}

    def week() -> dict[str, datetime]:
        start = end - timedelta(days=rng.randrange(7, 300))
        return {"since": start, "until": start + timedelta(days=7)}

    def caller() -> str:
        return str(13800000000 + rng.randrange(CALLERS))

    return {
        "caller number, one day (last Tuesday)": lambda: (F(caller=caller(), **day()), S),
        "caller number, all time": lambda: (F(caller=caller()), S),
        "abandoned in one county, one week": lambda: (
            F(county_id=rng.choice(counties), disposition="abandoned", **week()),
            S,
        ),
        "agent, longer than 10 min": lambda: (
            F(agent_id=agent0 + rng.randrange(AGENTS), min_duration_ms=600_000),
            S,
        ),
        "newest, no filter (county-scoped user)": lambda: (
            F(),
            search.Scope(county_id=rng.choice(counties)),
        ),
        "DID, one week": lambda: (F(did=str(9615601 + rng.randrange(4)), **week()), S),
        "QA score >= 90": lambda: (F(min_score=90), S),
    }


async def time_queries(engine, ctx, repeat: int) -> dict[str, tuple[float, float]]:
    rng = random.Random(42)
    out = {}
    factory = make_session_factory(engine)
    for name, make in queries(ctx, rng).items():
        samples = []
        for i in range(repeat + 2):
            filters, scope = make()
            if filters.since is not None and filters.until is None and "week" in name:
                filters = search.Filters(
                    **{**filters.__dict__, "until": filters.since + timedelta(days=7)}
                )
            async with factory() as db:
                started = time.perf_counter()
                rows = (await db.scalars(search.page_query(filters, scope, limit=50))).all()
                await db.scalar(search.count_query(filters, scope))
                elapsed = (time.perf_counter() - started) * 1000
            if i >= 2:  # two warm-up runs
                samples.append(elapsed)
            del rows
        samples.sort()
        out[name] = (statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)])
    return out


async def bench_search(rows: int, repeat: int, repeat_noindex: int) -> list[str]:
    async with throwaway_database(ADMIN_URL, "cti_bench_rec") as url:
        return await _bench_search(url, rows, repeat, repeat_noindex)


async def _bench_search(url: str, rows: int, repeat: int, repeat_noindex: int) -> list[str]:
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
            for name in SEARCH_INDEXES:
                await conn.execute(text(f"DROP INDEX {name}"))
            await conn.execute(text("ANALYZE recordings"))
        without = await time_queries(engine, ctx, repeat_noindex)
    finally:
        await engine.dispose()
    worst = max(p95 for _, p95 in with_ix.values())
    lines = [
        f"rows: {rows:,} (seeded in {seeded_s:.0f} s, indexes built in {indexed_s:.0f} s); "
        f"page of 50 + capped count, ms",
        f"{'query':42} {'p50':>7} {'p95':>7} | {'no idx p50':>10} {'p95':>8}",
    ]
    for name, (p50, p95) in with_ix.items():
        n50, n95 = without[name]
        lines.append(f"{name:42} {p50:7.1f} {p95:7.1f} | {n50:10.1f} {n95:8.1f}")
    lines.append(
        f"worst p95 with indexes: {worst:.1f} ms (target <= 30 ms at 5M: "
        f"{'meets' if worst <= 30 else 'misses'})"
    )
    return lines


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--repeat-noindex", type=int, default=5)
    parser.add_argument("--skip-indexing", action="store_true")
    args = parser.parse_args()
    if not args.skip_indexing:
        print("\n".join(await bench_indexing(args.files)), flush=True)
    for rows in args.rows:
        print(flush=True)
        print("\n".join(await bench_search(rows, args.repeat, args.repeat_noindex)), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
