"""What the hotline texts citizens, in one place (pure). Short enough for one or two SMS
segments; the ticket number is the only variable part."""

from __future__ import annotations

import re

from cti.store.sms import OutboxKind

TICKET_CREATED = (
    "Hotline: your request is ticket {ticket}. Quote this number when you call us. "
    "Reply STOP to receive no more texts."
)
REVISIT_QUESTION = (
    "Hotline: the work on ticket {ticket} is done. How satisfied are you? "
    "Reply with one digit, 1 (poor) to 5 (excellent)."
)
_TEMPLATES = {
    OutboxKind.TICKET_CREATED: TICKET_CREATED,
    OutboxKind.REVISIT_QUESTION: REVISIT_QUESTION,
}


def render(kind: str, ticket_number: str) -> str:
    """The text of an outbox row of ``kind`` about ticket ``ticket_number``."""
    return _TEMPLATES[OutboxKind(kind)].format(ticket=ticket_number)


def e164(key: str, country_code: str) -> str:
    """A ``cti.numbers`` key as the gateway wants it: ``+<country code><number>``."""
    return key if key.startswith("+") else f"+{country_code}{key}"


def first_mobile(keys: list[str], pattern: re.Pattern[str]) -> str | None:
    """The first of ``keys`` that can receive a text (``pattern``: the mobile numbers)."""
    return next((k for k in keys if pattern.fullmatch(k)), None)
