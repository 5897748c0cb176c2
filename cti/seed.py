"""Reference data (counties, service catalogue, starter knowledge articles) and the first
admin.

Idempotent: rows are upserted by their stable code, so ``cti db seed`` can be re-run after
editing ``db/reference/*.yaml``; the first admin is created only when no admin exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from cti import accounts
from cti.knowledge.starter import seed_articles
from cti.settings import PROJECT_ROOT
from cti.store.catalog import ServiceCategory
from cti.store.counties import County
from cti.store.routing import RoutingDid
from cti.store.users import Role, User

REFERENCE_DIR = PROJECT_ROOT / "db" / "reference"


@dataclass(frozen=True, slots=True)
class SeedResult:
    counties: int
    categories: int
    #: Set only when this run created the first admin: (username, password), shown once.
    admin_credentials: tuple[str, str] | None
    #: Starter knowledge articles added by this run (0 on a re-seed).
    articles: int = 0


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_counties(path: Path = REFERENCE_DIR / "counties.yaml") -> list[dict[str, str]]:
    return load_yaml(path)


async def seed_counties(session: AsyncSession, counties: list[dict[str, str]]) -> int:
    for county in counties:
        stmt = insert(County).values(
            code=county["code"], name=county["name"], queue_name=county["queue"]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[County.code],
            set_={"name": stmt.excluded.name, "queue_name": stmt.excluded.queue_name},
        )
        await session.execute(stmt)
    return len(counties)


async def seed_routing(session: AsyncSession, counties: list[dict[str, str]]) -> int:
    """The default routing: one DID rule per county that has a ``did``. Only on a fresh
    install (no DID rule yet), so a re-seed never undoes an admin's routing changes."""
    if await session.scalar(select(RoutingDid.id).limit(1)):
        return 0
    ids = dict((await session.execute(select(County.code, County.id))).all())
    rows = [
        {"did": str(c["did"]), "county_id": ids[c["code"]], "position": i}
        for i, c in enumerate(c for c in counties if c.get("did"))
    ]
    if rows:
        await session.execute(insert(RoutingDid), rows)
    return len(rows)


async def seed_catalog(session: AsyncSession, catalog: list[dict[str, Any]]) -> int:
    count = 0

    async def upsert(code: str, name: str, order: int, parent_id: int | None) -> int:
        stmt = insert(ServiceCategory).values(
            code=code, name=name, sort_order=order, parent_id=parent_id
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[ServiceCategory.code],
            set_={
                "name": stmt.excluded.name,
                "sort_order": stmt.excluded.sort_order,
                "parent_id": stmt.excluded.parent_id,
            },
        ).returning(ServiceCategory.id)
        return (await session.execute(stmt)).scalar_one()

    for order, group in enumerate(catalog):
        parent_id = await upsert(group["code"], group["name"], order, None)
        count += 1
        for item_order, item in enumerate(group.get("items", [])):
            await upsert(item["code"], item["name"], item_order, parent_id)
            count += 1
    return count


async def ensure_first_admin(session: AsyncSession, username: str = "admin") -> str | None:
    """Create the first admin with a random password when there is no admin; return it."""
    if await session.scalar(select(User.id).where(User.role == Role.ADMIN.value).limit(1)):
        return None
    password = accounts.generate_password()
    await accounts.create_user(
        session,
        username=username,
        role=Role.ADMIN.value,
        password=password,
        display_name="Administrator",
    )
    return password


async def seed(session: AsyncSession, reference_dir: Path = REFERENCE_DIR) -> SeedResult:
    """Load reference data and create the first admin if needed (caller commits)."""
    county_rows = load_counties(reference_dir / "counties.yaml")
    counties = await seed_counties(session, county_rows)
    await seed_routing(session, county_rows)
    catalog = load_yaml(reference_dir / "service_catalog.yaml")
    categories = await seed_catalog(session, catalog)
    articles = await seed_articles(session, catalog)
    password = await ensure_first_admin(session)
    return SeedResult(counties, categories, ("admin", password) if password else None, articles)
