"""Citizens API: agents create the profile of an unknown caller from the pop."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from cti.citizens.service import CitizenError, create_citizen
from cti.store.counties import UnknownCounty, county_id_by_code
from cti.web.deps import AgentUser, AppSettings, DbSession
from cti.web.errors import Invalid, documented

router = APIRouter(prefix="/api")


class CitizenCreate(BaseModel):
    name: str = Field(max_length=200)
    phones: list[str] = Field(min_length=1, max_length=5)
    county: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=600)
    notes: str | None = Field(default=None, max_length=4100)
    flags: list[str] = Field(default_factory=list, max_length=10)


class CitizenOut(BaseModel):
    id: int
    name: str
    phones: list[str]


@router.post(
    "/citizens", status_code=201, summary="Create a citizen", responses=documented(Invalid)
)
async def create(
    body: CitizenCreate, ctx: AgentUser, db: DbSession, settings: AppSettings
) -> CitizenOut:
    try:
        county_id = await county_id_by_code(db, body.county)
    except UnknownCounty:
        raise Invalid("unknown county", fields={"county": "unknown county"}) from None
    try:
        citizen = await create_citizen(
            db,
            name=body.name,
            phones=body.phones,
            plan=settings.number_plan,
            county_id=county_id,
            address=body.address,
            notes=body.notes,
            flags=body.flags,
            actor=ctx.user,
        )
    except CitizenError as exc:
        raise Invalid(str(exc), fields={exc.field: str(exc)}) from None
    await db.commit()
    return CitizenOut(id=citizen.id, name=citizen.name, phones=[p.number for p in citizen.phones])
