"""One text from the gateway, taken in the caller's transaction: stored (always), then
an opt-out, an opt-in, the score of our revisit question, a note on the sender's recent
open ticket, or a new ticket (channel ``sms``), all through the ticket service layer.

The order, for a sender that is a phone number:

1. STOP / START (``cti.sms.replies``): the number's opt-out is stored or removed;
2. a reply within ``revisit_reply_hours`` of the revisit question we texted this number,
   while its ticket is still done: a digit 1-5 is the revisit's satisfaction
   (``cti.revisits.results``: the ticket is revisited and closed, the company rated);
   anything else is a note on that ticket;
3. a ticket of the sender (their citizen record's, or one a text from this number
   opened) still open and created in the last ``append_hours``: a note on it;
4. else a new ticket: the citizen when the number is known (several citizens on one
   line: the most recently updated), the county by :mod:`cti.sms.county`.

A sender that is no phone number (withheld, a name like ``BANK``, a short code) is stored
as ``unroutable`` and nothing else happens: it cannot be answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from cti.citizens.service import find_by_number
from cti.numbers import NumberKind, normalise
from cti.revisits.results import record_revisit
from cti.sms import replies
from cti.sms.account import sms_account
from cti.sms.config import MAX_TEXT, IntakeConfig
from cti.sms.county import county_for
from cti.store.citizens import Citizen
from cti.store.sms import InboundOutcome, OutboxKind, OutboxStatus, SmsInbound, SmsOptOut, SmsOutbox
from cti.store.tickets import OPEN_STATUSES, Channel, Ticket, TicketStatus
from cti.tickets.service import TicketError, add_note, create_ticket

#: The ticket event kind of a text added to a ticket.
EVENT_KIND = "sms"
GATEWAY_ID_PATTERN = r"^[A-Za-z0-9._:@-]{1,100}$"


class InboundMessage(BaseModel):
    """What the gateway posts (``docs/sms.md``)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    message_id: str = Field(pattern=GATEWAY_ID_PATTERN, description="the gateway's own id")
    sender: str = Field(alias="from", min_length=1, max_length=64)
    to: str = Field(default="", max_length=64, description="our number it was sent to")
    text: str = Field(max_length=MAX_TEXT)
    received_at: datetime | None = None

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the text is empty")
        if "\x00" in value:
            raise ValueError("the text contains a NUL character")
        return value

    @field_validator("sender", "to")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("contains a NUL character")
        return value

    @field_validator("received_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the time with its UTC offset")
        return value


class Duplicate(Exception):
    """A message with this gateway id was taken before (a replay, or a retry)."""


@dataclass(frozen=True, slots=True)
class Received:
    inbound_id: int
    outcome: InboundOutcome
    ticket: str | None = None


async def receive(
    db: AsyncSession, message: InboundMessage, config: IntakeConfig, *, now: datetime
) -> Received:
    """Store ``message`` and do what it asks (module docstring); the caller commits.
    Raises :class:`Duplicate` (nothing written) when its id was seen before."""
    number = normalise(message.sender, config.plan)
    routable = number.kind in (NumberKind.NATIONAL, NumberKind.INTERNATIONAL)
    sender = number.key if routable else ""
    inbound_id = await db.scalar(
        insert(SmsInbound)
        .values(
            gateway_id=message.message_id,
            sender_raw=message.sender,
            sender=sender,
            recipient_raw=message.to,
            text=message.text,
            received_at=message.received_at or now,
            outcome=InboundOutcome.UNROUTABLE.value,
        )
        .on_conflict_do_nothing(index_elements=[SmsInbound.gateway_id])
        .returning(SmsInbound.id)
    )
    if inbound_id is None:
        raise Duplicate(message.message_id)
    inbound = await db.get(SmsInbound, inbound_id)
    assert inbound is not None
    if not routable:
        return Received(inbound_id, InboundOutcome.UNROUTABLE)

    # Two texts of one sender at once would each find no open ticket and open two: the
    # second waits here for the first's commit, then finds its ticket.
    await db.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"sms:{sender}", 0))))
    reply = replies.classify(message.text)
    if reply.kind is replies.ReplyKind.OPT_OUT:
        await db.execute(
            insert(SmsOptOut)
            .values(number=sender, at=now, inbound_id=inbound_id)
            .on_conflict_do_nothing(index_elements=[SmsOptOut.number])
        )
        return _done(inbound, InboundOutcome.OPT_OUT)
    if reply.kind is replies.ReplyKind.OPT_IN:
        optout = await db.get(SmsOptOut, sender)
        if optout is not None:
            await db.delete(optout)
        return _done(inbound, InboundOutcome.OPT_IN)

    citizens = await find_by_number(db, sender)
    citizen = citizens[0] if citizens else None
    inbound.citizen_id = citizen.id if citizen else None
    account = await sms_account(db)

    asked = await _asked_ticket(db, sender, now - timedelta(hours=config.revisit_reply_hours))
    if asked is not None and reply.kind is replies.ReplyKind.SCORE:
        assert reply.score is not None
        await record_revisit(
            db,
            account,
            asked,
            satisfaction=reply.score,
            service_done=True,
            complaint=False,
            comment="",
            channel="sms",
        )
        return _done(inbound, InboundOutcome.REVISIT, asked)
    target = asked or await _recent_open_ticket(
        db, [c.id for c in citizens], sender, now - timedelta(hours=config.append_hours)
    )
    if target is not None:
        event = await add_note(db, target, account, message.text, kind=EVENT_KIND)
        inbound.event_id = event.id
        return _done(inbound, InboundOutcome.NOTE, target)

    county = await county_for(
        db,
        citizen=citizen,
        sender_raw=message.sender,
        sender_key=sender,
        recipient_raw=message.to,
        plan=config.plan,
    )
    ticket = await _open_ticket(db, account, message.text, citizen, county, config.category)
    return _done(inbound, InboundOutcome.TICKET, ticket)


def _done(inbound: SmsInbound, outcome: InboundOutcome, ticket: Ticket | None = None) -> Received:
    inbound.outcome = outcome.value
    inbound.ticket_id = ticket.id if ticket is not None else None
    return Received(inbound.id, outcome, ticket.number if ticket is not None else None)


async def _open_ticket(
    db: AsyncSession,
    account,
    text: str,
    citizen: Citizen | None,
    county: str | None,
    category: str,
) -> Ticket:
    async def create(county_code: str | None) -> Ticket:
        return await create_ticket(
            db,
            author=account,
            category_code=category,
            description=text,
            citizen_id=citizen.id if citizen else None,
            county_code=county_code,
            channel=Channel.SMS.value,
            address=citizen.address if citizen else None,
        )

    try:
        return await create(county)
    except TicketError as exc:  # raised before anything is written
        if exc.field != "county" or county is None:
            raise
    # The county is retired (a citizen's or the rules' stale one): triage instead.
    return await create(None)


async def _asked_ticket(db: AsyncSession, sender: str, since: datetime) -> Ticket | None:
    """The done ticket whose revisit question we texted ``sender`` last, since ``since``."""
    return await db.scalar(
        select(Ticket)
        .join(SmsOutbox, SmsOutbox.ticket_id == Ticket.id)
        .where(
            SmsOutbox.kind == OutboxKind.REVISIT_QUESTION.value,
            SmsOutbox.status == OutboxStatus.SENT.value,
            SmsOutbox.recipient == sender,
            SmsOutbox.sent_at >= since,
            Ticket.status == TicketStatus.DONE.value,
        )
        .order_by(SmsOutbox.sent_at.desc())
        .limit(1)
    )


async def _recent_open_ticket(
    db: AsyncSession, citizen_ids: list[int], sender: str, since: datetime
) -> Ticket | None:
    """The newest ticket still open, created since ``since``, of one of the sender's
    citizens or opened by an earlier text from the same number."""
    by_text = select(SmsInbound.ticket_id).where(
        SmsInbound.sender == sender, SmsInbound.ticket_id.is_not(None)
    )
    owner = [Ticket.id.in_(by_text)]
    if citizen_ids:
        owner.append(Ticket.citizen_id.in_(citizen_ids))
    return await db.scalar(
        select(Ticket)
        .where(
            Ticket.status.in_([s.value for s in OPEN_STATUSES]),
            Ticket.created_at >= since,
            or_(*owner),
        )
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(1)
    )
