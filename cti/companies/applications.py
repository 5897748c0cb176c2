"""A company's application to join: checked field by field (:mod:`cti.companies.rules`),
then against the database (licence number unused, categories and counties that exist),
and stored as an ``applied`` company with its categories, counties, contacts, staff and
certifications, all in the caller's transaction.

Who calls it does not matter: an admin typing a paper application in today, the public
web site later; the same checks apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cti.companies import rules
from cti.companies.rules import CompanyError
from cti.numbers import NumberPlan
from cti.store import audit
from cti.store.catalog import ServiceCategory
from cti.store.companies import (
    Company,
    CompanyCategory,
    CompanyContact,
    CompanyCounty,
    CompanyStaff,
    CompanyStatus,
    StaffCertification,
)
from cti.store.counties import County
from cti.store.users import User


class LicenceTaken(CompanyError):
    """The licence number is another company's (a conflict, not a typing error)."""


async def top_categories(db: AsyncSession, wanted: Iterable[str]) -> dict[str, int]:
    """code -> id of the active top-level catalogue categories among ``wanted``; raises
    :class:`CompanyError` for the first code that names none."""
    wanted = tuple(wanted)
    found = dict(
        (
            await db.execute(
                select(ServiceCategory.code, ServiceCategory.id).where(
                    ServiceCategory.code.in_(wanted),
                    ServiceCategory.parent_id.is_(None),
                    ServiceCategory.active,
                )
            )
        ).all()
    )
    for i, wanted_code in enumerate(wanted):
        if wanted_code not in found:
            raise CompanyError(
                f"categories[{i}]",
                f"{wanted_code!r} is not a category of the catalogue",
                reason="no_category",
                detail=wanted_code,
            )
    return found


async def live_counties(db: AsyncSession, wanted: Iterable[str]) -> dict[str, int]:
    """code -> id of the counties among ``wanted`` that are not retired."""
    wanted = tuple(wanted)
    found = dict(
        (
            await db.execute(
                select(County.code, County.id).where(
                    County.code.in_(wanted), County.retired_at.is_(None)
                )
            )
        ).all()
    )
    for i, wanted_code in enumerate(wanted):
        if wanted_code not in found:
            raise CompanyError(
                f"counties[{i}]",
                f"{wanted_code!r} is not a county served here",
                reason="no_county",
                detail=wanted_code,
            )
    return found


async def licence_taken(db: AsyncSession, number: str) -> bool:
    """Licence numbers are compared without regard to case: ``ab-1`` and ``AB-1`` are the
    same licence."""
    return bool(
        await db.scalar(
            select(Company.id).where(func.upper(Company.licence_number) == number.upper())
        )
    )


async def apply(
    db: AsyncSession,
    data: Mapping[str, Any],
    *,
    plan: NumberPlan = NumberPlan(),  # noqa: B008
    actor: User | None = None,
    ip: str | None = None,
) -> Company:
    """Validate ``data`` (the fields of :class:`rules.Application`) and add the company as
    ``applied`` with everything it applied with; audited as ``company.apply`` (not
    committed). Raises :class:`CompanyError` naming the first wrong field,
    :class:`LicenceTaken` when the licence number is another company's.

    With a webhook URL, a new signing secret is generated: it is on the returned
    company's ``webhook_secret``, for the caller to show once."""
    app = rules.application(data, plan)
    if await licence_taken(db, app.licence_number):
        raise LicenceTaken(
            "licence_number", "another company has this licence number", reason="taken"
        )
    categories = await top_categories(db, app.categories)
    counties = await live_counties(db, app.counties)
    company = Company(
        name=app.name,
        licence_number=app.licence_number,
        address=app.address,
        phone=app.phone,
        email=app.email,
        webhook_url=app.webhook_url,
        webhook_secret=rules.new_webhook_secret() if app.webhook_url else None,
        status=CompanyStatus.APPLIED.value,
    )
    try:
        # A savepoint: another application with this licence may have committed since the
        # check above; the unique constraint decides, and the session stays usable.
        async with db.begin_nested():
            db.add(company)
            await db.flush()
    except IntegrityError:
        raise LicenceTaken(
            "licence_number", "another company has this licence number", reason="taken"
        ) from None
    db.add_all(CompanyCategory(company_id=company.id, category_id=i) for i in categories.values())
    db.add_all(CompanyCounty(company_id=company.id, county_id=i) for i in counties.values())
    db.add_all(
        CompanyContact(
            company_id=company.id, name=c.name, role=c.role, phone=c.phone, email=c.email
        )
        for c in app.contacts
    )
    for member in app.staff:
        staff = CompanyStaff(company_id=company.id, name=member.name, active=True)
        db.add(staff)
        await db.flush()
        db.add_all(
            StaffCertification(
                staff_id=staff.id,
                category_id=categories[cert.category],
                title=cert.title,
                issuer=cert.issuer,
                number=cert.number,
                valid_from=cert.valid_from,
                valid_until=cert.valid_until,
            )
            for cert in member.certifications
        )
    audit.record(
        db,
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "public",
        action="company.apply",
        object_type="company",
        object_id=company.id,
        detail={
            "name": app.name,
            "licence_number": app.licence_number,
            "categories": list(app.categories),
            "counties": list(app.counties),
            "staff": len(app.staff),
            "webhook": app.webhook_url is not None,
        },
        ip=ip,
    )
    await db.flush()
    return company
