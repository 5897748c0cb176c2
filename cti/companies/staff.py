"""A company's staff and their certifications after the application: the admin adds a
staff member, adds a certification, deactivates (or reactivates) a staff member. Each
change is audited; nothing is deleted (a deactivated member's records stay, they just no
longer count as the company being certified)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.companies import rules
from cti.companies.rules import CompanyError
from cti.store import audit
from cti.store.catalog import ServiceCategory
from cti.store.companies import Company, CompanyCategory, CompanyStaff, StaffCertification
from cti.store.users import User


class NoSuchStaff(LookupError):
    """No staff member of that id in this company."""


async def staff_of(db: AsyncSession, company: Company, staff_id: int) -> CompanyStaff:
    member = await db.get(CompanyStaff, staff_id)
    if member is None or member.company_id != company.id:
        raise NoSuchStaff(staff_id)
    return member


def _audit(db: AsyncSession, actor: User, action: str, company: Company, detail: dict) -> None:
    audit.record(
        db,
        actor_id=actor.id,
        actor_name=actor.username,
        action=action,
        object_type="company",
        object_id=company.id,
        detail=detail,
    )


async def add_staff(db: AsyncSession, company: Company, name: object, actor: User) -> CompanyStaff:
    """A new active staff member (not committed); raises :class:`CompanyError`."""
    clean = rules.text("name", name, rules.MAX_PERSON, required=True)
    count = await db.scalar(
        select(func.count()).select_from(CompanyStaff).where(CompanyStaff.company_id == company.id)
    )
    if count >= rules.MAX_STAFF:
        raise CompanyError(
            "name",
            f"a company lists at most {rules.MAX_STAFF} staff",
            reason="too_many",
            detail=rules.MAX_STAFF,
        )
    member = CompanyStaff(company_id=company.id, name=clean, active=True)
    db.add(member)
    await db.flush()
    _audit(db, actor, "company.staff_add", company, {"staff_id": member.id, "name": clean})
    return member


async def add_certification(
    db: AsyncSession,
    company: Company,
    staff_id: int,
    data: Mapping[str, Any],
    actor: User,
) -> StaffCertification:
    """A certification for one of the company's staff, for one of the categories the
    company serves (not committed). Raises :class:`NoSuchStaff`, :class:`CompanyError`."""
    member = await staff_of(db, company, staff_id)
    cert = rules.certification("certification", data)
    category_id = await db.scalar(
        select(ServiceCategory.id)
        .join(CompanyCategory, CompanyCategory.category_id == ServiceCategory.id)
        .where(CompanyCategory.company_id == company.id, ServiceCategory.code == cert.category)
    )
    if category_id is None:
        raise CompanyError(
            "certification.category",
            f"{cert.category!r} is not a category the company serves",
            reason="cert_category",
            detail=cert.category,
        )
    row = StaffCertification(
        staff_id=member.id,
        category_id=category_id,
        title=cert.title,
        issuer=cert.issuer,
        number=cert.number,
        valid_from=cert.valid_from,
        valid_until=cert.valid_until,
    )
    db.add(row)
    await db.flush()
    _audit(
        db,
        actor,
        "company.certification_add",
        company,
        {
            "staff_id": member.id,
            "certification_id": row.id,
            "category": cert.category,
            "title": cert.title,
            "valid_from": cert.valid_from.isoformat() if cert.valid_from else None,
            "valid_until": cert.valid_until.isoformat() if cert.valid_until else None,
        },
    )
    return row


async def set_staff_active(
    db: AsyncSession, company: Company, staff_id: int, active: bool, actor: User
) -> CompanyStaff:
    """Deactivate (or reactivate) a staff member (not committed); raises
    :class:`NoSuchStaff`."""
    member = await staff_of(db, company, staff_id)
    member.active = active
    _audit(
        db,
        actor,
        "company.staff_activate" if active else "company.staff_deactivate",
        company,
        {"staff_id": member.id, "name": member.name},
    )
    await db.flush()
    return member
