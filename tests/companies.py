"""Test data for service companies and their jobs, made the way the product makes them: an
application through :func:`cti.companies.applications.apply`, an admin's approval, a
ticket through :func:`cti.tickets.service.create_ticket`, offered to the company by
:func:`cti.dispatch.service.dispatch_ticket`. Names and numbers are unique per call (the
test run shares one database)."""

from __future__ import annotations

import secrets
from typing import Any

from cti import accounts
from cti.citizens.service import create_citizen
from cti.companies import applications, review
from cti.dispatch.service import dispatch_ticket
from cti.numbers import NumberPlan
from cti.store.companies import Company
from cti.store.users import Role
from cti.tickets.service import create_ticket

CATEGORY = "maintenance"
COUNTY = "north"


def application(**changes: Any) -> dict[str, Any]:
    """A complete, valid application (licence number and name unique)."""
    tag = secrets.token_hex(4)
    data: dict[str, Any] = {
        "name": f"Fix-It {tag}",
        "licence_number": f"LIC-{tag}",
        "address": "3 Mill Lane, North County",
        "phone": "0551 555 0199",
        "email": f"jobs-{tag}@fixit.example.org",
        "categories": [CATEGORY],
        "counties": [COUNTY],
        "contacts": [{"name": "Wang Fang", "role": "dispatcher", "phone": "13800138001"}],
        "staff": [
            {
                "name": "Li Qiang",
                "certifications": [{"category": CATEGORY, "title": "Licensed plumber"}],
            }
        ],
    }
    data.update(changes)
    return data


async def _system_user(db, role: Role) -> Any:
    user = await accounts.create_user(
        db,
        username=f"{role.value}-{secrets.token_hex(3)}",
        role=role.value,
        password="correct horse battery",
    )
    await db.flush()
    return user


async def applied_company(session_factory, **changes: Any) -> int:
    """A company that applied and waits for review; its id."""
    async with session_factory() as db:
        company = await applications.apply(db, application(**changes))
        await db.commit()
        return company.id


async def approved_company(session_factory, **changes: Any) -> int:
    """An applied and approved company; its id."""
    company_id = await applied_company(session_factory, **changes)
    await review_company(session_factory, company_id, "approve")
    return company_id


async def review_company(session_factory, company_id: int, action: str) -> None:
    """An admin's review of the company (approve, reject, suspend, reinstate)."""
    async with session_factory() as db:
        admin = await _system_user(db, Role.ADMIN)
        company = await db.get(Company, company_id)
        await review.review(db, company, action, f"{action}: for the test", admin)
        await db.commit()


async def offered_job(
    session_factory, company_id: int, *, description: str = "The kitchen tap drips"
) -> tuple[int, str]:
    """A ticket of a citizen with a phone, dispatched to the company: (dispatch id,
    ticket number)."""
    async with session_factory() as db:
        agent = await _system_user(db, Role.AGENT)
        citizen = await create_citizen(
            db,
            name=f"Chen Jie {secrets.token_hex(2)}",
            phones=["13912345678"],
            plan=NumberPlan(),
            actor=agent,
        )
        ticket = await create_ticket(
            db,
            author=agent,
            category_code=CATEGORY,
            description=description,
            citizen_id=citizen.id,
            county_code=COUNTY,
            address="7 Pine Street, flat 2",
        )
        dispatch = await dispatch_ticket(db, ticket, company_id, agent)
        await db.commit()
        return dispatch.id, ticket.number
