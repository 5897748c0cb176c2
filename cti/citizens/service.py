"""Creating citizens and finding them by any form of their phone number."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.numbers import NumberPlan, normalise
from cti.store import audit
from cti.store.citizens import Citizen, CitizenPhone
from cti.store.users import User

FLAG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


class CitizenError(ValueError):
    """Invalid citizen data; ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def clean_text(value: str | None, field: str, max_length: int, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise CitizenError(field, f"{field} is required")
    if len(value) > max_length:
        raise CitizenError(field, f"{field} must be at most {max_length} characters")
    if "\x00" in value:
        raise CitizenError(field, f"{field} must not contain NUL characters")
    return value


def phone_keys(numbers: Sequence[str], plan: NumberPlan) -> list[str]:
    keys: list[str] = []
    for raw in numbers:
        number = normalise(raw, plan)
        if not number.is_lookupable:
            raise CitizenError("phones", f"{raw[:40]!r} is not a phone number")
        if number.key not in keys:
            keys.append(number.key)
    return keys


async def create_citizen(
    db: AsyncSession,
    *,
    name: str,
    phones: Sequence[str],
    plan: NumberPlan,
    county_id: int | None = None,
    address: str | None = None,
    notes: str | None = None,
    flags: Sequence[str] = (),
    actor: User,
) -> Citizen:
    """Validate and add a citizen with normalised phone numbers (caller commits)."""
    name = clean_text(name, "name", 120, required=True)
    address = clean_text(address, "address", 500) or None
    notes = clean_text(notes, "notes", 4000) or None
    for flag in flags:
        if not FLAG_PATTERN.fullmatch(flag):
            raise CitizenError("flags", f"flag {flag[:40]!r} must be a short lower-case word")
    keys = phone_keys(phones, plan)
    if not keys:
        raise CitizenError("phones", "at least one phone number is required")
    citizen = Citizen(
        name=name,
        address=address,
        notes=notes,
        county_id=county_id,
        flags=list(flags),
        phones=[CitizenPhone(number=key) for key in keys],
    )
    db.add(citizen)
    await db.flush()
    audit.record(
        db,
        actor_id=actor.id,
        actor_name=actor.username,
        action="citizen.create",
        object_type="citizen",
        object_id=citizen.id,
        detail={"phones": keys},
    )
    return citizen


async def find_by_number(db: AsyncSession, key: str) -> list[Citizen]:
    """Citizens who have this normalised number (a household line may have several)."""
    if not key:
        return []
    stmt = (
        select(Citizen)
        .join(CitizenPhone, CitizenPhone.citizen_id == Citizen.id)
        .where(CitizenPhone.number == key)
        .order_by(Citizen.updated_at.desc())
    )
    return list((await db.scalars(stmt)).unique().all())
