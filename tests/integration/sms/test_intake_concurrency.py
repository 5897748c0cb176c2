"""Two texts of one new sender taken at the same time open one ticket, not two: the
second waits for the first's transaction (a per-sender lock), then joins its ticket."""

from __future__ import annotations

import asyncio

from cti.sms.account import sms_account
from cti.sms.config import IntakeConfig
from cti.sms.intake import InboundMessage, receive
from cti.store.base import utcnow
from tests.integration.sms.conftest import fresh_mobile, message


async def test_the_second_text_waits_for_the_first_and_joins_its_ticket(session_factory):
    mobile = fresh_mobile()
    config = IntakeConfig(secret="x")
    async with session_factory() as db:  # made beforehand: its first insert would block too
        await sms_account(db)
        await db.commit()
    async with session_factory() as first_db, session_factory() as second_db:
        first = await receive(
            first_db, InboundMessage.model_validate(message(mobile, "Part 1")), config, now=utcnow()
        )
        second_task = asyncio.create_task(
            receive(
                second_db,
                InboundMessage.model_validate(message(mobile, "Part 2")),
                config,
                now=utcnow(),
            )
        )
        await asyncio.sleep(0.5)
        assert not second_task.done()  # held until the first text's ticket is committed
        await first_db.commit()
        second = await asyncio.wait_for(second_task, 10)
        await second_db.commit()
    assert (first.outcome.value, second.outcome.value) == ("ticket", "note")
    assert second.ticket == first.ticket
