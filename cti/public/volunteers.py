"""Volunteer sign-up: the form checked (pure, :func:`check_volunteer`) and stored
(:func:`sign_up`), verbatim; the admins' list (:func:`recent`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.numbers import NumberPlan
from cti.public.orders import MAX_NAME, MAX_PHONE, OrderInvalid, check_code, check_phone, clean
from cti.store import audit
from cti.store.counties import County
from cti.store.volunteers import Volunteer

MAX_SKILLS = 1000
MAX_AVAILABILITY = 300
MAX_NOTE = 2000
VOLUNTEER_FIELDS: Mapping[str, int] = {
    "token": 200,
    "website": 200,
    "lang": 8,
    "name": MAX_NAME,
    "phone": MAX_PHONE,
    "county": 32,
    "skills": MAX_SKILLS,
    "availability": MAX_AVAILABILITY,
    "note": MAX_NOTE,
}


@dataclass(frozen=True, slots=True)
class SignUp:
    name: str
    phone_raw: str
    phone: str
    county: str
    skills: str
    availability: str
    note: str


def check_volunteer(form: Mapping[str, str], plan: NumberPlan) -> SignUp:
    errors: dict[str, str] = {}
    get = lambda key: form.get(key, "")  # noqa: E731
    sign_up = SignUp(
        name=clean(errors, "name", get("name"), MAX_NAME, required=True),
        phone_raw=get("phone").strip(),
        phone=check_phone(errors, "phone", get("phone"), plan),
        county=check_code(errors, "county", get("county"), "e_county"),
        skills=clean(errors, "skills", get("skills"), MAX_SKILLS, required=True, multiline=True),
        availability=clean(errors, "availability", get("availability"), MAX_AVAILABILITY),
        note=clean(errors, "note", get("note"), MAX_NOTE, multiline=True),
    )
    if errors:
        raise OrderInvalid(errors)
    return sign_up


async def sign_up(db: AsyncSession, data: SignUp, *, locale: str, ip: str | None) -> Volunteer:
    """Store the sign-up (caller commits); :class:`OrderInvalid` for a county not served."""
    county_id = await db.scalar(
        select(County.id).where(County.code == data.county, County.retired_at.is_(None))
    )
    if county_id is None:
        raise OrderInvalid({"county": "e_county"})
    volunteer = Volunteer(
        name=data.name,
        phone_raw=data.phone_raw,
        phone=data.phone,
        county_id=county_id,
        skills=data.skills,
        availability=data.availability,
        note=data.note,
        locale=locale,
    )
    db.add(volunteer)
    await db.flush()
    audit.record(
        db,
        actor_id=None,
        actor_name="public",
        action="volunteer.sign_up",
        object_type="volunteer",
        object_id=volunteer.id,
        detail={"county": data.county},
        ip=ip,
    )
    return volunteer


async def recent(
    db: AsyncSession, *, county_id: int | None = None, limit: int = 200
) -> list[tuple[Volunteer, str | None]]:
    """The newest sign-ups with their county's name (one county's for a county admin)."""
    stmt = select(Volunteer, County.name).outerjoin(County, County.id == Volunteer.county_id)
    if county_id is not None:
        stmt = stmt.where(Volunteer.county_id == county_id)
    rows = await db.execute(stmt.order_by(Volunteer.id.desc()).limit(limit))
    return [(v, name) for v, name in rows.all()]
