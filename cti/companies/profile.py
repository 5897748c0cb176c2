"""What the centre knows about a company, read for the admin: the list (filtered by status,
category, county) and one company with everything it applied with, its staff and their
certifications, its portal logins, the facts of its work and, when
:mod:`cti.dispatch.reputation` is there, its reputation computed from those facts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.companies.review import actions_for
from cti.store.catalog import ServiceCategory
from cti.store.companies import (
    Company,
    CompanyCategory,
    CompanyContact,
    CompanyCounty,
    CompanyStaff,
    CompanyStatus,
    Dispatch,
    DispatchStatus,
    StaffCertification,
)
from cti.store.counties import County
from cti.store.tickets import Ticket
from cti.store.users import User

LIST_LIMIT = 500
RECENT_DISPATCHES = 20


class CompanyOut(BaseModel):
    id: int
    name: str
    licence_number: str
    status: CompanyStatus
    address: str
    phone: str
    email: str
    webhook_url: str | None
    categories: list[str] = Field(description="top-level catalogue codes")
    counties: list[str] = Field(description="county codes")
    applied_at: datetime
    reviewed_at: datetime | None
    review_reason: str | None


class ContactOut(BaseModel):
    id: int
    name: str
    role: str
    phone: str
    email: str


class CertificationOut(BaseModel):
    id: int
    category: str
    title: str
    issuer: str
    number: str
    valid_from: date | None
    valid_until: date | None


class StaffOut(BaseModel):
    id: int
    name: str
    active: bool
    certifications: list[CertificationOut]


class LoginOut(BaseModel):
    id: int
    username: str
    active: bool


class DispatchOut(BaseModel):
    id: int
    ticket_number: str
    status: DispatchStatus
    dispatched_at: datetime
    accept_by: datetime
    finish_by: datetime
    done_at: datetime | None
    decline_reason: str | None


class CompanyDetail(CompanyOut):
    contacts: list[ContactOut]
    staff: list[StaffOut]
    logins: list[LoginOut]
    dispatches: dict[str, int] = Field(description="the company's dispatches, per status")
    recent_dispatches: list[DispatchOut] = Field(
        description=f"its last {RECENT_DISPATCHES} dispatches, newest first"
    )
    reputation: dict[str, Any] | None = Field(
        description="score, the facts it is computed from and why (when computed)"
    )
    review_actions: list[str] = Field(description="what an admin may do from its status")


class NoSuchCompany(LookupError):
    pass


async def _codes(db: AsyncSession, company_ids: list[int]) -> tuple[dict, dict]:
    categories: dict[int, list[str]] = {i: [] for i in company_ids}
    counties: dict[int, list[str]] = {i: [] for i in company_ids}
    for cid, code in await db.execute(
        select(CompanyCategory.company_id, ServiceCategory.code)
        .join(ServiceCategory, ServiceCategory.id == CompanyCategory.category_id)
        .where(CompanyCategory.company_id.in_(company_ids))
        .order_by(ServiceCategory.sort_order, ServiceCategory.code)
    ):
        categories[cid].append(code)
    for cid, code in await db.execute(
        select(CompanyCounty.company_id, County.code)
        .join(County, County.id == CompanyCounty.county_id)
        .where(CompanyCounty.company_id.in_(company_ids))
        .order_by(County.code)
    ):
        counties[cid].append(code)
    return categories, counties


def _out(company: Company, categories: list[str], counties: list[str]) -> dict[str, Any]:
    return {
        "id": company.id,
        "name": company.name,
        "licence_number": company.licence_number,
        "status": CompanyStatus(company.status),
        "address": company.address,
        "phone": company.phone,
        "email": company.email,
        "webhook_url": company.webhook_url,
        "categories": categories,
        "counties": counties,
        "applied_at": company.applied_at,
        "reviewed_at": company.reviewed_at,
        "review_reason": company.review_reason,
    }


async def list_companies(
    db: AsyncSession,
    *,
    status: str | None = None,
    category: str | None = None,
    county: str | None = None,
) -> list[CompanyOut]:
    """Companies by name, narrowed by status, a top-level category code it serves and a
    county code it serves (``None``: any); unknown values match nothing."""
    stmt = select(Company)
    if status:
        stmt = stmt.where(Company.status == status)
    if category:
        stmt = stmt.where(
            Company.id.in_(
                select(CompanyCategory.company_id)
                .join(ServiceCategory, ServiceCategory.id == CompanyCategory.category_id)
                .where(ServiceCategory.code == category)
            )
        )
    if county:
        stmt = stmt.where(
            Company.id.in_(
                select(CompanyCounty.company_id)
                .join(County, County.id == CompanyCounty.county_id)
                .where(County.code == county)
            )
        )
    companies = (await db.scalars(stmt.order_by(Company.name, Company.id).limit(LIST_LIMIT))).all()
    categories, counties = await _codes(db, [c.id for c in companies])
    return [CompanyOut(**_out(c, categories[c.id], counties[c.id])) for c in companies]


async def reputation_of(db: AsyncSession, company_id: int) -> dict[str, Any] | None:
    """The company's reputation from :mod:`cti.dispatch.reputation`, or None when that
    module is not part of this installation."""
    try:
        from cti.dispatch import reputation
    except ImportError:
        return None
    found = (await reputation.reputations(db, [company_id])).get(company_id)
    return found.as_dict() if found is not None else None


async def detail(db: AsyncSession, company_id: int) -> CompanyDetail:
    company = await db.get(Company, company_id)
    if company is None:
        raise NoSuchCompany(company_id)
    categories, counties = await _codes(db, [company.id])
    contacts = (
        await db.scalars(
            select(CompanyContact)
            .where(CompanyContact.company_id == company.id)
            .order_by(CompanyContact.id)
        )
    ).all()
    staff = (
        await db.scalars(
            select(CompanyStaff)
            .where(CompanyStaff.company_id == company.id)
            .order_by(CompanyStaff.active.desc(), CompanyStaff.name, CompanyStaff.id)
        )
    ).all()
    certs: dict[int, list[CertificationOut]] = {s.id: [] for s in staff}
    for cert, code in await db.execute(
        select(StaffCertification, ServiceCategory.code)
        .join(ServiceCategory, ServiceCategory.id == StaffCertification.category_id)
        .where(StaffCertification.staff_id.in_([s.id for s in staff]))
        .order_by(StaffCertification.id)
    ):
        certs[cert.staff_id].append(
            CertificationOut(
                id=cert.id,
                category=code,
                title=cert.title,
                issuer=cert.issuer,
                number=cert.number,
                valid_from=cert.valid_from,
                valid_until=cert.valid_until,
            )
        )
    logins = (
        await db.scalars(select(User).where(User.company_id == company.id).order_by(User.username))
    ).all()
    counts = dict(
        (
            await db.execute(
                select(Dispatch.status, func.count())
                .where(Dispatch.company_id == company.id)
                .group_by(Dispatch.status)
            )
        ).all()
    )
    recent = (
        await db.execute(
            select(Dispatch, Ticket.number)
            .join(Ticket, Ticket.id == Dispatch.ticket_id)
            .where(Dispatch.company_id == company.id)
            .order_by(Dispatch.dispatched_at.desc(), Dispatch.id.desc())
            .limit(RECENT_DISPATCHES)
        )
    ).all()
    return CompanyDetail(
        **_out(company, categories[company.id], counties[company.id]),
        contacts=[
            ContactOut(id=c.id, name=c.name, role=c.role, phone=c.phone, email=c.email)
            for c in contacts
        ],
        staff=[
            StaffOut(id=s.id, name=s.name, active=s.active, certifications=certs[s.id])
            for s in staff
        ],
        logins=[LoginOut(id=u.id, username=u.username, active=u.active) for u in logins],
        dispatches={s.value: counts.get(s.value, 0) for s in DispatchStatus},
        recent_dispatches=[
            DispatchOut(
                id=d.id,
                ticket_number=number,
                status=DispatchStatus(d.status),
                dispatched_at=d.dispatched_at,
                accept_by=d.accept_by,
                finish_by=d.finish_by,
                done_at=d.done_at,
                decline_reason=d.decline_reason,
            )
            for d, number in recent
        ],
        reputation=await reputation_of(db, company.id),
        review_actions=[a.value for a in actions_for(company.status)],
    )
