"""A new ticket and, when its citizen is new, the citizen with their phone, written in ONE
statement: the path of an inbound channel where nobody is on the line to wait for it (the
public site's order, ``cti.public.orders``), which has to hold hundreds a second.

It writes exactly the rows that the ORM path writes (``cti.citizens.service.create_citizen``
then ``cti.tickets.service.create_ticket`` and ``add_note``): the citizen and their phone
with the ``citizen.create`` audit entry; the ticket with its ``create`` event, the channel's
note event (its text in the ticket's searchable notes), the ``ticket.create`` audit entry and
the SMS outbox row that texts the citizen the number. A test writes the same order both ways
and compares every column, so the two cannot drift apart.

Why one statement: through the ORM a web order was 14 statements and about 7 ms of Python
per order (unit of work, one flush per row), and the rows that the service rollup locks
(migration 0019, a trigger on ``tickets``) were held from the ticket's insert over four
more round trips to the commit. Here the checks are the same pure functions, the references
are resolved by the caller beforehand, and everything is written at once, last in the
transaction, so the commit follows at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from cti.citizens import service as citizens
from cti.store.sms import OutboxKind, OutboxStatus
from cti.store.tickets import Channel, Priority, TicketStatus
from cti.store.users import User
from cti.tickets.service import MAX_ADDRESS, MAX_DESCRIPTION, MAX_NOTE, TicketError
from cti.tickets.service import clean_text as clean_ticket_text


@dataclass(frozen=True, slots=True)
class Actor:
    """Who opens the ticket, as its rows name them (a snapshot of a :class:`User`)."""

    id: int
    username: str
    shown_as: str
    role: str
    company_id: int | None

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(
            id=user.id,
            username=user.username,
            shown_as=user.display_name or user.username,
            role=user.role,
            company_id=user.company_id,
        )


@dataclass(frozen=True, slots=True)
class NewCitizen:
    """A citizen to create with one phone (its normalised key)."""

    name: str
    phone: str
    county_id: int | None
    address: str | None


@dataclass(frozen=True, slots=True)
class NewTicket:
    """A ticket whose references are resolved: ``number`` is the formatted next number,
    ``category_code`` the code the citizen chose (for the audit entry), ``note`` the
    channel's note (kind ``note_kind``)."""

    number: str
    category_code: str
    category_id: int
    subcategory_id: int | None
    county_id: int | None
    channel: str
    description: str
    address: str | None
    preferred_start: datetime | None
    preferred_end: datetime | None
    note_kind: str
    note: str


@dataclass(frozen=True, slots=True)
class Written:
    ticket_id: int
    citizen_id: int


def params(
    ticket: NewTicket, actor: Actor, *, citizen_id: int | None, citizen: NewCitizen | None
) -> dict[str, object]:
    """The statement's parameters, checked as the ORM path checks them: raises
    ``TicketError`` / ``CitizenError`` for text that path would refuse. Exactly one of
    ``citizen_id`` (a known citizen) and ``citizen`` (a new one) is given."""
    if (citizen_id is None) == (citizen is None):
        raise ValueError("give a known citizen's id or a new citizen, not both or neither")
    if ticket.channel not in {c.value for c in Channel}:
        raise TicketError("channel", f"channel is one of {', '.join(c.value for c in Channel)}")
    window = (("preferred_start", ticket.preferred_start), ("preferred_end", ticket.preferred_end))
    for field, value in window:
        if value is not None and value.tzinfo is None:
            raise TicketError(field, "give a time with its UTC offset")
    if (
        ticket.preferred_start
        and ticket.preferred_end
        and ticket.preferred_end <= ticket.preferred_start
    ):
        raise TicketError("preferred_end", "the preferred window must end after it starts")
    note = clean_ticket_text("note", ticket.note, MAX_NOTE)
    if not note:
        raise TicketError("note", "write the note")
    new = {"new_name": None, "new_phone": None, "new_county": None, "new_address": None}
    if citizen is not None:
        new = {
            "new_name": citizens.clean_text(citizen.name, "name", 120, required=True),
            "new_phone": citizen.phone,
            "new_county": citizen.county_id,
            "new_address": citizens.clean_text(citizen.address, "address", 500) or None,
        }
        if not citizen.phone:
            raise citizens.CitizenError("phones", "at least one phone number is required")
    return {
        **new,
        "citizen_id": citizen_id,
        "number": ticket.number,
        "category_code": ticket.category_code,
        "category_id": ticket.category_id,
        "subcategory_id": ticket.subcategory_id,
        "county_id": ticket.county_id,
        "status": TicketStatus.NEW.value,
        "channel": ticket.channel,
        "priority": Priority.NORMAL.value,
        "description": clean_ticket_text(
            "description", ticket.description, MAX_DESCRIPTION, required=True
        ),
        "address": clean_ticket_text("address", ticket.address or "", MAX_ADDRESS) or None,
        "preferred_start": ticket.preferred_start,
        "preferred_end": ticket.preferred_end,
        "note_kind": ticket.note_kind,
        "note": note,
        "actor_id": actor.id,
        "actor_username": actor.username,
        "actor_shown": actor.shown_as,
        "actor_role": actor.role,
        "actor_company": actor.company_id,
        "outbox_kind": OutboxKind.TICKET_CREATED.value,
        "outbox_status": OutboxStatus.PENDING.value,
    }


#: Data-modifying CTEs all see the same snapshot and run once each; ``who`` is the known
#: citizen or the one just made. Audit entries and events are inserted in the order the
#: ORM path adds them.
_WRITE = text(
    """
    WITH made AS (
        INSERT INTO citizens (name, address, county_id, notes, flags)
        SELECT :new_name, :new_address, CAST(:new_county AS integer), NULL, '{}'
        WHERE CAST(:citizen_id AS integer) IS NULL
        RETURNING id
    ), phone AS (
        INSERT INTO citizen_phones (citizen_id, number, label)
        SELECT made.id, :new_phone, NULL FROM made
    ), who AS (
        SELECT coalesce(CAST(:citizen_id AS integer), (SELECT id FROM made)) AS id
    ), t AS (
        INSERT INTO tickets (
            number, citizen_id, call_id, category_id, subcategory_id, county_id, status,
            channel, priority, description, address, preferred_start, preferred_end,
            notes_text, author_id, owner_id, complaint_of_id, complaint_upheld, closed_at)
        SELECT :number, who.id, NULL, :category_id, CAST(:subcategory_id AS integer),
               CAST(:county_id AS integer), :status, :channel, :priority, :description,
               :address, CAST(:preferred_start AS timestamptz),
               CAST(:preferred_end AS timestamptz), :note, :actor_id, :actor_id, NULL, NULL,
               NULL
        FROM who
        RETURNING id, citizen_id
    ), events AS (
        INSERT INTO ticket_events (
            ticket_id, at, kind, actor_id, actor_name, actor_role, company_id, from_status,
            to_status, note)
        SELECT t.id, now(), e.kind, :actor_id, :actor_shown, :actor_role,
               CAST(:actor_company AS integer), e.from_status, :status, e.note
        FROM t, (VALUES (1, 'create', NULL, ''), (2, :note_kind, :status, :note))
                AS e (n, kind, from_status, note)
        ORDER BY e.n
    ), outbox AS (
        INSERT INTO sms_outbox (kind, ticket_id, status, attempts)
        SELECT :outbox_kind, t.id, :outbox_status, 0 FROM t
    ), audit AS (
        INSERT INTO audit_log (actor_id, actor_name, action, object_type, object_id, detail)
        SELECT :actor_id, :actor_username, a.action, a.object_type, a.object_id, a.detail
        FROM (
            SELECT 1 AS n, 'citizen.create' AS action, 'citizen' AS object_type,
                   made.id::text AS object_id,
                   jsonb_build_object('phones', jsonb_build_array(CAST(:new_phone AS text)))
                       AS detail
            FROM made
            UNION ALL
            SELECT 2, 'ticket.create', 'ticket', :number,
                   jsonb_build_object('category', CAST(:category_code AS text),
                                      'citizen_id', t.citizen_id, 'call_id', NULL,
                                      'complaint_of', NULL)
            FROM t
        ) AS a
        ORDER BY a.n
    )
    SELECT t.id AS ticket_id, t.citizen_id FROM t
    """
)


async def write(
    db: AsyncSession,
    ticket: NewTicket,
    actor: Actor,
    *,
    citizen_id: int | None = None,
    citizen: NewCitizen | None = None,
) -> Written:
    """Write the ticket (and the new citizen) in the session's transaction; the caller
    commits. Raises as :func:`params` does, before anything is sent."""
    row = (
        await db.execute(_WRITE, params(ticket, actor, citizen_id=citizen_id, citizen=citizen))
    ).one()
    return Written(ticket_id=row.ticket_id, citizen_id=row.citizen_id)
