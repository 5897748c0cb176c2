"""The one-statement ticket intake (``cti.tickets.intake``) writes what the ORM path writes.

The same order is written both ways (``create_citizen`` + ``create_ticket`` + ``add_note``
through the ORM, and ``intake.write``), for a new citizen and for a known one, and every
column of every row is compared: citizen, phone, ticket (its search document included),
events, audit entries and the SMS outbox row. Only what must differ (ids, times, the
ticket number, the phone) is left out. Then the refusals: text the ORM path refuses is
refused before anything is sent."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from cti.citizens.service import CitizenError, create_citizen
from cti.numbers import NumberPlan, normalise
from cti.public.account import site_account
from cti.store.audit import AuditEntry
from cti.store.catalog import ServiceCategory
from cti.store.citizens import Citizen, CitizenPhone
from cti.store.counties import County
from cti.store.sms import SmsOutbox
from cti.store.tickets import Ticket, TicketEvent, format_ticket_number
from cti.tickets import intake
from cti.tickets.service import TicketError, add_note, create_ticket

PLAN = NumberPlan()
#: Differs by construction between the two writes of one order.
UNIQUE = {"id", "created_at", "updated_at", "at", "number", "ticket_id", "citizen_id"}
#: The web note, the same in both writes (it names the phone as typed).
NOTE = "Ordered on the web site by Ada (+86 138 0000 0000)."
HOSTILE = "<script>alert(1)</script> O'Brien; DROP TABLE tickets; -- 100% \\ \u202e"


def row(obj) -> dict:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns if c.key not in UNIQUE}


async def written(db, ticket_id: int) -> dict:
    ticket = await db.get(Ticket, ticket_id)
    citizen = await db.get(Citizen, ticket.citizen_id)
    phones = (
        await db.scalars(select(CitizenPhone).where(CitizenPhone.citizen_id == citizen.id))
    ).all()
    events = (
        await db.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
    ).all()
    outbox = (await db.scalars(select(SmsOutbox).where(SmsOutbox.ticket_id == ticket_id))).all()
    audits = (
        await db.scalars(
            select(AuditEntry)
            .where(
                ((AuditEntry.object_type == "ticket") & (AuditEntry.object_id == ticket.number))
                | (
                    (AuditEntry.object_type == "citizen")
                    & (AuditEntry.object_id == str(citizen.id))
                )
            )
            .order_by(AuditEntry.id)
        )
    ).all()
    audit_rows = []
    for entry in audits:
        r = row(entry)
        r.pop("object_id")
        detail = dict(r.pop("detail"))
        detail.pop("phones", None)  # each write has its own phone
        if "citizen_id" in detail:
            assert detail.pop("citizen_id") == citizen.id
        audit_rows.append({**r, "detail": detail})
    assert all(p.citizen_id == citizen.id for p in phones)
    return {
        "ticket": row(ticket),
        "citizen": row(citizen),
        "phones": [{k: v for k, v in row(p).items() if k != "number"} for p in phones],
        "events": [row(e) for e in events],
        "outbox": [row(o) for o in outbox],
        "audit": audit_rows,
    }


def phone() -> str:
    return "13" + "".join(secrets.choice("0123456789") for _ in range(9))


async def references(db):
    county = await db.scalar(select(County).where(County.code == "north"))
    water = await db.scalar(
        select(ServiceCategory).where(ServiceCategory.code == "maintenance.water")
    )
    return county, water


async def orm_write(db, actor, raw_phone, *, known: Citizen | None = None) -> int:
    county, _ = await references(db)
    citizen = known or await create_citizen(
        db,
        name=f"Ada {HOSTILE}",
        phones=[raw_phone],
        plan=PLAN,
        county_id=county.id,
        address="1 Bench Road\nFlat 2",
        actor=actor,
    )
    start = datetime(2031, 5, 6, 8, tzinfo=UTC)
    ticket = await create_ticket(
        db,
        author=actor,
        category_code="maintenance.water",
        description=f"The tap drips {HOSTILE}",
        citizen_id=citizen.id,
        county_code="north",
        channel="web",
        address="1 Bench Road\nFlat 2",
        preferred_start=start,
        preferred_end=start + timedelta(hours=4),
    )
    await add_note(db, ticket, actor, NOTE, kind="web")
    await db.flush()
    return ticket.id


async def fast_write(db, actor, raw_phone, *, known: Citizen | None = None) -> int:
    county, water = await references(db)
    start = datetime(2031, 5, 6, 8, tzinfo=UTC)
    seq = 900000 + secrets.randbelow(99999)
    ticket = intake.NewTicket(
        number=format_ticket_number(2031, seq),
        category_code="maintenance.water",
        category_id=water.parent_id,
        subcategory_id=water.id,
        county_id=county.id,
        channel="web",
        description=f"The tap drips {HOSTILE}",
        address="1 Bench Road\nFlat 2",
        preferred_start=start,
        preferred_end=start + timedelta(hours=4),
        note_kind="web",
        note=NOTE,
    )
    new = (
        None
        if known
        else intake.NewCitizen(
            name=f"Ada {HOSTILE}",
            phone=normalise(raw_phone, PLAN).key,
            county_id=county.id,
            address="1 Bench Road\nFlat 2",
        )
    )
    done = await intake.write(
        db, ticket, intake.Actor.of(actor), citizen_id=known.id if known else None, citizen=new
    )
    return done.ticket_id


async def test_a_new_citizens_order_writes_the_same_rows_both_ways(session_factory, seeded):
    async with session_factory() as db:
        actor = await site_account(db)
        orm = await written(db, await orm_write(db, actor, phone()))
        fast = await written(db, await fast_write(db, actor, phone()))
        await db.rollback()
    assert fast == orm
    # What the comparison covers, so that an empty read cannot pass it.
    assert len(orm["events"]) == 2 and len(orm["audit"]) == 2 and len(orm["outbox"]) == 1
    assert orm["ticket"]["description"] == f"The tap drips {HOSTILE}"  # verbatim
    assert orm["ticket"]["search"]


async def test_a_known_citizens_order_writes_the_same_rows_both_ways(session_factory, seeded):
    async with session_factory() as db:
        actor = await site_account(db)
        known = await create_citizen(
            db, name="Bo", phones=[phone()], plan=PLAN, actor=actor, county_id=None
        )
        orm = await written(db, await orm_write(db, actor, phone(), known=known))
        fast = await written(db, await fast_write(db, actor, phone(), known=known))
        tickets = (await db.scalars(select(Ticket.id).where(Ticket.citizen_id == known.id))).all()
        await db.rollback()
    assert fast == orm
    assert fast["citizen"]["name"] == "Bo"
    assert len(tickets) == 2  # no second citizen was made
    assert [a["action"] for a in fast["audit"]] == ["citizen.create", "ticket.create"]


def _ticket(**changes) -> intake.NewTicket:
    base = dict(
        number="T2031-000001",
        category_code="maintenance",
        category_id=1,
        subcategory_id=None,
        county_id=1,
        channel="web",
        description="help",
        address=None,
        preferred_start=None,
        preferred_end=None,
        note_kind="web",
        note="Ordered",
    )
    return intake.NewTicket(**{**base, **changes})


ACTOR = intake.Actor(
    id=1, username="web-site", shown_as="Public web site", role="agent", company_id=None
)
CITIZEN = intake.NewCitizen(name="Ada", phone="13800000000", county_id=1, address=None)
NOON = datetime(2031, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ticket", "citizen", "error", "field"),
    [
        (_ticket(description="   "), CITIZEN, TicketError, "description"),
        (_ticket(description="x" * 5001), CITIZEN, TicketError, "description"),
        (_ticket(description="nul \x00 inside"), CITIZEN, TicketError, "description"),
        (_ticket(address="a" * 501), CITIZEN, TicketError, "address"),
        (_ticket(note=""), CITIZEN, TicketError, "note"),
        (_ticket(channel="fax"), CITIZEN, TicketError, "channel"),
        (_ticket(preferred_start=datetime(2031, 1, 1)), CITIZEN, TicketError, "preferred_start"),
        (_ticket(preferred_start=NOON, preferred_end=NOON), CITIZEN, TicketError, "preferred_end"),
        (_ticket(), intake.NewCitizen("", "13800000000", 1, None), CitizenError, "name"),
        (_ticket(), intake.NewCitizen("A" * 121, "13800000000", 1, None), CitizenError, "name"),
        (_ticket(), intake.NewCitizen("Ada", "", 1, None), CitizenError, "phones"),
        (_ticket(), intake.NewCitizen("Ada", "1", 1, "nul\x00"), CitizenError, "address"),
    ],
)
def test_what_the_orm_path_refuses_is_refused_before_sending(ticket, citizen, error, field):
    with pytest.raises(error) as raised:
        intake.params(ticket, ACTOR, citizen_id=None, citizen=citizen)
    assert raised.value.field == field


def test_a_known_citizen_or_a_new_one_exactly():
    with pytest.raises(ValueError, match="not both or neither"):
        intake.params(_ticket(), ACTOR, citizen_id=1, citizen=CITIZEN)
    with pytest.raises(ValueError, match="not both or neither"):
        intake.params(_ticket(), ACTOR, citizen_id=None, citizen=None)


async def test_a_refused_write_sends_nothing(session_factory, seeded):
    async with session_factory() as db:
        before = await db.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1))
        with pytest.raises(TicketError):
            await intake.write(db, _ticket(description=""), ACTOR, citizen=CITIZEN)
        after = await db.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1))
    assert after == before
