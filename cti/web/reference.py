"""Reference data every logged-in user reads: counties and the service catalogue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from cti.store.catalog import ServiceCategory
from cti.store.counties import County
from cti.web.deps import AnyUser, DbSession

router = APIRouter(prefix="/api")


class CountyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    queue_name: str
    #: A retired county keeps its history but takes nothing new (listed only on request).
    retired: bool = False


class CategoryOut(BaseModel):
    code: str
    name: str
    items: list[CategoryOut] = []


@router.get("/counties", summary="List counties")
async def counties(
    _: AnyUser,
    db: DbSession,
    include_retired: Annotated[
        bool, Query(description="also the retired counties (for searches of the past)")
    ] = False,
) -> list[CountyOut]:
    """The counties a new ticket, user or company may be given; with ``include_retired``
    also the retired ones (marked ``retired``), which only searches of the past need."""
    stmt = select(County).order_by(County.code)
    if not include_retired:
        stmt = stmt.where(County.retired_at.is_(None))
    rows = (await db.scalars(stmt)).all()
    return [
        CountyOut(
            code=row.code,
            name=row.name,
            queue_name=row.queue_name,
            retired=row.retired_at is not None,
        )
        for row in rows
    ]


@router.get("/service-categories", summary="The service catalogue: categories and sub-categories")
async def service_categories(_: AnyUser, db: DbSession) -> list[CategoryOut]:
    rows = (
        await db.scalars(
            select(ServiceCategory)
            .where(ServiceCategory.active)
            .order_by(ServiceCategory.sort_order, ServiceCategory.code)
        )
    ).all()
    groups = {
        row.id: CategoryOut(code=row.code, name=row.name) for row in rows if not row.parent_id
    }
    for row in rows:
        if row.parent_id in groups:
            groups[row.parent_id].items.append(CategoryOut(code=row.code, name=row.name))
    return list(groups.values())
