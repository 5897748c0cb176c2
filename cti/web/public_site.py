"""The public site (no login, ``/site``): the service catalogue per county, the online
order, and a ticket's status by number and phone.

Every form goes through the abuse guard (``cti.web.public_forms.read_form``); a refusal
is a page saying why (400, 413, 429) and a count in ``/metrics``
(``cti_public_refused_total{form,reason}``). Texts come from ``cti.public.texts``
(``?lang=zh`` or the browser's language).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from cti.citizens.service import CitizenError
from cti.numbers import NumberKind, normalise
from cti.public import catalogue, guard, status
from cti.public.orders import (
    ORDER_FIELDS,
    SLOTS,
    OrderInvalid,
    check_order,
    offer_now,
    place_order,
)
from cti.store.base import utcnow
from cti.tickets.service import TicketError
from cti.web.deps import PUBLIC, DbSession
from cti.web.public_forms import (
    REFUSALS,
    count_invalid,
    count_taken,
    form_page,
    locale_of,
    now_s,
    page,
    read_form,
    refused,
    site_of,
)

router = APIRouter(prefix="/site", tags=["public"], dependencies=[Depends(PUBLIC)])

STATUS_FIELDS = {"website": 200, "lang": 8, "ticket": 40, "phone": 40}
NOT_FOUND = {404: {"description": "no such county (a page)", "content": {"text/html": {}}}}
NO_MATCH = {
    404: {
        "description": "no ticket with this number and phone (the same page for either)",
        "content": {"text/html": {}},
    }
}


@router.get("", response_class=HTMLResponse, summary="The public site: counties, hotlines, hours")
async def home(request: Request, db: DbSession) -> Response:
    counties = await catalogue.overview(db, utcnow().date())
    return page(request, "public/home.html", {"counties": counties}, locale=locale_of(request))


@router.get(
    "/counties/{code}",
    response_class=HTMLResponse,
    summary="A county's services, approved companies with their rating, hours, hotlines",
    responses=NOT_FOUND,
)
async def county_page(code: str, request: Request, db: DbSession) -> Response:
    locale = locale_of(request)
    card = await catalogue.county(db, code[:32], utcnow().date()) if len(code) <= 32 else None
    if card is None:
        return page(request, "public/not_found.html", {}, locale=locale, status_code=404)
    return page(request, "public/county.html", {"county": card}, locale=locale)


async def _order_form(
    request: Request,
    db: DbSession,
    *,
    locale: str,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return form_page(
        request,
        "public/order.html",
        "order",
        {
            "tree": await catalogue.category_tree(db),
            "counties": await catalogue.live_counties(db),
            "slots": tuple(SLOTS),
        },
        locale=locale,
        form=form or {},
        errors=errors,
        status_code=status_code,
    )


@router.get("/order", response_class=HTMLResponse, summary="The online order form")
async def order_form(request: Request, db: DbSession) -> Response:
    prefill = {k: request.query_params.get(k, "")[:64] for k in ("county", "category")}
    return await _order_form(request, db, locale=locale_of(request), form=prefill)


@router.post(
    "/order",
    response_class=HTMLResponse,
    summary="Send an online order: it becomes a ticket (channel web)",
    responses=REFUSALS,
)
async def order(request: Request, db: DbSession) -> Response:
    try:
        submitted = await read_form(request, "order", ORDER_FIELDS)
    except guard.Refused as exc:
        return refused(request, "order", exc, "/site/order")
    locale = locale_of(request, submitted)
    form = submitted.firsts()
    site = site_of(request)
    try:
        checked = check_order(form, site.plan, today=utcnow().date())
        guard.check_rate(site.limiters.submit_phone, checked.phone, now_s(), "rate_phone")
        factory = request.app.state.session_factory
        placed = await place_order(
            db,
            checked,
            await site.account.actor(factory),
            lambda ticket_id: offer_now(factory, site.account, ticket_id),
        )
    except guard.Refused as exc:
        return refused(request, "order", exc, "/site/order")
    except (OrderInvalid, TicketError, CitizenError) as exc:
        await db.rollback()
        count_invalid(request, "order")
        errors = (
            exc.errors
            if isinstance(exc, OrderInvalid)
            else {_field(exc.field): "e_other", "detail": str(exc)}
        )
        return await _order_form(
            request, db, locale=locale, form=form, errors=errors, status_code=422
        )
    count_taken(request, "order")  # written and committed by place_order (autocommit)
    return page(request, "public/order_done.html", {"number": placed.number}, locale=locale)


def _field(name: str) -> str:
    return {"phones": "phone", "subcategory": "category"}.get(name, name)


@router.get("/status", response_class=HTMLResponse, summary="Follow an order: the look-up form")
async def status_form(request: Request) -> Response:
    number = status.ticket_number(request.query_params.get("ticket", "")[:40])
    return page(
        request,
        "public/status.html",
        {"form": {"ticket": number}, "found": None, "missing": False},
        locale=locale_of(request),
    )


@router.post(
    "/status",
    response_class=HTMLResponse,
    summary="Follow an order: its status, by ticket number and phone number together",
    responses={**NO_MATCH, **{k: v for k, v in REFUSALS.items() if k != 422}},
)
async def status_lookup(request: Request, db: DbSession) -> Response:
    try:
        submitted = await read_form(request, "status", STATUS_FIELDS, token=False)
        locale = locale_of(request, submitted)
        raw_number = submitted.one("ticket")
        number = status.ticket_number(raw_number)
        guard.check_rate(
            site_of(request).limiters.status_ticket,
            number or raw_number.strip().upper()[:40],
            now_s(),
            "rate_ticket",
        )
    except guard.Refused as exc:
        return refused(request, "status", exc, "/site/status")
    phone = normalise(submitted.one("phone"), site_of(request).plan)
    key = phone.key if phone.kind in (NumberKind.NATIONAL, NumberKind.INTERNATIONAL) else ""
    found = await status.lookup(db, number, key)
    form = {"ticket": number or raw_number.strip()[:40]}
    if found is None:
        site_of(request).counters.refused[("status", "no_match")] += 1
        return page(
            request,
            "public/status.html",
            {"form": form, "found": None, "missing": True},
            locale=locale,
            status_code=404,
        )
    count_taken(request, "status")
    return page(
        request,
        "public/status.html",
        {"form": form, "found": found, "missing": False},
        locale=locale,
    )
