"""Counties, companies, users and tickets made up per test (the run shares one database:
each test makes a county of its own, so another test's companies never serve it)."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cti import accounts
from cti.store.catalog import ServiceCategory
from cti.store.companies import (
    Company,
    CompanyCategory,
    CompanyCounty,
    CompanyStaff,
    CompanyStatus,
    StaffCertification,
)
from cti.store.counties import County
from cti.store.tickets import Ticket
from cti.store.users import User
from cti.tickets.service import create_ticket
from tests.conftest import PASSWORD

CATEGORY = "maintenance"


async def make_county(
    db: AsyncSession,
    *,
    auto_dispatch: bool = False,
    accept_within_minutes: int = 120,
    finish_within_hours: int = 72,
    time_zone: str = "UTC",
) -> County:
    tag = secrets.token_hex(4)
    county = County(
        code=f"d{tag}",
        name=f"Dispatch county {tag}",
        queue_name=f"county-d{tag}",
        time_zone=time_zone,
        auto_dispatch=auto_dispatch,
        accept_within_minutes=accept_within_minutes,
        finish_within_hours=finish_within_hours,
    )
    db.add(county)
    await db.flush()
    return county


async def category_id(db: AsyncSession, code: str = CATEGORY) -> int:
    return (await db.scalars(select(ServiceCategory.id).where(ServiceCategory.code == code))).one()


async def make_company(
    db: AsyncSession,
    counties: list[County],
    *,
    category: str = CATEGORY,
    status: CompanyStatus = CompanyStatus.APPROVED,
    certified: bool = True,
    valid_until: date | None = None,
    valid_from: date | None = None,
    staff_active: bool = True,
    name: str | None = None,
    email: str = "",
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
) -> Company:
    tag = secrets.token_hex(4)
    company = Company(
        name=name or f"Company {tag}",
        licence_number=f"LIC-{tag}",
        status=status.value,
        email=email,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
    )
    db.add(company)
    await db.flush()
    cat = await category_id(db, category)
    db.add(CompanyCategory(company_id=company.id, category_id=cat))
    for county in counties:
        db.add(CompanyCounty(company_id=company.id, county_id=county.id))
    staff = CompanyStaff(company_id=company.id, name=f"Fitter {tag}", active=staff_active)
    db.add(staff)
    await db.flush()
    if certified:
        db.add(
            StaffCertification(
                staff_id=staff.id,
                category_id=cat,
                title="Licensed fitter",
                valid_from=valid_from,
                valid_until=valid_until,
            )
        )
    await db.flush()
    return company


async def make_account(
    db: AsyncSession, role: str, *, county: str | None = None, company_id: int | None = None
) -> User:
    return await accounts.create_user(
        db,
        username=f"{role}-{secrets.token_hex(3)}",
        role=role,
        password=PASSWORD,
        county=county,
        company_id=company_id,
    )


async def make_ticket(
    db: AsyncSession, author: User, county: County | None, *, category: str = CATEGORY
) -> Ticket:
    return await create_ticket(
        db,
        author=author,
        category_code=category,
        description="Boiler leaks\r\nSubject: injected <b>x</b>",
        county_code=county.code if county else None,
        address="12 Hostile Road\nBcc: evil@example.com",
    )


def yesterday() -> date:
    return date.today() - timedelta(days=1)
