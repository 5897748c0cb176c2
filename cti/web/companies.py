"""Service companies API (admins): enter an application, list and read companies, review
them (approve, reject, suspend, reinstate), edit staff and certifications, create a
company's portal login. Every change goes through :mod:`cti.companies` and is audited
there; the pages of ``/admin/companies`` (``companies_pages``) call the same functions."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cti import accounts
from cti.companies import applications, logins, profile, review, rules, staff, webhooks
from cti.companies.profile import CompanyDetail, CompanyOut
from cti.companies.rules import CompanyError
from cti.dispatch import suspension
from cti.store.companies import Company, CompanyStatus
from cti.store.counties import CODE_PATTERN as COUNTY_PATTERN
from cti.store.users import USERNAME_PATTERN
from cti.web.deps import AdminUser, AppSettings, DbSession, client_ip
from cti.web.errors import Conflict, Invalid, NotFound, documented

router = APIRouter(prefix="/api/companies", tags=["companies"])

CompanyId = Annotated[int, Path(ge=1, le=2**31 - 1)]
StaffId = Annotated[int, Path(ge=1, le=2**31 - 1)]
#: Request bodies are bounded here (a megabyte "name" never reaches the checks); the
#: precise limits and everything else are checked by :mod:`cti.companies.rules`.
_SLACK = 100


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactIn(_Strict):
    name: str = Field(max_length=rules.MAX_PERSON + _SLACK)
    role: str = Field(default="", max_length=rules.MAX_ROLE + _SLACK)
    phone: str = Field(default="", max_length=40 + _SLACK)
    email: str = Field(default="", max_length=rules.MAX_EMAIL + _SLACK)


class CertificationIn(_Strict):
    category: str = Field(max_length=64, description="a top-level catalogue code")
    title: str = Field(max_length=rules.MAX_TITLE + _SLACK)
    issuer: str = Field(default="", max_length=rules.MAX_TITLE + _SLACK)
    number: str = Field(default="", max_length=rules.MAX_CERT_NUMBER + _SLACK)
    valid_from: date | None = None
    valid_until: date | None = Field(default=None, description="none: does not expire")


class StaffIn(_Strict):
    name: str = Field(max_length=rules.MAX_PERSON + _SLACK)
    certifications: list[CertificationIn] = Field(
        default_factory=list, max_length=rules.MAX_CERTIFICATIONS
    )


class ApplicationIn(_Strict):
    name: str = Field(max_length=rules.MAX_NAME + _SLACK)
    licence_number: str = Field(max_length=64 + _SLACK)
    address: str = Field(max_length=rules.MAX_ADDRESS + _SLACK)
    phone: str = Field(max_length=40 + _SLACK)
    email: str = Field(max_length=rules.MAX_EMAIL + _SLACK)
    categories: list[str] = Field(max_length=rules.MAX_CODES, description="catalogue codes")
    counties: list[str] = Field(max_length=rules.MAX_CODES, description="county codes")
    contacts: list[ContactIn] = Field(default_factory=list, max_length=rules.MAX_CONTACTS)
    staff: list[StaffIn] = Field(default_factory=list, max_length=rules.MAX_STAFF)
    webhook_url: str | None = Field(
        default=None,
        max_length=rules.MAX_URL + _SLACK,
        description="http(s) URL new work is posted to, HMAC-signed; none: email only",
    )


class CompanyCreated(CompanyDetail):
    webhook_secret: str | None = Field(
        description="the key webhook posts are signed with (HMAC-SHA256); shown this once"
    )


class ReviewIn(_Strict):
    action: review.ReviewAction
    reason: str = Field(max_length=rules.MAX_REASON + _SLACK)


class StaffCreate(_Strict):
    name: str = Field(max_length=rules.MAX_PERSON + _SLACK)


class StaffActive(_Strict):
    active: bool


class LoginCreate(_Strict):
    username: str = Field(max_length=32, pattern=USERNAME_PATTERN)


class WebhookIn(_Strict):
    url: str | None = Field(
        default=None, max_length=rules.MAX_URL + _SLACK, description="none or empty: email only"
    )


class WebhookSet(BaseModel):
    webhook_url: str | None
    webhook_secret: str | None = Field(
        description="the new key webhook posts are signed with; shown this once"
    )


class LoginCreated(BaseModel):
    id: int
    username: str
    company_id: int
    password: str = Field(description="generated; shown this once")


def invalid(exc: CompanyError) -> Invalid:
    return Invalid(str(exc), fields={exc.field: exc.message})


async def company_or_404(db: DbSession, company_id: int) -> Company:
    company = await db.get(Company, company_id)
    if company is None:
        raise NotFound(f"no company {company_id}")
    return company


@router.get("", summary="List companies, filtered by status, category and county")
async def list_companies(
    _: AdminUser,
    db: DbSession,
    status: Annotated[CompanyStatus | None, Query()] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    county: Annotated[str | None, Query(pattern=COUNTY_PATTERN)] = None,
) -> list[CompanyOut]:
    return await profile.list_companies(
        db, status=status.value if status else None, category=category, county=county
    )


@router.post(
    "",
    status_code=201,
    summary="Enter a company's application (it waits for review); a webhook secret, once",
    responses=documented(Invalid, Conflict),
)
async def apply(
    body: ApplicationIn, request: Request, ctx: AdminUser, db: DbSession, settings: AppSettings
) -> CompanyCreated:
    try:
        company = await applications.apply(
            db,
            body.model_dump(),
            plan=settings.number_plan,
            actor=ctx.user,
            ip=client_ip(request),
        )
    except applications.LicenceTaken as exc:
        raise Conflict(str(exc), fields={exc.field: exc.message}) from None
    except CompanyError as exc:
        raise invalid(exc) from None
    await db.commit()
    found = await profile.detail(db, company.id)
    return CompanyCreated(**found.model_dump(), webhook_secret=company.webhook_secret)


@router.get(
    "/{company_id}",
    summary="One company: what it applied with, staff, logins, facts",
    responses=documented(NotFound),
)
async def get_company(company_id: CompanyId, _: AdminUser, db: DbSession) -> CompanyDetail:
    try:
        return await profile.detail(db, company_id)
    except profile.NoSuchCompany:
        raise NotFound(f"no company {company_id}") from None


@router.post(
    "/{company_id}/review",
    summary="Approve, reject, suspend or reinstate a company, with a reason",
    responses=documented(NotFound, Invalid, Conflict),
)
async def review_company(
    company_id: CompanyId, body: ReviewIn, request: Request, ctx: AdminUser, db: DbSession
) -> CompanyDetail:
    company = await company_or_404(db, company_id)
    try:
        await suspension.review(
            db, company, body.action, body.reason, ctx.user, ip=client_ip(request)
        )
    except review.ReviewRefused as exc:
        raise Conflict(str(exc)) from None
    except CompanyError as exc:
        raise invalid(exc) from None
    await db.commit()
    return await profile.detail(db, company_id)


@router.post(
    "/{company_id}/staff",
    status_code=201,
    summary="Add a staff member to a company",
    responses=documented(NotFound, Invalid),
)
async def add_staff(
    company_id: CompanyId, body: StaffCreate, ctx: AdminUser, db: DbSession
) -> profile.StaffOut:
    company = await company_or_404(db, company_id)
    try:
        member = await staff.add_staff(db, company, body.name, ctx.user)
    except CompanyError as exc:
        raise invalid(exc) from None
    await db.commit()
    return profile.StaffOut(id=member.id, name=member.name, active=True, certifications=[])


@router.post(
    "/{company_id}/staff/{staff_id}/certifications",
    status_code=201,
    summary="Add a training or certification record to a staff member",
    responses=documented(NotFound, Invalid),
)
async def add_certification(
    company_id: CompanyId,
    staff_id: StaffId,
    body: CertificationIn,
    ctx: AdminUser,
    db: DbSession,
) -> profile.CertificationOut:
    company = await company_or_404(db, company_id)
    try:
        cert = await staff.add_certification(db, company, staff_id, body.model_dump(), ctx.user)
    except staff.NoSuchStaff:
        raise NotFound(f"no staff member {staff_id} in company {company_id}") from None
    except CompanyError as exc:
        raise invalid(exc) from None
    await db.commit()
    return profile.CertificationOut(
        id=cert.id,
        category=body.category,
        title=cert.title,
        issuer=cert.issuer,
        number=cert.number,
        valid_from=cert.valid_from,
        valid_until=cert.valid_until,
    )


@router.post(
    "/{company_id}/staff/{staff_id}/active",
    summary="Deactivate (or reactivate) a staff member",
    responses=documented(NotFound),
)
async def set_staff_active(
    company_id: CompanyId, staff_id: StaffId, body: StaffActive, ctx: AdminUser, db: DbSession
) -> profile.StaffOut:
    company = await company_or_404(db, company_id)
    try:
        await staff.set_staff_active(db, company, staff_id, body.active, ctx.user)
    except staff.NoSuchStaff:
        raise NotFound(f"no staff member {staff_id} in company {company_id}") from None
    await db.commit()
    found = await profile.detail(db, company_id)
    return next(s for s in found.staff if s.id == staff_id)


@router.post(
    "/{company_id}/logins",
    status_code=201,
    summary="Create a portal login for an approved company; its password, once",
    responses=documented(NotFound, Invalid, Conflict),
)
async def create_login(
    company_id: CompanyId, body: LoginCreate, ctx: AdminUser, db: DbSession
) -> LoginCreated:
    company = await company_or_404(db, company_id)
    try:
        made = await logins.create_login(db, company, body.username, ctx.user)
    except (logins.LoginRefused, accounts.AccountConflict) as exc:
        raise Conflict(str(exc)) from None
    except accounts.AccountError as exc:
        raise Invalid(str(exc)) from None
    await db.commit()
    return LoginCreated(
        id=made.user.id,
        username=made.user.username,
        company_id=company.id,
        password=made.password,
    )


@router.post(
    "/{company_id}/webhook",
    summary="Set or remove a company's webhook; a new signing secret, once",
    responses=documented(NotFound, Invalid),
)
async def set_webhook(
    company_id: CompanyId, body: WebhookIn, request: Request, ctx: AdminUser, db: DbSession
) -> WebhookSet:
    company = await company_or_404(db, company_id)
    try:
        secret = await webhooks.set_webhook(db, company, body.url, ctx.user, ip=client_ip(request))
    except CompanyError as exc:
        raise invalid(exc) from None
    await db.commit()
    return WebhookSet(webhook_url=company.webhook_url, webhook_secret=secret)
