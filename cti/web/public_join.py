"""The public site's sign-ups (``/site/join``, ``/site/volunteer``): a company's
application to join the network, fed to the same flow the admins use
(``cti.companies.applications.apply``: the company waits as ``applied`` for their review),
and volunteers, stored for the admins' list (``/admin/volunteers``).

Both forms go through the abuse guard like the order form (``cti.web.public_forms``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from cti.companies.applications import apply
from cti.companies.rules import CompanyError, phone
from cti.public import catalogue, guard
from cti.public.orders import OrderInvalid
from cti.public.texts import rule_error
from cti.public.volunteers import VOLUNTEER_FIELDS, check_volunteer, sign_up
from cti.web.deps import PUBLIC, DbSession, client_ip
from cti.web.public_forms import (
    REFUSALS,
    Submitted,
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

JOIN_FIELDS = {
    "token": 200,
    "website": 200,
    "lang": 8,
    "name": 200,
    "licence_number": 64,
    "address": 500,
    "phone": 40,
    "email": 254,
    "categories": 64,
    "counties": 32,
    "contact_name": 120,
    "contact_phone": 40,
}
#: Where an application's field names (``contacts[0].phone``) show on the public form.
_JOIN_FIELD = {"contacts": "contact_name", "categories": "categories", "counties": "counties"}


def application_data(form: Submitted) -> dict[str, Any]:
    """The public form as the data ``applications.apply`` takes (one contact row)."""
    contact = {"name": form.one("contact_name"), "phone": form.one("contact_phone")}
    return {
        "name": form.one("name"),
        "licence_number": form.one("licence_number"),
        "address": form.one("address"),
        "phone": form.one("phone"),
        "email": form.one("email"),
        "categories": form.many("categories"),
        "counties": form.many("counties"),
        "contacts": [contact] if any(v.strip() for v in contact.values()) else [],
        "webhook_url": None,
    }


def _join_field(field: str) -> str:
    """``contacts[0].phone`` -> ``contact_phone``, ``categories[2]`` -> ``categories``."""
    if field.startswith("contacts"):
        return "contact_phone" if field.endswith(".phone") else "contact_name"
    return _JOIN_FIELD.get(field.split("[")[0], field)


async def _join_form(
    request: Request,
    db: DbSession,
    *,
    locale: str,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return form_page(
        request,
        "public/join.html",
        "join",
        {
            "tree": await catalogue.category_tree(db),
            "counties": await catalogue.live_counties(db),
        },
        locale=locale,
        form=form or {"categories": [], "counties": []},
        errors=errors,
        status_code=status_code,
    )


@router.get("/join", response_class=HTMLResponse, summary="A company's application to join")
async def join_form(request: Request, db: DbSession) -> Response:
    return await _join_form(request, db, locale=locale_of(request))


@router.post(
    "/join",
    response_class=HTMLResponse,
    summary="Send a company's application (it waits for the admins' review)",
    responses=REFUSALS,
)
async def join(request: Request, db: DbSession) -> Response:
    try:
        submitted = await read_form(request, "join", JOIN_FIELDS)
    except guard.Refused as exc:
        return refused(request, "join", exc, "/site/join")
    locale = locale_of(request, submitted)
    site = site_of(request)
    data = application_data(submitted)
    shown = {**submitted.firsts(), "categories": data["categories"], "counties": data["counties"]}
    try:
        key = phone("phone", data["phone"], site.plan, required=True)
        guard.check_rate(site.limiters.submit_phone, key, now_s(), "rate_phone")
        company = await apply(db, data, plan=site.plan, ip=client_ip(request))
    except guard.Refused as exc:
        return refused(request, "join", exc, "/site/join")
    except CompanyError as exc:
        await db.rollback()
        count_invalid(request, "join")
        # Said in the form's language (the English message is the admins' and the API's).
        errors = {_join_field(exc.field): rule_error(exc.reason), "detail": exc.detail}
        return await _join_form(
            request, db, locale=locale, form=shown, errors=errors, status_code=422
        )
    reference = f"A{company.id:06d}"
    await db.commit()
    count_taken(request, "join")
    return page(request, "public/join_done.html", {"reference": reference}, locale=locale)


async def _volunteer_form(
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
        "public/volunteer.html",
        "volunteer",
        {"counties": await catalogue.live_counties(db)},
        locale=locale,
        form=form or {},
        errors=errors,
        status_code=status_code,
    )


@router.get("/volunteer", response_class=HTMLResponse, summary="The volunteer sign-up form")
async def volunteer_form(request: Request, db: DbSession) -> Response:
    return await _volunteer_form(request, db, locale=locale_of(request))


@router.post(
    "/volunteer",
    response_class=HTMLResponse,
    summary="Sign up as a volunteer (the admins see it in /admin/volunteers)",
    responses=REFUSALS,
)
async def volunteer(request: Request, db: DbSession) -> Response:
    try:
        submitted = await read_form(request, "volunteer", VOLUNTEER_FIELDS)
    except guard.Refused as exc:
        return refused(request, "volunteer", exc, "/site/volunteer")
    locale = locale_of(request, submitted)
    site = site_of(request)
    form = submitted.firsts()
    try:
        checked = check_volunteer(form, site.plan)
        guard.check_rate(site.limiters.submit_phone, checked.phone, now_s(), "rate_phone")
        await sign_up(db, checked, locale=locale, ip=client_ip(request))
    except guard.Refused as exc:
        return refused(request, "volunteer", exc, "/site/volunteer")
    except OrderInvalid as exc:
        await db.rollback()
        count_invalid(request, "volunteer")
        return await _volunteer_form(
            request, db, locale=locale, form=form, errors=exc.errors, status_code=422
        )
    await db.commit()
    count_taken(request, "volunteer")
    return page(request, "public/volunteer_done.html", {}, locale=locale)
