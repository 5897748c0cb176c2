"""Reading call facts for a report: from the rollup, or from the calls themselves.

Both return ``cti.stats.calls.Fact`` lists, so one pure function computes the figures
either way. A county scope of ``None`` means every county.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from cti.stats.calls import Fact, Thresholds

#: Groupings the rollup answers; the others (agent, hour) need the calls themselves.
ROLLUP_GROUPINGS = frozenset({"county", "queue", "day", "week", "month"})


@dataclass(frozen=True, slots=True)
class Period:
    """Days ``start`` (inclusive) to ``end`` (exclusive), UTC."""

    start: date
    end: date

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        end = date(year + (month == 12), month % 12 + 1, 1)
        return cls(date(year, month, 1), end)

    @classmethod
    def parse_month(cls, value: str) -> Period:
        """``YYYY-MM``; raises ``ValueError`` otherwise."""
        parts = value.split("-")
        if len(parts) != 2 or not all(p.isdigit() for p in parts) or len(parts[0]) != 4:
            raise ValueError(f"not a month (YYYY-MM): {value!r}")
        year, month = int(parts[0]), int(parts[1])
        if not 1 <= month <= 12:
            raise ValueError(f"not a month (YYYY-MM): {value!r}")
        return cls.month(year, month)


def _scope(counties: Sequence[int] | None) -> tuple[str, dict[str, object]]:
    if counties is None:
        return "", {}
    return " AND county_id = ANY(:counties)", {"counties": list(counties)}


async def rollup_facts(
    session: AsyncSession,
    period: Period,
    counties: Sequence[int] | None,
    *,
    days: bool = True,
) -> list[Fact]:
    """The period's facts from ``call_rollup_daily`` (rows that net to zero left out).

    Without ``days`` the period's days are summed by Postgres (each fact dated the period's
    first day): all a report by county or queue needs, in a few thousand rows.
    """
    where, params = _scope(counties)
    # ``day`` and ``where`` are this module's constants; values are parameters.
    day = "day" if days else "CAST(:start AS date)"
    sql = (
        f"SELECT {day}, county_id, queue, disposition, wait_s, sum(calls)::int, "  # noqa: S608
        "sum(talk_s)::bigint, sum(handle_s)::bigint FROM call_rollup_daily "
        f"WHERE day >= :start AND day < :end{where} "
        f"GROUP BY {day}, county_id, queue, disposition, wait_s HAVING sum(calls) <> 0"
    )
    rows = await session.execute(
        text(sql),
        {"start": period.start, "end": period.end, **params},
    )
    return [Fact(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]) for r in rows]


#: One fact per call, as the trigger counts it (same day, same "none" values).
_RAW = """SELECT (COALESCE(started_at, ended_at) AT TIME ZONE 'UTC')::date AS day,
       COALESCE(county_id, 0), COALESCE(queue, ''), disposition, COALESCE(wait_s, 0),
       1, COALESCE(talk_s, 0),
       COALESCE(EXTRACT(epoch FROM ended_at - answered_at)::int, 0),
       COALESCE(agent_id, 0),
       EXTRACT(hour FROM COALESCE(started_at, ended_at) AT TIME ZONE 'UTC')::int
FROM calls
WHERE direction = 'inbound' AND disposition <> 'in_progress'
  AND COALESCE(started_at, ended_at) >= :start AND COALESCE(started_at, ended_at) < :end"""


async def raw_facts(
    session: AsyncSession, period: Period, counties: Sequence[int] | None
) -> list[Fact]:
    """The period's facts read from ``calls``, one per call (with agent and hour)."""
    where, params = _scope(counties)
    rows = await session.execute(
        text(_RAW + where),
        {"start": _midnight(period.start), "end": _midnight(period.end), **params},
    )
    return [Fact(*r) for r in rows]


#: The raw rows folded by Postgres into the rollup's shape: the baseline the benchmark
#: holds the rollup against (what a report without the rollup would have to do).
RAW_GROUPED = """SELECT day, county_id, queue, disposition, wait_s, count(*),
       sum(talk_s), sum(handle_s)
FROM (SELECT (COALESCE(started_at, ended_at) AT TIME ZONE 'UTC')::date AS day,
             COALESCE(county_id, 0) AS county_id, COALESCE(queue, '') AS queue, disposition,
             COALESCE(wait_s, 0) AS wait_s, COALESCE(talk_s, 0) AS talk_s,
             COALESCE(EXTRACT(epoch FROM ended_at - answered_at)::int, 0) AS handle_s
      FROM calls
      WHERE direction = 'inbound' AND disposition <> 'in_progress'
        AND COALESCE(started_at, ended_at) >= :start
        AND COALESCE(started_at, ended_at) < :end) c
GROUP BY 1, 2, 3, 4, 5"""


async def raw_grouped_facts(session: AsyncSession, period: Period) -> list[Fact]:
    rows = await session.execute(
        text(RAW_GROUPED), {"start": _midnight(period.start), "end": _midnight(period.end)}
    )
    return [Fact(*r) for r in rows]


def _midnight(day: date):
    from datetime import UTC, datetime, time

    return datetime.combine(day, time(), UTC)


async def facts(
    session: AsyncSession, period: Period, counties: Sequence[int] | None, by: str
) -> list[Fact]:
    """The facts a report grouped ``by`` needs: the rollup's when it can answer."""
    if by in ROLLUP_GROUPINGS:
        return await rollup_facts(session, period, counties, days=by not in ("county", "queue"))
    return await raw_facts(session, period, counties)


async def thresholds(session: AsyncSession, short_abandon_s: int) -> Thresholds:
    """The report's thresholds: the short-abandon one given, N per county from the table."""
    rows = await session.execute(
        text("SELECT county_id, answer_within_s FROM county_service_levels")
    )
    return Thresholds(short_abandon_s=short_abandon_s, service_level_s=dict(rows.all()))


async def county_names(session: AsyncSession) -> dict[int, str]:
    rows = await session.execute(text("SELECT id, name FROM counties"))
    return dict(rows.all())


async def agent_names(session: AsyncSession) -> dict[int, str]:
    rows = await session.execute(text("SELECT id, username FROM users"))
    return dict(rows.all())
