"""The online order: the form's fields checked (pure, :func:`check_order`), then placed
(:func:`place_order`) as the same ticket every channel makes (``cti.tickets.service``,
channel ``web``), for the citizen found by the phone number or created for it, and offered
to a company at once where the county dispatches automatically (``auto_dispatch``, as the
agents' ticket route does).

What the citizen typed is kept verbatim (bounded, no NUL or control characters); the
phone is normalised like a caller ID (``cti.numbers``), and must be a real number.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.dispatch.service import auto_dispatch
from cti.numbers import NumberKind, NumberPlan, normalise
from cti.public.account import AccountCache
from cti.public.catalogue import ARRANGED_SQL
from cti.store.base import utcnow
from cti.store.tickets import Channel, Ticket, format_ticket_number
from cti.tickets import intake
from cti.tickets.intake import Actor
from cti.tickets.service import MAX_ADDRESS, MAX_DESCRIPTION

MAX_NAME = 120
MAX_PHONE = 40
#: How far ahead a preferred day may be.
MAX_DAYS_AHEAD = 90
#: Preferred times of day (local to the county): slot -> (start, end).
SLOTS: Mapping[str, tuple[time, time]] = {
    "morning": (time(8), time(12)),
    "afternoon": (time(12), time(18)),
    "evening": (time(18), time(21)),
}
#: The note kind of what the order said beyond the ticket's own fields.
EVENT_KIND = "web"
#: Every field the order form posts, and its limit in characters (the guard refuses
#: anything longer, or any other field).
ORDER_FIELDS: Mapping[str, int] = {
    "token": 200,
    "website": 200,  # the honeypot
    "lang": 8,
    "category": 64,
    "county": 32,
    "address": MAX_ADDRESS,
    "preferred_date": 10,
    "preferred_slot": 16,
    "description": MAX_DESCRIPTION,
    "name": MAX_NAME,
    "phone": MAX_PHONE,
}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x1f\x7f]")
_CODE = re.compile(r"[a-z][a-z0-9_.]{0,63}")


class OrderInvalid(ValueError):
    """Fields that cannot be taken: field -> the key of the text saying why
    (``cti.public.texts``), for the form to show next to each."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = dict(errors)


@dataclass(frozen=True, slots=True)
class Order:
    """A checked order: text verbatim (stripped), the phone as typed and normalised."""

    category: str
    county: str
    address: str
    description: str
    name: str
    phone_raw: str
    phone: str
    preferred_date: date | None
    preferred_slot: str


def clean(
    errors: dict[str, str],
    name: str,
    value: str,
    limit: int,
    *,
    required: bool = False,
    multiline: bool = False,
) -> str:
    """``value`` stripped, else an error key recorded under ``name``."""
    value = value.strip()
    if required and not value:
        errors[name] = "e_required"
    elif len(value) > limit:
        errors[name] = "e_too_long"
    elif (_CONTROL if multiline else _CONTROL_OR_NEWLINE).search(value):
        errors[name] = "e_text"
    return value


def check_phone(errors: dict[str, str], name: str, raw: str, plan: NumberPlan) -> str:
    """The normalised key of a phone number a citizen can be called back on."""
    raw = clean(errors, name, raw, MAX_PHONE, required=True)
    if name in errors:
        return ""
    number = normalise(raw, plan)
    if number.kind not in (NumberKind.NATIONAL, NumberKind.INTERNATIONAL):
        errors[name] = "e_phone"
        return ""
    return number.key


def check_code(errors: dict[str, str], name: str, value: str, error: str) -> str:
    value = value.strip()
    if not _CODE.fullmatch(value):
        errors[name] = error if value else "e_required"
    return value


def check_order(form: Mapping[str, str], plan: NumberPlan, *, today: date) -> Order:
    """The order in ``form`` (field -> value), or :class:`OrderInvalid` naming every wrong
    field. Whether the category and county exist is checked by :func:`place_order`."""
    errors: dict[str, str] = {}
    get = lambda key: form.get(key, "")  # noqa: E731
    category = check_code(errors, "category", get("category"), "e_category")
    county = check_code(errors, "county", get("county"), "e_county")
    address = clean(errors, "address", get("address"), MAX_ADDRESS, multiline=True)
    description = clean(
        errors, "description", get("description"), MAX_DESCRIPTION, required=True, multiline=True
    )
    name = clean(errors, "name", get("name"), MAX_NAME, required=True)
    phone_raw = get("phone").strip()
    phone = check_phone(errors, "phone", phone_raw, plan)
    preferred = get("preferred_date").strip()
    day = None
    if preferred:
        try:
            day = date.fromisoformat(preferred) if len(preferred) == 10 else None
        except ValueError:
            day = None
        if day is None or not today <= day <= today + timedelta(days=MAX_DAYS_AHEAD):
            errors["preferred_date"] = "e_date"
    slot = get("preferred_slot").strip()
    if slot and slot not in SLOTS:
        errors["preferred_slot"] = "e_slot"
    if errors:
        raise OrderInvalid(errors)
    return Order(
        category=category,
        county=county,
        address=address,
        description=description,
        name=name,
        phone_raw=phone_raw,
        phone=phone,
        preferred_date=day,
        preferred_slot=slot,
    )


def preferred_window(
    day: date | None, slot: str, time_zone: str
) -> tuple[datetime | None, datetime | None]:
    """The ticket's preferred start and end (aware, in the county's zone) for a day and a
    slot: the slot's hours, or the whole day when no slot was chosen; none without a day."""
    if day is None:
        return None, None
    try:
        zone = zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    if slot in SLOTS:
        start, end = SLOTS[slot]
        return datetime.combine(day, start, zone), datetime.combine(day, end, zone)
    start_of_day = datetime.combine(day, time(0), zone)
    return start_of_day, datetime.combine(day + timedelta(days=1), time(0), zone)


#: Everything an order needs to know before it is written, in one statement: the county
#: (live), the catalogue entry and whether the county arranges it (``cti.public.catalogue``
#: ``ARRANGED_SQL``), the citizen already on this phone (the most recently updated,
#: as for a text), and the ticket's next number, drawn only when the order can be taken.
_RESOLVE = text(
    f"""
    WITH co AS (
        SELECT id, time_zone, auto_dispatch FROM counties
        WHERE code = :county AND retired_at IS NULL
    ), cat AS (
        SELECT c.id, c.parent_id, ({ARRANGED_SQL}) AS arranged
        FROM service_categories c, co
        WHERE c.code = :code AND c.active
    )
    SELECT co.id AS county_id, co.time_zone, co.auto_dispatch,
           cat.id AS category_id, cat.parent_id, cat.arranged,
           (SELECT p.citizen_id FROM citizen_phones p
              JOIN citizens z ON z.id = p.citizen_id
             WHERE p.number = :phone
             ORDER BY z.updated_at DESC LIMIT 1) AS citizen_id,
           CASE WHEN cat.arranged THEN nextval('ticket_number_seq') END AS seq
    FROM (SELECT 1) AS one
    LEFT JOIN co ON true
    LEFT JOIN cat ON true
    """  # noqa: S608 (ARRANGED_SQL is a constant of this package)
)


@dataclass(frozen=True, slots=True)
class Placed:
    """The order's ticket: its number (what the citizen is given) and id."""

    number: str
    ticket_id: int


async def place_order(
    db: AsyncSession, order: Order, actor: Actor, offer: Callable[[int], Awaitable[None]]
) -> Placed:
    """The ticket for ``order``, opened as ``actor`` (the site's account,
    ``cti.public.account``) in two statements (``cti.tickets.intake``): what it refers to,
    then every row. The citizen is the one with this phone number (the most recently
    updated, as for a text), else a new one with the name, address and county typed.

    ``db`` must be a session that has not begun: it is switched to autocommit, so that
    each statement commits by itself. The second one is atomic alone (every row or none),
    and the service rollup's rows that the new ticket updates (every order of a county
    and month updates the same ones) are then locked only while it runs; inside a
    transaction they stayed locked one round trip more, to the COMMIT, and at 200 orders
    a second the orders queued on them.

    Where the county offers work automatically, ``offer(ticket_id)`` then offers the
    committed ticket to a company (:func:`offer_now`); when that fails the ticket waits
    to be dispatched by hand, as when nobody is eligible.

    Raises ``TicketError`` / ``CitizenError`` (nothing written) when the citizen's data is
    refused; raises :class:`OrderInvalid` when the county or the category is not one the
    site offers."""
    await db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    found = (
        await db.execute(
            _RESOLVE, {"county": order.county, "code": order.category, "phone": order.phone}
        )
    ).one()
    if found.county_id is None:
        raise OrderInvalid({"county": "e_county"})
    if found.category_id is None:
        raise OrderInvalid({"category": "e_category"})
    if not found.arranged:
        raise OrderInvalid({"category": "e_not_here"})
    top, sub = (
        (found.category_id, None)
        if found.parent_id is None
        else (found.parent_id, found.category_id)
    )
    start, end = preferred_window(order.preferred_date, order.preferred_slot, found.time_zone)
    ticket = intake.NewTicket(
        number=format_ticket_number(utcnow().year, found.seq),
        category_code=order.category,
        category_id=top,
        subcategory_id=sub,
        county_id=found.county_id,
        channel=Channel.WEB.value,
        description=order.description,
        address=order.address or None,
        preferred_start=start,
        preferred_end=end,
        # Who ordered, as typed: the citizen record may be an earlier caller's on this line.
        note_kind=EVENT_KIND,
        note=f"Ordered on the web site by {order.name} ({order.phone_raw}).",
    )
    new = (
        None
        if found.citizen_id is not None
        else intake.NewCitizen(
            name=order.name,
            phone=order.phone,
            county_id=found.county_id,
            address=order.address or None,
        )
    )
    written = await intake.write(db, ticket, actor, citizen_id=found.citizen_id, citizen=new)
    # A county that offers work automatically: to the first suggested company, now.
    if found.auto_dispatch:
        await offer(written.ticket_id)
    return Placed(number=ticket.number, ticket_id=written.ticket_id)


async def offer_now(
    factory: async_sessionmaker[AsyncSession], account: AccountCache, ticket_id: int
) -> None:
    """``auto_dispatch`` of a committed ticket, in a transaction of its own, as the site's
    account (nobody eligible: the ticket waits to be dispatched by hand)."""
    async with factory() as db:
        ticket = await db.get(Ticket, ticket_id)
        if ticket is not None:
            await auto_dispatch(db, ticket, await account.get(db, factory))
            await db.commit()
