"""The texts a ticket's life owes its citizen, written in the caller's transaction (the
one that created or finished the ticket) and sent later by :mod:`cti.sms.sender`.

Called from :mod:`cti.tickets.service`, where every ticket is created and every status
move passes, so a ticket from any channel (phone, web, walk-in, SMS) gets its text.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cti.store.sms import OutboxKind, SmsOutbox
from cti.store.tickets import Ticket


def owe(db: AsyncSession, ticket: Ticket, kind: OutboxKind) -> None:
    """Add the outbox row (pending; recipient and text are set when it is sent)."""
    db.add(SmsOutbox(ticket_id=ticket.id, kind=kind.value))


def ticket_created(db: AsyncSession, ticket: Ticket) -> None:
    owe(db, ticket, OutboxKind.TICKET_CREATED)


def ticket_done(db: AsyncSession, ticket: Ticket) -> None:
    owe(db, ticket, OutboxKind.REVISIT_QUESTION)
