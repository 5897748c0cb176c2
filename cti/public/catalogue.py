"""What the public site tells about each county: the catalogue categories the centre
arranges there, the approved companies serving each with their public rating (the
reputation of ``cti.dispatch.reputation``, computed from revisits, timeliness, declines
and upheld complaints), the opening hours from the routing rules, and the hotline numbers
(the DIDs that route to the county).

A county with no categories chosen (``county_categories``) arranges the whole active
catalogue, as the agents' ticket form offers it. The pure parts (:func:`hotlines_for`,
:func:`opening_hours`, :func:`upcoming_holidays`) read a ``RuleSet``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.dispatch.reputation import reputations
from cti.routing.repo import load_rules
from cti.routing.rules import WEEKDAYS, CountyPolicy, RuleSet
from cti.store.catalog import ServiceCategory
from cti.store.companies import Company, CompanyCategory, CompanyCounty, CompanyStatus
from cti.store.counties import County, CountyCategory


@dataclass(frozen=True, slots=True)
class CompanyCard:
    name: str
    #: 0-100 (50: nothing known yet).
    score: float
    revisits: int
    #: Mean revisit score 1-5, None without revisits.
    satisfaction: float | None


@dataclass(frozen=True, slots=True)
class CategoryCard:
    code: str
    name: str
    items: tuple[tuple[str, str], ...]
    companies: tuple[CompanyCard, ...] = ()


@dataclass(frozen=True, slots=True)
class HoursLine:
    days: tuple[str, ...]
    start: str
    end: str


@dataclass(frozen=True, slots=True)
class CountyCard:
    code: str
    name: str
    time_zone: str
    hotlines: tuple[str, ...]
    #: None: no hours set, calls are taken at any time.
    hours: tuple[HoursLine, ...] | None
    holidays: tuple[date, ...]
    categories: tuple[CategoryCard, ...] = field(default=())


# --- pure -------------------------------------------------------------------------------


def hotlines_for(rules: RuleSet, county: str) -> tuple[str, ...]:
    """The DIDs whose calls go to ``county`` by their own rule; for the default county also
    the DIDs without a county of their own (unless a prefix sends the caller elsewhere)."""
    out = [d.did for d in rules.dids if d.county == county]
    if rules.default_county == county:
        out += [d.did for d in rules.dids if d.county is None]
    return tuple(dict.fromkeys(out))


def _policy(rules: RuleSet, county: str) -> CountyPolicy | None:
    return next((p for p in rules.counties if p.county == county), None)


def opening_hours(rules: RuleSet, county: str) -> tuple[HoursLine, ...] | None:
    """The county's weekly windows in weekday order (None: no hours, always open)."""
    policy = _policy(rules, county)
    if policy is None or not policy.has_hours:
        return None
    lines = [HoursLine(w.days, w.start, w.end) for w in policy.hours]
    return tuple(sorted(lines, key=lambda h: (WEEKDAYS.index(h.days[0]), h.start)))


def upcoming_holidays(
    rules: RuleSet, county: str, today: date, limit: int = 10
) -> tuple[date, ...]:
    policy = _policy(rules, county)
    if policy is None:
        return ()
    return tuple(d for d in policy.holidays if d >= today)[:limit]


# --- reads ------------------------------------------------------------------------------


#: SQL saying whether the catalogue entry ``c`` (an alias of ``service_categories``) is
#: arranged in the county ``co`` (an alias of ``counties``): its top-level category is one
#: the county chose, or any active one when the county chose none (as :func:`arranged_in`
#: says). The order's look-up (``cti.public.orders``) asks it on every order.
ARRANGED_SQL = """
    CASE WHEN EXISTS (
             SELECT 1 FROM county_categories cc
             JOIN service_categories t ON t.id = cc.category_id AND t.active
             WHERE cc.county_id = co.id)
         THEN EXISTS (
             SELECT 1 FROM county_categories cc
             WHERE cc.county_id = co.id AND cc.category_id = coalesce(c.parent_id, c.id))
         ELSE EXISTS (
             SELECT 1 FROM service_categories t
             WHERE t.id = coalesce(c.parent_id, c.id) AND t.active)
    END"""


async def arranged_in(db: AsyncSession, county_id: int) -> set[int]:
    """Ids of the active top-level categories arranged in the county."""
    chosen = set(
        await db.scalars(
            select(CountyCategory.category_id)
            .join(ServiceCategory, ServiceCategory.id == CountyCategory.category_id)
            .where(CountyCategory.county_id == county_id, ServiceCategory.active)
        )
    )
    if chosen:
        return chosen
    return set(
        await db.scalars(
            select(ServiceCategory.id).where(
                ServiceCategory.parent_id.is_(None), ServiceCategory.active
            )
        )
    )


async def live_counties(db: AsyncSession) -> list[County]:
    return list(
        await db.scalars(select(County).where(County.retired_at.is_(None)).order_by(County.name))
    )


async def category_tree(db: AsyncSession) -> list[tuple[ServiceCategory, list[ServiceCategory]]]:
    """The active catalogue: top-level categories in order, each with its active items."""
    rows = list(
        await db.scalars(
            select(ServiceCategory)
            .where(ServiceCategory.active)
            .order_by(ServiceCategory.sort_order, ServiceCategory.code)
        )
    )
    tops = [r for r in rows if r.parent_id is None]
    return [(t, [r for r in rows if r.parent_id == t.id]) for t in tops]


async def _companies(
    db: AsyncSession, county_id: int, category_ids: Iterable[int]
) -> dict[int, list[CompanyCard]]:
    """category id -> approved companies serving it in the county, best rated first."""
    rows = (
        await db.execute(
            select(CompanyCategory.category_id, Company.id, Company.name)
            .join(Company, Company.id == CompanyCategory.company_id)
            .join(CompanyCounty, CompanyCounty.company_id == Company.id)
            .where(
                Company.status == CompanyStatus.APPROVED.value,
                CompanyCounty.county_id == county_id,
                CompanyCategory.category_id.in_(list(category_ids)),
            )
        )
    ).all()
    found = await reputations(db, {company_id for _, company_id, _ in rows})
    out: dict[int, list[CompanyCard]] = {}
    for category_id, company_id, name in rows:
        rep = found.get(company_id)
        out.setdefault(category_id, []).append(
            CompanyCard(
                name=name,
                score=rep.score if rep else 50.0,
                revisits=rep.facts.revisits if rep else 0,
                satisfaction=rep.facts.mean_satisfaction if rep else None,
            )
        )
    for cards in out.values():
        cards.sort(key=lambda c: (-c.score, c.name))
    return out


def _card(county: County, rules: RuleSet, today: date, categories=()) -> CountyCard:
    return CountyCard(
        code=county.code,
        name=county.name,
        time_zone=county.time_zone,
        hotlines=hotlines_for(rules, county.code),
        hours=opening_hours(rules, county.code),
        holidays=upcoming_holidays(rules, county.code, today),
        categories=tuple(categories),
    )


async def overview(db: AsyncSession, today: date) -> list[CountyCard]:
    """Every county served, with its hotlines and hours (no categories: see ``county``)."""
    rules = await load_rules(db)
    return [_card(c, rules, today) for c in await live_counties(db)]


async def county(db: AsyncSession, code: str, today: date) -> CountyCard | None:
    """The county's whole card, or None for a code that names no county served."""
    found = await db.scalar(select(County).where(County.code == code, County.retired_at.is_(None)))
    if found is None:
        return None
    arranged = await arranged_in(db, found.id)
    tree = [(top, items) for top, items in await category_tree(db) if top.id in arranged]
    companies = await _companies(db, found.id, [top.id for top, _ in tree])
    categories = [
        CategoryCard(
            code=top.code,
            name=top.name,
            items=tuple((i.code, i.name) for i in items),
            companies=tuple(companies.get(top.id, ())),
        )
        for top, items in tree
    ]
    return _card(found, await load_rules(db), today, categories)
