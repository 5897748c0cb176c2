"""Reading the service facts of a period: tickets, jobs (dispatches), revisits and
upheld complaints, as ``cti.stats.service_figures`` rows. A county scope of ``None``
means every county; a row's county is its ticket's.

Every statement reads the raw rows through their indexes (tickets by ``created_at``,
dispatches by ticket, revisits by ticket); each returns only rows the period can use.
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
    ServiceFigures,
    TicketFact,
    UpheldComplaint,
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
