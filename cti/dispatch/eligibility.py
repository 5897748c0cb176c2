"""Which companies may take a ticket, and in what order they are suggested.

A company is eligible for a ticket when it is approved, serves the ticket's county and its
top-level category, and has active staff with a certification for that category (or the
ticket's sub-category) valid today in the county's time zone. Applied, rejected and
suspended companies are never suggested nor dispatchable.

:func:`check` (pure) says why one company is not eligible; :func:`order` (pure) ranks
the eligible ones; :func:`suggest` reads what both need.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.dispatch.reputation import Reputation, reputations
from cti.store.companies import (
    ACTIVE_DISPATCH_STATUSES,
    Company,
    CompanyCategory,
    CompanyCounty,
    CompanyStaff,
    CompanyStatus,
    Dispatch,
    StaffCertification,
)
from cti.store.counties import County
from cti.store.tickets import Ticket


@dataclass(frozen=True, slots=True)
class Standing:
    """What eligibility looks at for one company and one ticket."""

    status: str
    serves_county: bool
    serves_category: bool
    certified_staff: int


def check(standing: Standing) -> str | None:
    """Why the company cannot take the ticket, in words; None when it can."""
    if standing.status != CompanyStatus.APPROVED.value:
        return f"the company is not approved (it is {standing.status})"
    if not standing.serves_county:
        return "the company does not serve the ticket's county"
    if not standing.serves_category:
        return "the company does not offer the ticket's category"
    if standing.certified_staff == 0:
        return "the company has no active staff certified for the category today"
    return None


@dataclass(frozen=True, slots=True)
class Candidate:
    company_id: int
    name: str
    reputation: Reputation
    #: Its dispatches still offered, accepted or in service.
    open_load: int


@dataclass(frozen=True, slots=True)
class Suggestion:
    company_id: int
    name: str
    rank: int
    reputation: Reputation
    open_load: int
    #: Why it is where it is, for the agent.
    why: str

    def reasons(self) -> dict[str, Any]:
        """What :class:`cti.store.companies.Dispatch` keeps in ``reasons``."""
        return {
            "rank": self.rank,
            "reputation": self.reputation.as_dict(),
            "open_load": self.open_load,
            "why": self.why,
        }


def order(candidates: Iterable[Candidate]) -> list[Suggestion]:
    """Best reputation first; between equal reputations the company with fewer open jobs
    first (then by name and id, so the order is stable). Each with a ``why``."""
    ranked = sorted(
        candidates,
        key=lambda c: (-c.reputation.score, c.open_load, c.name.casefold(), c.company_id),
    )
    out: list[Suggestion] = []
    for rank, c in enumerate(ranked, start=1):
        load = {0: "no open jobs", 1: "1 open job"}.get(c.open_load, f"{c.open_load} open jobs")
        why = f"reputation {c.reputation.score:.1f} ({c.reputation.explanation}); {load}"
        if rank > 1 and ranked[rank - 2].reputation.score == c.reputation.score:
            why += "; same reputation as the one above, which has fewer or equal open jobs"
        out.append(
            Suggestion(
                company_id=c.company_id,
                name=c.name,
                rank=rank,
                reputation=c.reputation,
                open_load=c.open_load,
                why=why,
            )
        )
    return out


async def today_in(db: AsyncSession, county_id: int | None, now: datetime | None = None) -> date:
    """Today's date where the county is (certifications are valid by the local day)."""
    now = now or datetime.now(UTC)
    zone = await db.scalar(select(County.time_zone).where(County.id == county_id))
    try:
        return now.astimezone(ZoneInfo(zone or "UTC")).date()
    except (KeyError, ValueError):
        return now.astimezone(UTC).date()


def _categories(ticket: Ticket) -> list[int]:
    return [c for c in (ticket.category_id, ticket.subcategory_id) if c is not None]


def _certified(ticket: Ticket, today: date) -> Any:
    """Count of the company's active staff certified today for the ticket's category."""
    return (
        select(func.count(func.distinct(CompanyStaff.id)))
        .join(StaffCertification, StaffCertification.staff_id == CompanyStaff.id)
        .where(
            CompanyStaff.company_id == Company.id,
            CompanyStaff.active,
            StaffCertification.category_id.in_(_categories(ticket)),
            or_(StaffCertification.valid_from.is_(None), StaffCertification.valid_from <= today),
            or_(StaffCertification.valid_until.is_(None), StaffCertification.valid_until >= today),
        )
        .correlate(Company)
        .scalar_subquery()
    )


def _serves(ticket: Ticket) -> tuple[Any, Any]:
    county = exists().where(
        CompanyCounty.company_id == Company.id, CompanyCounty.county_id == ticket.county_id
    )
    category = exists().where(
        CompanyCategory.company_id == Company.id,
        CompanyCategory.category_id == ticket.category_id,
    )
    return county, category


async def standing(db: AsyncSession, ticket: Ticket, company_id: int) -> Standing | None:
    """Eligibility facts of one company for ``ticket``; None when there is no such company."""
    today = await today_in(db, ticket.county_id)
    county, category = _serves(ticket)
    row = (
        await db.execute(
            select(Company.status, county, category, _certified(ticket, today)).where(
                Company.id == company_id
            )
        )
    ).first()
    if row is None:
        return None
    return Standing(row[0], bool(row[1]), bool(row[2]), int(row[3] or 0))


async def open_loads(db: AsyncSession, company_ids: Iterable[int]) -> dict[int, int]:
    ids = sorted(set(company_ids))
    if not ids:
        return {}
    rows = await db.execute(
        select(Dispatch.company_id, func.count())
        .where(
            Dispatch.company_id.in_(ids),
            Dispatch.status.in_([s.value for s in ACTIVE_DISPATCH_STATUSES]),
        )
        .group_by(Dispatch.company_id)
    )
    loads = dict.fromkeys(ids, 0)
    loads.update({cid: n for cid, n in rows})
    return loads


async def candidates(
    db: AsyncSession, ticket: Ticket, *, only: int | None = None
) -> list[Candidate]:
    """The eligible companies for ``ticket`` with their reputation and load (``only``: just
    that company, when it is eligible). None for a ticket without county or category."""
    if ticket.county_id is None or ticket.category_id is None:
        return []
    today = await today_in(db, ticket.county_id)
    county, category = _serves(ticket)
    query = select(Company.id, Company.name).where(
        Company.status == CompanyStatus.APPROVED.value,
        and_(county, category),
        _certified(ticket, today) > 0,
    )
    if only is not None:
        query = query.where(Company.id == only)
    rows = (await db.execute(query)).all()
    ids = [cid for cid, _ in rows]
    reps = await reputations(db, ids)
    loads = await open_loads(db, ids)
    return [Candidate(cid, name, reps[cid], loads[cid]) for cid, name in rows]


async def suggest(db: AsyncSession, ticket: Ticket) -> list[Suggestion]:
    """The companies that may take ``ticket``, best first, each with why."""
    return order(await candidates(db, ticket))
