"""Stopping the writer in the middle of a batch cancels the batch as well: nothing is
left running after the event loop ends ("Task was destroyed but it is pending")."""

from __future__ import annotations

import asyncio

from cti.agi.journal import Journal
from cti.agi.records import CallRecord
from cti.agi.writer import JournalWriter, WriterOptions


async def test_stop_mid_batch_cancels_the_batch_and_keeps_the_records(tmp_path):
    journal = Journal(tmp_path)
    journal.append([CallRecord("call-start", "n", "1.1", "1.1", 0.0).to_json()])
    writer = JournalWriter(journal, session_factory=None, options=WriterOptions(poll_interval=0.01))
    entered = asyncio.Event()
    outcome: list[str] = []

    async def hanging_upsert(records):
        entered.set()
        try:
            await asyncio.Event().wait()  # a Postgres that never answers
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    writer._upsert = hanging_upsert  # type: ignore[method-assign]
    before = asyncio.all_tasks()  # other tests' tasks may share this loop
    await writer.start()
    await asyncio.wait_for(entered.wait(), 10)
    await writer.stop()
    assert outcome == ["cancelled"]
    leftovers = [t for t in asyncio.all_tasks() - before if not t.done()]
    assert leftovers == []
    assert writer.stats.committed == 0  # not committed: the journal still holds it
    journal.close()
