"""Reading the service figures of a period: from the monthly rollup
(``service_rollup_monthly``, kept by the ``service_rollup`` triggers of migration 0019),
or from the raw rows -- tickets, jobs (dispatches), revisits and upheld complaints as
``cti.stats.service_figures`` rows -- which is what the rollup is held to. A county scope
of ``None`` means every county; a row's county is its ticket's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from cti.stats.queries import Period
from cti.stats.service_figures import (
    DEFAULT_REVISIT_DAYS,
    JobFact,
    RevisitFact,
    RollupRow,
    ServiceFigures,
    TicketFact,
    UpheldComplaint,
    from_rollup,
    service_figures,
)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _scope(counties: Sequence[int] | None, column: str) -> tuple[str, dict[str, object]]:
    if counties is None:
        return "", {}
    return f" AND {column} = ANY(:counties)", {"counties": list(counties)}


_TICKETS = """
SELECT t.id, t.created_at, COALESCE(t.county_id, 0), COALESCE(t.category_id, 0),
       t.channel, t.status,
       EXISTS (SELECT 1 FROM ticket_events e WHERE e.ticket_id = t.id AND e.kind = 'answer'),
       EXISTS (SELECT 1 FROM ticket_article_answers a WHERE a.ticket_id = t.id),
       (SELECT min(d.dispatched_at) FROM dispatches d WHERE d.ticket_id = t.id)
FROM tickets t
WHERE t.created_at >= :start AND t.created_at < :end"""

#: Jobs dispatched in the period, and jobs done in it (for revisit coverage).
_JOBS = """
SELECT d.ticket_id, d.company_id, COALESCE(t.county_id, 0), d.dispatched_at, d.finish_by,
       d.accepted_at, d.declined_at IS NOT NULL, d.done_at
FROM dispatches d JOIN tickets t ON t.id = d.ticket_id
WHERE ((d.dispatched_at >= :start AND d.dispatched_at < :end)
       OR (d.done_at >= :start AND d.done_at < :end))"""

#: Revisits of the period, and up to the coverage window after it.
_REVISITS = """
SELECT r.ticket_id, COALESCE(r.company_id, 0), COALESCE(t.county_id, 0), r.at,
       r.satisfaction
FROM revisits r JOIN tickets t ON t.id = r.ticket_id
WHERE r.at >= :start AND r.at < :late"""

#: Upheld complaints: a revisit's (against the company it rated), and a complaint
#: ticket's (against the last company dispatched the ticket it names), as
#: ``cti.dispatch.reputation`` counts them.
_COMPLAINTS = """
SELECT COALESCE(r.company_id, 0), COALESCE(t.county_id, 0), r.at
FROM revisits r JOIN tickets t ON t.id = r.ticket_id
WHERE r.complaint_upheld AND r.at >= :start AND r.at < :end{revisit_scope}
UNION ALL
SELECT COALESCE((SELECT d.company_id FROM dispatches d WHERE d.ticket_id = o.id
                 ORDER BY d.id DESC LIMIT 1), 0),
       COALESCE(o.county_id, 0), c.created_at
FROM tickets c JOIN tickets o ON o.id = c.complaint_of_id
WHERE c.complaint_upheld AND c.created_at >= :start AND c.created_at < :end{ticket_scope}"""


async def service_facts(
    db: AsyncSession,
    period: Period,
    counties: Sequence[int] | None,
    revisit_days: int = DEFAULT_REVISIT_DAYS,
) -> tuple[list[TicketFact], list[JobFact], list[RevisitFact], list[UpheldComplaint]]:
    """The rows ``service_figures`` needs for ``period`` in ``counties``."""
    start, end = midnight(period.start), midnight(period.end)
    params: dict[str, object] = {"start": start, "end": end}
    where, scope = _scope(counties, "t.county_id")
    params.update(scope)
    # The statements are this module's constants; values are parameters.
    tickets = [TicketFact(*r) for r in await db.execute(text(_TICKETS + where), params)]
    jobs = [JobFact(*r) for r in await db.execute(text(_JOBS + where), params)]
    late = end + timedelta(days=revisit_days)
    revisits = [
        RevisitFact(*r) for r in await db.execute(text(_REVISITS + where), {**params, "late": late})
    ]
    complaints_sql = _COMPLAINTS.format(
        revisit_scope=where, ticket_scope=_scope(counties, "o.county_id")[0]
    )
    complaints = [UpheldComplaint(*r) for r in await db.execute(text(complaints_sql), params)]
    return tickets, jobs, revisits, complaints


async def service_period_figures(
    db: AsyncSession,
    period: Period,
    counties: Sequence[int] | None,
    revisit_days: int = DEFAULT_REVISIT_DAYS,
) -> ServiceFigures:
    """``service_figures`` of ``period`` in ``counties``, from the raw rows."""
    rows = await service_facts(db, period, counties, revisit_days)
    return service_figures(
        *rows, midnight(period.start), midnight(period.end), revisit_days=revisit_days
    )


def is_months(period: Period) -> bool:
    """Whether ``period`` is whole calendar months (what the rollup can answer)."""
    return period.start.day == 1 and period.end.day == 1 and period.end > period.start


_ROLLUP = """
SELECT county_id, metric, k1, k2, sum(n)::bigint, sum(total)::float8
FROM service_rollup_monthly
WHERE month >= :start AND month < :end{where}
GROUP BY county_id, metric, k1, k2 HAVING sum(n) <> 0"""


async def rollup_service_figures(
    db: AsyncSession,
    period: Period,
    counties: Sequence[int] | None,
    revisit_days: int = DEFAULT_REVISIT_DAYS,
) -> ServiceFigures:
    """``service_figures`` of the months of ``period`` in ``counties``, from the rollup.
    Raises ``ValueError`` for a period that is not whole months."""
    if not is_months(period):
        raise ValueError(f"not whole months: {period}")
    where, params = _scope(counties, "county_id")
    rows = await db.execute(
        text(_ROLLUP.format(where=where)), {"start": period.start, "end": period.end, **params}
    )
    return from_rollup((RollupRow(*r) for r in rows), revisit_days)


async def period_figures(
    db: AsyncSession,
    period: Period,
    counties: Sequence[int] | None,
    revisit_days: int = DEFAULT_REVISIT_DAYS,
) -> ServiceFigures:
    """The rollup's figures when it can answer ``period``, else the raw rows'."""
    if is_months(period):
        return await rollup_service_figures(db, period, counties, revisit_days)
    return await service_period_figures(db, period, counties, revisit_days)


async def names(db: AsyncSession) -> dict[str, dict[int, str]]:
    """Category, county and company names by id."""
    out: dict[str, dict[int, str]] = {}
    for key, table in (
        ("category", "service_categories"),
        ("county", "counties"),
        ("company", "companies"),
    ):
        # ``table`` is one of the three constants above.
        rows = await db.execute(text(f"SELECT id, name FROM {table}"))  # noqa: S608
        out[key] = dict(rows.all())
    return out
