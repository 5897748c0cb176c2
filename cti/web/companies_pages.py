"""``/admin/companies``: the administrator's company pages (plain HTML forms, no script).

The list (filtered by status, category, county); a form to enter an application (the
webhook secret is shown once, on the answer page); one company with everything about it
and the review (approve, reject, suspend, reinstate with a reason), staff and
certifications, and its portal logins (a generated password, shown once). Every change
goes through :mod:`cti.companies`, as the API's (``cti.web.companies``) does.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from cti import accounts
from cti.companies import applications, logins, profile, review, rules, staff, webhooks
from cti.companies.rules import CompanyError
from cti.dispatch import suspension
from cti.store.catalog import ServiceCategory
from cti.store.companies import Company, CompanyStatus
from cti.store.counties import County
from cti.web.deps import AdminUser, AppSettings, DbSession, client_ip
from cti.web.errors import NotFound, documented
from cti.web.forms import form_again, staff_page

router = APIRouter(prefix="/admin/companies", tags=["pages"])

CompanyId = Annotated[int, Path(ge=1, le=2**31 - 1)]
StaffId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Text = Annotated[str, Field(max_length=rules.MAX_ADDRESS + 100)]
Rows = Annotated[list[Text], Field(max_length=rules.MAX_STAFF)]

FORM_REFUSED = {
    409: {
        "description": "taken by another company, or not allowed from its status (the form "
        "again, with why)",
        "content": {"text/html": {}},
    },
    422: {
        "description": "a value is not valid (the form again, with why)",
        "content": {"text/html": {}},
    },
}
#: The rows of contacts and staff the application form offers (more staff later).
CONTACT_ROWS = 3
STAFF_ROWS = 5


class ApplicationForm(BaseModel):
    """The application form; rows of contacts and staff are parallel lists (one value per
    row, empty rows skipped)."""

    name: Text = ""
    licence_number: Text = ""
    address: Text = ""
    phone: Text = ""
    email: Text = ""
    webhook_url: Text = ""
    categories: Rows = []
    counties: Rows = []
    contact_name: Rows = []
    contact_role: Rows = []
    contact_phone: Rows = []
    contact_email: Rows = []
    staff_name: Rows = []
    cert_category: Rows = []
    cert_title: Rows = []
    cert_issuer: Rows = []
    cert_number: Rows = []
    cert_valid_from: Rows = []
    cert_valid_until: Rows = []


class CertificationForm(BaseModel):
    category: Text = ""
    title: Text = ""
    issuer: Text = ""
    number: Text = ""
    valid_from: Text = ""
    valid_until: Text = ""


def _row(values: list[str], i: int) -> str:
    return values[i] if i < len(values) else ""


def application_data(form: ApplicationForm) -> dict[str, Any]:
    """The form as the data :func:`applications.apply` takes; rows left empty dropped."""
    contacts = []
    for i in range(len(form.contact_name)):
        row = {
            "name": _row(form.contact_name, i),
            "role": _row(form.contact_role, i),
            "phone": _row(form.contact_phone, i),
            "email": _row(form.contact_email, i),
        }
        if any(v.strip() for v in row.values()):
            contacts.append(row)
    members = []
    for i in range(len(form.staff_name)):
        cert = {
            "category": _row(form.cert_category, i),
            "title": _row(form.cert_title, i),
            "issuer": _row(form.cert_issuer, i),
            "number": _row(form.cert_number, i),
            "valid_from": _row(form.cert_valid_from, i),
            "valid_until": _row(form.cert_valid_until, i),
        }
        has_cert = any(v.strip() for k, v in cert.items() if k != "category")
        name = _row(form.staff_name, i)
        if name.strip() or has_cert:
            members.append({"name": name, "certifications": [cert] if has_cert else []})
    return {
        "name": form.name,
        "licence_number": form.licence_number,
        "address": form.address,
        "phone": form.phone,
        "email": form.email,
        "webhook_url": form.webhook_url or None,
        "categories": list(form.categories),
        "counties": list(form.counties),
        "contacts": contacts,
        "staff": members,
    }


async def _choices(db: DbSession) -> dict[str, Any]:
    categories = (
        await db.execute(
            select(ServiceCategory.code, ServiceCategory.name)
            .where(ServiceCategory.parent_id.is_(None), ServiceCategory.active)
            .order_by(ServiceCategory.sort_order, ServiceCategory.code)
        )
    ).all()
    counties = (
        await db.execute(
            select(County.code, County.name)
            .where(County.retired_at.is_(None))
            .order_by(County.code)
        )
    ).all()
    return {
        "category_choices": [tuple(r) for r in categories],
        "county_choices": [tuple(r) for r in counties],
        "statuses": [s.value for s in CompanyStatus],
    }


@router.get("", response_class=HTMLResponse, summary="Companies: list and filter (page)")
async def companies_page(
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    status: Annotated[str | None, Query(max_length=16)] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    county: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    rows = await profile.list_companies(
        db, status=status or None, category=category or None, county=county or None
    )
    return staff_page(
        request,
        ctx,
        "companies.html",
        rows=rows,
        filters={"status": status or "", "category": category or "", "county": county or ""},
        **await _choices(db),
    )


def _blank_form() -> dict[str, Any]:
    return application_data(ApplicationForm())


async def _new_page(
    request: Request,
    ctx: Any,
    db: DbSession,
    form: dict[str, Any],
    *,
    status_code: int = 200,
    error: str | None = None,
) -> Response:
    return staff_page(
        request,
        ctx,
        "company_new.html",
        status_code=status_code,
        form=form,
        error=error,
        contact_rows=max(CONTACT_ROWS, len(form["contacts"])),
        staff_rows=max(STAFF_ROWS, len(form["staff"])),
        **await _choices(db),
    )


@router.get(
    "/new", response_class=HTMLResponse, summary="The form to enter a company's application"
)
async def new_company_page(request: Request, ctx: AdminUser, db: DbSession) -> Response:
    return await _new_page(request, ctx, db, _blank_form())


@router.post(
    "/new",
    response_class=HTMLResponse,
    status_code=201,
    summary="Enter a company's application (form); shows its webhook secret once",
    responses=FORM_REFUSED,
)
async def add_company(
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    settings: AppSettings,
    form: Annotated[ApplicationForm, Form()],
) -> Response:
    data = application_data(form)
    try:
        company = await applications.apply(
            db, data, plan=settings.number_plan, actor=ctx.user, ip=client_ip(request)
        )
    except CompanyError as exc:
        conflict = isinstance(exc, applications.LicenceTaken)
        return await form_again(
            db,
            ctx,
            partial(_new_page, request, ctx, db, data),
            status_code=409 if conflict else 422,
            error=str(exc),
        )
    await db.commit()
    return _render(
        request,
        ctx,
        await profile.detail(db, company.id),
        status_code=201,
        message="Application entered: it waits for review.",
        webhook_secret=company.webhook_secret,
    )


async def _company(
    request: Request,
    ctx: Any,
    db: DbSession,
    company_id: int,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    try:
        found = await profile.detail(db, company_id)
    except profile.NoSuchCompany:
        raise NotFound(f"no company {company_id}") from None
    return _render(request, ctx, found, status_code=status_code, **context)


def _render(
    request: Request,
    ctx: Any,
    found: profile.CompanyDetail,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    return staff_page(
        request,
        ctx,
        "company.html",
        status_code=status_code,
        company=found,
        **{"message": None, "error": None, "webhook_secret": None, "new_login": None, **context},
    )


MESSAGES = {
    "approve": "Approved: it can receive work.",
    "reject": "Rejected.",
    "suspend": "Suspended: it receives no work; its logins see their jobs read-only.",
    "reinstate": "Reinstated: it can receive work again.",
    "staff": "Staff member added.",
    "certification": "Certification added.",
    "deactivated": "Staff member deactivated.",
    "activated": "Staff member active again.",
}


@router.get(
    "/{company_id}",
    response_class=HTMLResponse,
    summary="One company: review, staff, certifications, logins (page)",
    responses=documented(NotFound),
)
async def company_page(
    company_id: CompanyId,
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    saved: Annotated[str | None, Query(max_length=16)] = None,
    withdrawn: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    message = MESSAGES.get(saved or "")
    if message and withdrawn:
        message += f" {withdrawn} open job{'s' if withdrawn != 1 else ''} taken back for dispatch."
    return await _company(request, ctx, db, company_id, message=message)


async def _target(db: DbSession, company_id: int) -> Company:
    company = await db.get(Company, company_id)
    if company is None:
        raise NotFound(f"no company {company_id}")
    return company


async def _refused(
    request: Request, ctx: Any, db: DbSession, company_id: int, exc: Exception, status_code: int
) -> Response:
    page = partial(_company, request, ctx, db, company_id)
    return await form_again(db, ctx, page, status_code=status_code, error=str(exc))


@router.post(
    "/{company_id}/review",
    response_class=HTMLResponse,
    status_code=303,
    summary="Approve, reject, suspend or reinstate a company, with a reason (form)",
    responses={**FORM_REFUSED, **documented(NotFound)},
)
async def review_company(
    company_id: CompanyId,
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    action: Annotated[str, Form(max_length=16)],
    reason: Annotated[str, Form(max_length=rules.MAX_REASON + 100)] = "",
) -> Response:
    company = await _target(db, company_id)
    try:
        done = await suspension.review(db, company, action, reason, ctx.user, ip=client_ip(request))
    except review.ReviewRefused as exc:
        return await _refused(request, ctx, db, company_id, exc, status_code=409)
    except CompanyError as exc:
        return await _refused(request, ctx, db, company_id, exc, status_code=422)
    await db.commit()
    taken_back = f"&withdrawn={len(done.withdrawn)}" if done.withdrawn else ""
    return RedirectResponse(
        f"/admin/companies/{company_id}?saved={action}{taken_back}", status_code=303
    )


@router.post(
    "/{company_id}/staff",
    response_class=HTMLResponse,
    status_code=303,
    summary="Add a staff member to a company (form)",
    responses={422: FORM_REFUSED[422], **documented(NotFound)},
)
async def add_staff(
    company_id: CompanyId,
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    name: Annotated[str, Form(max_length=rules.MAX_PERSON + 100)] = "",
) -> Response:
    company = await _target(db, company_id)
    try:
        await staff.add_staff(db, company, name, ctx.user)
    except CompanyError as exc:
        return await _refused(request, ctx, db, company_id, exc, status_code=422)
    await db.commit()
    return RedirectResponse(f"/admin/companies/{company_id}?saved=staff", status_code=303)


@router.post(
    "/{company_id}/staff/{staff_id}/certifications",
    response_class=HTMLResponse,
    status_code=303,
    summary="Add a certification to a staff member (form)",
    responses={422: FORM_REFUSED[422], **documented(NotFound)},
)
async def add_certification(
    company_id: CompanyId,
    staff_id: StaffId,
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    form: Annotated[CertificationForm, Form()],
) -> Response:
    company = await _target(db, company_id)
    try:
        await staff.add_certification(db, company, staff_id, form.model_dump(), ctx.user)
    except staff.NoSuchStaff:
        raise NotFound(f"no staff member {staff_id} in company {company_id}") from None
    except CompanyError as exc:
        return await _refused(request, ctx, db, company_id, exc, status_code=422)
    await db.commit()
    return RedirectResponse(f"/admin/companies/{company_id}?saved=certification", status_code=303)


@router.post(
    "/{company_id}/staff/{staff_id}/active",
    response_class=HTMLResponse,
    status_code=303,
    summary="Deactivate (or reactivate) a staff member (form)",
    responses=documented(NotFound),
)
async def set_staff_active(
    company_id: CompanyId,
    staff_id: StaffId,
    ctx: AdminUser,
    db: DbSession,
    active: Annotated[bool, Form()],
) -> Response:
    company = await _target(db, company_id)
    try:
        await staff.set_staff_active(db, company, staff_id, active, ctx.user)
    except staff.NoSuchStaff:
        raise NotFound(f"no staff member {staff_id} in company {company_id}") from None
    await db.commit()
    saved = "activated" if active else "deactivated"
    return RedirectResponse(f"/admin/companies/{company_id}?saved={saved}", status_code=303)


@router.post(
    "/{company_id}/logins",
    response_class=HTMLResponse,
    status_code=201,
    summary="Create a portal login for a company (form); shows its password once",
    responses={**FORM_REFUSED, **documented(NotFound)},
)
async def create_login(
    company_id: CompanyId,
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    username: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    company = await _target(db, company_id)
    try:
        made = await logins.create_login(db, company, username, ctx.user)
    except (logins.LoginRefused, accounts.AccountConflict) as exc:
        return await _refused(request, ctx, db, company_id, exc, status_code=409)
    except accounts.AccountError as exc:
        return await _refused(request, ctx, db, company_id, exc, status_code=422)
    await db.commit()
    return await _company(
        request,
        ctx,
        db,
        company_id,
        status_code=201,
        new_login={"username": made.user.username, "password": made.password},
    )


@router.post(
    "/{company_id}/webhook",
    response_class=HTMLResponse,
    summary="Set or remove a company's webhook (form); shows the new secret once",
    responses={422: FORM_REFUSED[422], **documented(NotFound)},
)
async def set_webhook(
    company_id: CompanyId,
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    url: Annotated[str, Form(max_length=rules.MAX_URL + 100)] = "",
) -> Response:
    company = await _target(db, company_id)
    try:
        secret = await webhooks.set_webhook(db, company, url, ctx.user, ip=client_ip(request))
    except CompanyError as exc:
        return await _refused(request, ctx, db, company_id, exc, status_code=422)
    await db.commit()
    message = "Webhook set, with a new secret." if secret else "Webhook removed: email only."
    return await _company(request, ctx, db, company_id, message=message, webhook_secret=secret)
