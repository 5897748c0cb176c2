"""Counties and the catalogue in the database: read, add, change, retire, delete.

Each change adds its audit entry to the caller's transaction (``cti.store.audit.record``)
and flushes; the caller commits, or rolls back on ``FormErrors``. Checks of what was typed
are in ``cti.counties.validate``; here are the checks that need the database (what points
at a county, which codes are taken).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cti.counties.validate import (
    OWN_TABLES,
    CountySettings,
    FormErrors,
    NewCounty,
    WallboardSettings,
    check_category,
    delete_refusal,
    moved,
    retire_refusal,
)
from cti.routing.queues import main_templates
from cti.routing.repo import queues_in_conf
from cti.store import audit
from cti.store.base import Base, utcnow
from cti.store.catalog import ServiceCategory
from cti.store.counties import County, CountyCategory
from cti.store.reports import CountyServiceLevel
from cti.store.users import User


@dataclass(frozen=True, slots=True)
class Who:
    """Who makes a change, for the audit entry."""

    user: User
    ip: str | None = None


def _audit(db: AsyncSession, who: Who, action: str, kind: str, obj: object, **detail: Any) -> None:
    audit.record(
        db,
        actor_id=who.user.id,
        actor_name=who.user.username,
        action=action,
        object_type=kind,
        object_id=obj,
        detail=detail,
        ip=who.ip,
    )


# --- counties: reading ---------------------------------------------------------------------


async def list_counties(db: AsyncSession) -> list[tuple[County, list[str]]]:
    """Every county (retired ones too) with the codes of the categories it offers."""
    counties = list(await db.scalars(select(County).order_by(County.code)))
    rows = await db.execute(
        select(CountyCategory.county_id, ServiceCategory.code)
        .join(ServiceCategory, ServiceCategory.id == CountyCategory.category_id)
        .order_by(ServiceCategory.sort_order, ServiceCategory.code)
    )
    offered: dict[int, list[str]] = {}
    for county_id, code in rows:
        offered.setdefault(county_id, []).append(code)
    return [(c, offered.get(c.id, [])) for c in counties]


async def county_by_code(db: AsyncSession, code: str) -> County | None:
    return await db.scalar(select(County).where(County.code == code))


async def top_categories(db: AsyncSession) -> list[ServiceCategory]:
    """The catalogue's top-level categories (inactive ones too), in catalogue order."""
    return list(
        await db.scalars(
            select(ServiceCategory)
            .where(ServiceCategory.parent_id.is_(None))
            .order_by(ServiceCategory.sort_order, ServiceCategory.code)
        )
    )


async def offered(db: AsyncSession, county: County) -> set[str]:
    return set(
        await db.scalars(
            select(ServiceCategory.code)
            .join(CountyCategory, CountyCategory.category_id == ServiceCategory.id)
            .where(CountyCategory.county_id == county.id)
        )
    )


def _county_references() -> list[tuple[Any, Any]]:
    """(table, column) of every foreign key to ``counties.id`` but the county's own
    configuration, from the models: a table added later is counted without a change here."""
    found = []
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if (
                fk.column.table.name == "counties"
                and fk.column.name == "id"
                and table.name not in OWN_TABLES
            ):
                found.append((table, fk.parent))
    return found


async def usage(db: AsyncSession, county: County) -> dict[str, int]:
    """Per table, how many rows point at ``county`` (tables with none left out)."""
    counts: dict[str, int] = {}
    for table, column in _county_references():
        n = await db.scalar(select(func.count()).select_from(table).where(column == county.id))
        if n:
            counts[table.name] = counts.get(table.name, 0) + n
    return counts


@dataclass(frozen=True, slots=True)
class QueuesConf:
    """What queues.conf holds that a new county queue must fit with."""

    templates: frozenset[str]
    queues: frozenset[str]


def queues_conf(conf_dir: Path) -> QueuesConf:
    return QueuesConf(main_templates(conf_dir), queues_in_conf(conf_dir))


async def queue_map(db: AsyncSession) -> dict[str, str]:
    """County code -> queue name, every county."""
    return {code: q for code, q in await db.execute(select(County.code, County.queue_name))}


async def known_categories(db: AsyncSession) -> dict[str, bool]:
    """Top-level category code -> active."""
    return {c.code: c.active for c in await top_categories(db)}


# --- counties: changing --------------------------------------------------------------------


async def _set_categories(db: AsyncSession, county: County, codes: frozenset[str]) -> None:
    ids = dict(
        (
            await db.execute(
                select(ServiceCategory.code, ServiceCategory.id).where(
                    ServiceCategory.parent_id.is_(None), ServiceCategory.code.in_(codes)
                )
            )
        ).all()
    )
    await db.execute(delete(CountyCategory).where(CountyCategory.county_id == county.id))
    for code in sorted(codes):
        db.add(CountyCategory(county_id=county.id, category_id=ids[code]))


def _apply_settings(county: County, s: CountySettings) -> None:
    county.name = s.name
    county.time_zone = s.time_zone
    county.auto_dispatch = s.auto_dispatch
    county.accept_within_minutes = s.accept_within_minutes
    county.finish_within_hours = s.finish_within_hours


def _settings_of(county: County, categories: set[str] | frozenset[str]) -> dict[str, Any]:
    return {
        "name": county.name,
        "time_zone": county.time_zone,
        "auto_dispatch": county.auto_dispatch,
        "accept_within_minutes": county.accept_within_minutes,
        "finish_within_hours": county.finish_within_hours,
        "categories": sorted(categories),
    }


async def create_county(db: AsyncSession, new: NewCounty, who: Who) -> County:
    county = County(code=new.code, queue_name=new.queue)
    _apply_settings(county, new.settings)
    db.add(county)
    try:
        await db.flush()
    except IntegrityError:
        # Added by someone else since the form was checked.
        raise FormErrors({"code": "that code or queue was just taken"}) from None
    await _set_categories(db, county, new.settings.categories)
    _audit(
        db,
        who,
        "county.create",
        "county",
        county.code,
        queue=county.queue_name,
        **_settings_of(county, new.settings.categories),
    )
    await db.flush()
    return county


async def update_county(db: AsyncSession, county: County, new: CountySettings, who: Who) -> None:
    """Save the settings; the audit entry lists what changed, before and after."""
    before = _settings_of(county, await offered(db, county))
    _apply_settings(county, new)
    await _set_categories(db, county, new.categories)
    after = _settings_of(county, new.categories)
    changes = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
    if changes:
        _audit(db, who, "county.update", "county", county.code, **changes)
    await db.flush()


async def wallboard_settings(db: AsyncSession, county: County) -> WallboardSettings:
    """The county's wallboard settings (the defaults while it has none)."""
    row = await db.get(CountyServiceLevel, county.id)
    if row is None:
        return WallboardSettings()
    return WallboardSettings(
        row.answer_within_s,
        row.alert_waiting_above,
        row.alert_longest_wait_s,
        row.alert_no_agent,
        row.alert_email,
    )


async def update_wallboard(
    db: AsyncSession, county: County, new: WallboardSettings, who: Who
) -> None:
    """Save the wallboard settings; audited like the county's other settings
    (``county.wallboard``: what changed, before and after)."""
    before = await wallboard_settings(db, county)
    if new == before:
        return
    row = await db.get(CountyServiceLevel, county.id, with_for_update=True)
    if row is None:
        row = CountyServiceLevel(county_id=county.id)
        db.add(row)
    for name in WallboardSettings.__dataclass_fields__:
        setattr(row, name, getattr(new, name))
    changes = {
        name: {"from": getattr(before, name), "to": getattr(new, name)}
        for name in WallboardSettings.__dataclass_fields__
        if getattr(before, name) != getattr(new, name)
    }
    _audit(db, who, "county.wallboard", "county", county.code, **changes)
    await db.flush()


async def set_retired(db: AsyncSession, county: County, retired: bool, who: Who) -> None:
    """Retire (routes and takes nothing new, keeps its history) or bring back a county.
    Retiring is refused while the routing rules name the county."""
    await db.refresh(county, with_for_update=True)
    if retired == (county.retired_at is not None):
        return
    if retired:
        if problem := retire_refusal(await usage(db, county)):
            raise FormErrors({"retired": problem})
        county.retired_at = utcnow()
    else:
        county.retired_at = None
    _audit(db, who, "county.retire" if retired else "county.unretire", "county", county.code)
    await db.flush()


async def delete_county(db: AsyncSession, county: County, who: Who) -> None:
    """Delete a county nothing points at (its category list goes with it)."""
    await db.refresh(county, with_for_update=True)
    if problem := delete_refusal(await usage(db, county)):
        raise FormErrors({"delete": problem})
    _audit(
        db,
        who,
        "county.delete",
        "county",
        county.code,
        name=county.name,
        queue=county.queue_name,
    )
    await db.delete(county)
    await db.flush()


# --- the catalogue -------------------------------------------------------------------------


async def catalogue(db: AsyncSession) -> list[tuple[ServiceCategory, list[ServiceCategory]]]:
    """Categories in order, each with its items in order (inactive ones too)."""
    rows = list(
        await db.scalars(
            select(ServiceCategory).order_by(ServiceCategory.sort_order, ServiceCategory.code)
        )
    )
    items: dict[int, list[ServiceCategory]] = {}
    for row in rows:
        if row.parent_id is not None:
            items.setdefault(row.parent_id, []).append(row)
    return [(row, items.get(row.id, [])) for row in rows if row.parent_id is None]


async def category(db: AsyncSession, category_id: int) -> ServiceCategory | None:
    return await db.get(ServiceCategory, category_id)


async def category_by_code(db: AsyncSession, code: str) -> ServiceCategory | None:
    return await db.scalar(select(ServiceCategory).where(ServiceCategory.code == code))


async def _siblings(db: AsyncSession, entry: ServiceCategory) -> list[ServiceCategory]:
    parent = (
        ServiceCategory.parent_id.is_(None)
        if entry.parent_id is None
        else ServiceCategory.parent_id == entry.parent_id
    )
    return list(
        await db.scalars(
            select(ServiceCategory)
            .where(parent)
            .order_by(ServiceCategory.sort_order, ServiceCategory.code)
            .with_for_update()
        )
    )


async def add_category(
    db: AsyncSession, code: str, name: str, parent: ServiceCategory | None, who: Who
) -> ServiceCategory:
    """A new category (``parent`` None) or an item under a top-level category, last."""
    if parent is not None and parent.parent_id is not None:
        raise FormErrors({"parent": "items go under a top-level category"})
    taken = set(await db.scalars(select(ServiceCategory.code)))
    full = check_category(code.strip(), name, parent=parent.code if parent else None, taken=taken)
    siblings_of = (
        ServiceCategory.parent_id.is_(None)
        if parent is None
        else ServiceCategory.parent_id == parent.id
    )
    last = await db.scalar(select(func.max(ServiceCategory.sort_order)).where(siblings_of))
    entry = ServiceCategory(
        code=full,
        name=name.strip(),
        parent_id=parent.id if parent else None,
        sort_order=(last if last is not None else -1) + 1,
    )
    db.add(entry)
    try:
        await db.flush()
    except IntegrityError:
        raise FormErrors({"code": "that code was just taken"}) from None
    _audit(
        db,
        who,
        "catalogue.create",
        "service_category",
        entry.code,
        name=entry.name,
        parent=parent.code if parent else None,
    )
    await db.flush()
    return entry


async def rename_category(db: AsyncSession, entry: ServiceCategory, name: str, who: Who) -> None:
    if name == entry.name:
        return
    _audit(
        db,
        who,
        "catalogue.rename",
        "service_category",
        entry.code,
        **{"from": entry.name, "to": name},
    )
    entry.name = name
    await db.flush()


async def move_category(db: AsyncSession, entry: ServiceCategory, direction: str, who: Who) -> None:
    siblings = await _siblings(db, entry)
    order = moved([s.id for s in siblings], entry.id, direction)
    by_id = {s.id: s for s in siblings}
    for position, sid in enumerate(order):
        by_id[sid].sort_order = position
    _audit(db, who, "catalogue.move", "service_category", entry.code, direction=direction)
    await db.flush()


async def set_category_active(
    db: AsyncSession, entry: ServiceCategory, active: bool, who: Who
) -> None:
    """Deactivate (new tickets no longer offer it; tickets that name it keep it) or
    reactivate a catalogue entry. Entries are never deleted."""
    if entry.active == active:
        return
    entry.active = active
    action = "catalogue.activate" if active else "catalogue.deactivate"
    _audit(db, who, action, "service_category", entry.code)
    await db.flush()
