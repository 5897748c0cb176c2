"""Reports from the database: the call report of a period, and the authority's monthly
workbook. ``counties`` None means every county (an admin, or a supervisor of all)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from cti.stats import queries
from cti.stats.calls import DEFAULT_SHORT_ABANDON_S
from cti.stats.export import to_xlsx
from cti.stats.queries import Period
from cti.stats.report import Report, build
from cti.stats.service_figures import DEFAULT_REVISIT_DAYS
from cti.stats.service_queries import names as service_names
from cti.stats.service_queries import period_figures
from cti.stats.service_report import ServiceReport
from cti.stats.service_report import build as build_service

#: The monthly workbook's sheets: (grouping, sheet name, chart).
MONTHLY_SHEETS = (
    ("county", "By county", "bars"),
    ("day", "By day", "line"),
    ("week", "By week", "bars"),
    ("queue", "By queue", "bars"),
    ("hour", "By hour of day", "bars"),
    ("agent", "By agent", None),
)


async def call_report(
    db: AsyncSession,
    period: Period,
    counties: Sequence[int] | None,
    by: str,
    short_abandon_s: int = DEFAULT_SHORT_ABANDON_S,
) -> Report:
    """Calls of ``period`` in ``counties`` grouped ``by`` (``cti.stats.calls.GROUPINGS``)."""
    facts = await queries.facts(db, period, counties, by)
    names = {"county": await queries.county_names(db), "agent": await queries.agent_names(db)}
    title = f"Calls {period.start.isoformat()} to {period.end.isoformat()} by {by}"
    return build(title, facts, by, await queries.thresholds(db, short_abandon_s), names)


async def service_report(
    db: AsyncSession,
    period: Period,
    counties: Sequence[int] | None,
    revisit_days: int = DEFAULT_REVISIT_DAYS,
) -> ServiceReport:
    """Tickets, jobs, companies and revisits of ``period`` in ``counties``
    (``cti.stats.service_figures``), from the monthly rollup."""
    f = await period_figures(db, period, counties, revisit_days)
    title = f"Service {period.start.isoformat()} to {period.end.isoformat()}"
    return build_service(title, f, await service_names(db))


async def monthly_workbook(
    db: AsyncSession, period: Period, counties: Sequence[int] | None
) -> bytes:
    """The supervising authority's file for one month: one sheet per grouping, and the
    service sheet."""
    reports = [
        (await call_report(db, period, counties, by), name, chart)
        for by, name, chart in MONTHLY_SHEETS
    ]
    return to_xlsx(reports, await service_report(db, period, counties))
