"""``/tickets`` (the agent's lists: mine, my county's, overdue; and the search form) and
``/tickets/{number}`` (one ticket: details, what the viewer may do, notes, one timeline).

Server-rendered; the ticket page's buttons and note form post to the ticket API through
``static/ticket.js`` (no inline script). Inspectors read tickets but get no buttons.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from cti.knowledge import suggest
from cti.store.base import utcnow
from cti.store.catalog import ServiceCategory
from cti.store.citizens import Citizen
from cti.store.companies import Company
from cti.store.counties import County
from cti.store.tickets import STATUS_VALUES
from cti.store.users import Role
from cti.tickets import access, read, search
from cti.web.deps import DbSession, RequireRole
from cti.web.errors import NotFound, documented
from cti.web.sessions import AuthContext
from cti.web.tickets import detail

router = APIRouter(tags=["pages"])

Reader = Annotated[AuthContext, Depends(RequireRole(*access.READERS))]
Text = Annotated[str, Query(max_length=search.MAX_TEXT)]
TAB_LABELS = {
    search.Tab.MINE: "Mine",
    search.Tab.COUNTY: "My county's",
    search.Tab.OVERDUE: "Overdue",
    search.Tab.SEARCH: "Search",
}


def _day(value: str, field: str, errors: dict[str, str]) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError:
        errors[field] = "a date as YYYY-MM-DD"
        return None


async def _choices(db: DbSession) -> dict[str, Any]:
    categories = (
        await db.execute(
            select(
                ServiceCategory.id,
                ServiceCategory.code,
                ServiceCategory.name,
                ServiceCategory.parent_id,
            ).order_by(ServiceCategory.sort_order, ServiceCategory.code)
        )
    ).all()
    counties = (
        await db.execute(select(County.id, County.code, County.name).order_by(County.code))
    ).all()
    companies = (await db.execute(select(Company.id, Company.name).order_by(Company.name))).all()
    return {"categories": categories, "counties": counties, "companies": companies}


@router.get(
    "/tickets",
    response_class=HTMLResponse,
    summary="Tickets: mine, my county's, overdue, and search (page)",
    responses={
        422: {
            "description": "a filter is not valid (the page, with why)",
            "content": {"text/html": {}},
        }
    },
)
async def tickets_page(
    request: Request,
    ctx: Reader,
    db: DbSession,
    tab: Annotated[str, Query(max_length=16)] = "",
    number: Text = "",
    citizen: Text = "",
    phone: Text = "",
    category: Annotated[str, Query(max_length=64)] = "",
    county: Annotated[str, Query(max_length=32)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    company: Annotated[str, Query(max_length=12)] = "",
    since: Annotated[str, Query(max_length=10)] = "",
    until: Annotated[str, Query(max_length=10)] = "",
    q: Text = "",
    after: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    user = ctx.user
    form = {
        "number": number,
        "citizen": citizen,
        "phone": phone,
        "category": category,
        "county": county,
        "status": status,
        "company": company,
        "since": since,
        "until": until,
        "q": q,
    }
    searching = any(form.values())
    try:
        current = search.Tab(tab) if tab else (search.Tab.SEARCH if searching else search.Tab.MINE)
    except ValueError:
        current = search.Tab.MINE
    errors: dict[str, str] = {}
    if status and status not in STATUS_VALUES:
        errors["status"] = "not a ticket status"
    company_id = None
    if company:
        if company.isdigit() and 0 < int(company) < 2**31:
            company_id = int(company)
        else:
            errors["company"] = "choose a company from the list"
    if "\x00" in "".join(form.values()):
        errors["q"] = "no NUL characters"
    start, end = _day(since, "since", errors), _day(until, "until", errors)
    choices = await _choices(db)
    category_id = subcategory_id = county_id = None
    if category:
        found = [(i, parent) for i, code, _, parent in choices["categories"] if code == category]
        if not found:
            errors["category"] = "choose a service from the list"
        elif found[0][1] is None:
            category_id = found[0][0]
        else:
            subcategory_id = found[0][0]
    if county:
        county_id = next((i for i, code, _ in choices["counties"] if code == county), None)
        if county_id is None:
            errors["county"] = "choose a county from the list"
    filters = search.Filters(
        number=number or None,
        citizen=citizen or None,
        phone=phone or None,
        category_id=category_id,
        subcategory_id=subcategory_id,
        county_id=county_id,
        status=status or None,
        company_id=company_id,
        since=start,
        until=end + timedelta(days=1) if end else None,
        text=q or None,
    )
    cursor = None
    if after:
        try:
            cursor = search.decode_cursor(after)
        except search.InvalidCursor:
            errors["after"] = "that page link is not valid any more; search again"
    rows = []
    older = None
    if not errors:
        chosen = search.tab_filters(current, user.id, user.county_id, utcnow(), filters)
        page = await read.search_page(db, chosen, access.scope_of(user), after=cursor)
        older = page.older
        rows = await _rows(db, page.tickets)
    return request.app.state.templates.TemplateResponse(
        request,
        "tickets.html",
        {
            "user": user,
            "csrf_token": ctx.csrf_token,
            "tab": current.value,
            "tabs": [(t.value, label) for t, label in TAB_LABELS.items()],
            "form": form,
            "errors": errors,
            "rows": rows,
            "older": older,
            "older_query": _query_with(request, after=older) if older else None,
            "statuses": STATUS_VALUES,
            "overdue_hours": int(search.NEW_OVERDUE_AFTER.total_seconds() // 3600),
            **choices,
        },
        status_code=422 if errors else 200,
    )


def _query_with(request: Request, **changes: str | None) -> str:
    params = dict(request.query_params)
    params.update({k: v for k, v in changes.items() if v is not None})
    return urlencode(params)


async def _rows(db: DbSession, tickets: list) -> list[dict[str, Any]]:
    citizen_ids = {t.citizen_id for t in tickets if t.citizen_id is not None}
    names = {}
    if citizen_ids:
        names = dict(
            (
                await db.execute(
                    select(Citizen.id, Citizen.name).where(Citizen.id.in_(citizen_ids))
                )
            ).all()
        )
    codes = dict((await db.execute(select(ServiceCategory.id, ServiceCategory.code))).all())
    counties = dict((await db.execute(select(County.id, County.code))).all())
    return [
        {
            "ticket": t,
            "citizen": names.get(t.citizen_id),
            "category": codes.get(t.subcategory_id) or codes.get(t.category_id),
            "county": counties.get(t.county_id),
        }
        for t in tickets
    ]


@router.get(
    "/tickets/{number}",
    response_class=HTMLResponse,
    summary="One ticket: details, actions, notes and its timeline (page)",
    responses=documented(NotFound),
)
async def ticket_page(
    request: Request,
    ctx: Reader,
    db: DbSession,
    number: Annotated[str, Path(min_length=1, max_length=24, pattern=r"^[A-Za-z0-9-]+$")],
) -> Response:
    ticket = await read.visible_ticket(db, ctx.user, number)
    if ticket is None:
        raise NotFound(f"no ticket {number}")
    shown = await detail(db, ctx, ticket)
    # An answer may name the article it was given from: those for the ticket's service.
    articles = (
        await suggest.for_tickets(db, [ticket], limit=10) if "answer" in shown.actions else []
    )
    return request.app.state.templates.TemplateResponse(
        request,
        "ticket.html",
        {
            "user": ctx.user,
            "csrf_token": ctx.csrf_token,
            "t": shown,
            "may_write": Role(ctx.user.role) in access.WRITERS,
            # Click-to-call rings the viewer's own phone: agents only, on a done ticket.
            "may_call": Role(ctx.user.role) is Role.AGENT and shown.status == "done",
            "articles": [s.article for s in articles],
        },
    )
