"""The county of a ticket a text opens, by the routing rules (the rules are saved in a
transaction that is rolled back: the run shares its routing tables with other tests)."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from cti.routing.repo import save_rules
from cti.routing.rules import DidRule, PrefixRule, RuleSet
from cti.sms.config import IntakeConfig
from cti.sms.intake import InboundMessage, receive
from cti.store.base import utcnow
from cti.store.counties import County
from cti.store.tickets import Ticket
from tests.integration.sms.conftest import fresh_mobile, make_citizen


def _eight() -> str:
    """Eight random digits: a sender no other test of the run has made a citizen of (a
    known citizen's county wins over the rules)."""
    return f"{secrets.randbelow(10**8):08d}"


async def _county_of(db, sender: str, to: str = "") -> str | None:
    text = InboundMessage.model_validate(
        {"message_id": f"c-{fresh_mobile()}", "from": sender, "to": to, "text": "Help"}
    )
    received = await receive(db, text, IntakeConfig(secret="x"), now=utcnow())
    ticket = (await db.scalars(select(Ticket).where(Ticket.number == received.ticket))).one()
    return await db.scalar(select(County.code).where(County.id == ticket.county_id))


async def test_the_routing_rules_place_an_unknown_senders_ticket(session_factory):
    async with session_factory() as db:
        await save_rules(
            db,
            RuleSet(
                default_county="west",
                dids=(DidRule(did="96001", county="east"), DidRule(did="96002")),
                prefixes=(
                    PrefixRule(prefix="0139", county="south"),  # national form, trunk prefix
                    PrefixRule(prefix="+86137", county="north", did="96002"),
                ),
            ),
        )
        try:
            assert await _county_of(db, fresh_mobile()) == "south"  # all-DIDs prefix
            assert await _county_of(db, f"+86{fresh_mobile()}", to="96002") == "south"
            assert await _county_of(db, f"+86137{_eight()}", to="96002") == "north"  # DID's own
            assert await _county_of(db, f"136{_eight()}", to="96001") == "east"  # DID's county
            assert await _county_of(db, f"136{_eight()}", to="+8696001") == "east"
            assert await _county_of(db, f"136{_eight()}") == "west"  # the default county
        finally:
            await db.rollback()


async def test_the_citizens_county_comes_first_and_none_is_triage(session_factory):
    mobile = fresh_mobile()
    await make_citizen(session_factory, mobile, county="east")
    async with session_factory() as db:
        await save_rules(db, RuleSet(prefixes=(PrefixRule(prefix="0139", county="south"),)))
        try:
            assert await _county_of(db, mobile) == "east"
            assert await _county_of(db, f"136{_eight()}") is None  # no rule, no default
        finally:
            await db.rollback()
