"""Reports for supervisors and admins: ``/reports`` (charts and tables), its CSV and XLSX,
and the authority's monthly workbook.

County scope: a supervisor with a county sees only it (asking for another answers 404,
exactly like a missing county); a supervisor without one, and an admin, see all or pick one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from cti.stats import charts
from cti.stats.calls import GROUPINGS
from cti.stats.export import service_csv, to_csv, to_xlsx
from cti.stats.queries import Period
from cti.stats.service import call_report, monthly_workbook, service_report
from cti.stats.service_figures import DEFAULT_REVISIT_DAYS
from cti.stats.service_report import ServiceReport
from cti.store.counties import UnknownCounty, county_id_by_code
from cti.store.users import Role
from cti.web.deps import DbSession, RequireRole
from cti.web.errors import Invalid, NotFound, documented
from cti.web.sessions import AuthContext

router = APIRouter()

Reader = Annotated[AuthContext, Depends(RequireRole(Role.SUPERVISOR, Role.ADMIN))]
Month = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")]
By = Annotated[str, Query(pattern="^(" + "|".join(GROUPINGS) + ")$")]
CountyCode = Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
ShortAbandon = Annotated[int, Query(ge=0, le=120)]
RevisitDays = Annotated[
    int, Query(ge=0, le=90, description="revisit coverage: revisited within N days of done")
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _file(media_type: str, fmt: str) -> dict:
    """The routes' documented responses: a file of ``media_type``, and their errors."""
    schema = {"type": "string", "format": fmt}
    return {200: {"content": {media_type: {"schema": schema}}}, **documented(Invalid, NotFound)}


def _period(month: str | None) -> Period:
    if month is None:  # last month: what a supervisor opens in the morning of the 1st
        now = datetime.now(UTC)
        return Period.month(now.year - (now.month == 1), (now.month - 2) % 12 + 1)
    try:
        return Period.parse_month(month)
    except ValueError as e:
        raise Invalid(str(e), fields={"month": "YYYY-MM"}) from None


async def _scope(db: DbSession, ctx: AuthContext, county: str | None) -> list[int] | None:
    """The counties this reader may see and asked for."""
    try:
        wanted = await county_id_by_code(db, county)
    except UnknownCounty:
        raise NotFound("no such county") from None
    own = ctx.user.county_id if ctx.user.role == Role.SUPERVISOR.value else None
    if own is not None:
        if wanted is not None and wanted != own:
            raise NotFound("no such county")
        return [own]
    return None if wanted is None else [wanted]


def _service_charts(service: ServiceReport) -> dict[str, Markup]:
    """The service section's SVG charts by table key (labels escaped by ``charts``)."""

    def items(key: str) -> list[tuple[str, float | None]]:
        return [(str(r[0]), r[1]) for r in service.table(key).rows if r[0] != "total"]

    companies = [(str(r[0]), r[5]) for r in service.table("companies").rows]
    svg = {
        "category": charts.bars("Tickets by category", items("category")),
        "status": charts.bars("Tickets by status", items("status")),
        "companies": charts.bars("On time % by company", companies, " %"),
    }
    return {k: Markup(v) for k, v in svg.items()}  # noqa: S704 (escaped by charts)


def _filename(period: Period, what: str, ext: str) -> str:
    return f"hotline-{what}-{period.start:%Y-%m}.{ext}"


@router.get(
    "/reports",
    response_class=HTMLResponse,
    summary="The reports page",
    responses=documented(Invalid, NotFound),
)
async def reports_page(
    request: Request,
    ctx: Reader,
    db: DbSession,
    month: Month = None,
    by: By = "county",
    county: CountyCode = None,
    short_abandon: ShortAbandon = 5,
    revisit_days: RevisitDays = DEFAULT_REVISIT_DAYS,
) -> Response:
    period = _period(month)
    scope = await _scope(db, ctx, county)
    report = await call_report(db, period, scope, by, short_abandon)
    service = await service_report(db, period, scope, revisit_days)
    header, body = report.table()
    over_time = by in ("day", "week", "month", "hour")
    context = {
        "user": ctx.user,
        "csrf_token": ctx.csrf_token,
        "report": report,
        "header": header,
        "body": body,
        "bars": Markup(charts.stacked_bars(report)),  # noqa: S704 (escaped by charts)
        "line": Markup(charts.time_series(report)) if over_time else None,  # noqa: S704
        "month": f"{period.start:%Y-%m}",
        "by": by,
        "groupings": list(GROUPINGS),
        "county": county or "",
        "short_abandon": short_abandon,
        "revisit_days": revisit_days,
        "service": service,
        "service_charts": _service_charts(service),
        "query": request.url.query,
        "may_pick_county": not (ctx.user.role == Role.SUPERVISOR.value and ctx.user.county_id),
    }
    return request.app.state.templates.TemplateResponse(request, "reports.html", context)


@router.get(
    "/reports/calls.csv",
    response_class=Response,
    summary="The call report as CSV",
    responses=_file("text/csv", "text"),
)
async def report_csv(
    ctx: Reader,
    db: DbSession,
    month: Month = None,
    by: By = "county",
    county: CountyCode = None,
    short_abandon: ShortAbandon = 5,
) -> Response:
    period = _period(month)
    report = await call_report(db, period, await _scope(db, ctx, county), by, short_abandon)
    return Response(
        to_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_filename(period, by, "csv")}"'},
    )


@router.get(
    "/reports/calls.xlsx",
    response_class=Response,
    summary="The call report as XLSX",
    responses=_file(XLSX, "binary"),
)
async def report_xlsx(
    ctx: Reader,
    db: DbSession,
    month: Month = None,
    by: By = "county",
    county: CountyCode = None,
    short_abandon: ShortAbandon = 5,
) -> Response:
    period = _period(month)
    report = await call_report(db, period, await _scope(db, ctx, county), by, short_abandon)
    chart = "line" if by in ("day", "hour") else "bars"
    return Response(
        to_xlsx([(report, f"By {by}", chart)]),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{_filename(period, by, "xlsx")}"'},
    )


@router.get(
    "/reports/monthly.xlsx",
    response_class=Response,
    summary="The monthly report for the supervising authority (XLSX)",
    responses=_file(XLSX, "binary"),
)
async def report_monthly(
    ctx: Reader, db: DbSession, month: Month = None, county: CountyCode = None
) -> Response:
    period = _period(month)
    data = await monthly_workbook(db, period, await _scope(db, ctx, county))
    name = _filename(period, "monthly", "xlsx")
    return Response(
        data, media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get(
    "/reports/service.csv",
    response_class=Response,
    summary="The service report (tickets, companies, revisits) as CSV",
    responses=_file("text/csv", "text"),
)
async def service_report_csv(
    ctx: Reader,
    db: DbSession,
    month: Month = None,
    county: CountyCode = None,
    revisit_days: RevisitDays = DEFAULT_REVISIT_DAYS,
) -> Response:
    period = _period(month)
    report = await service_report(db, period, await _scope(db, ctx, county), revisit_days)
    name = _filename(period, "service", "csv")
    return Response(
        service_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "/reports/service.xlsx",
    response_class=Response,
    summary="The service report (tickets, companies, revisits) as XLSX",
    responses=_file(XLSX, "binary"),
)
async def service_report_xlsx(
    ctx: Reader,
    db: DbSession,
    month: Month = None,
    county: CountyCode = None,
    revisit_days: RevisitDays = DEFAULT_REVISIT_DAYS,
) -> Response:
    period = _period(month)
    report = await service_report(db, period, await _scope(db, ctx, county), revisit_days)
    name = _filename(period, "service", "xlsx")
    return Response(
        to_xlsx([], report),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
