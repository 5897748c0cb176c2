"""A call that ends as a callback request gets exactly one ``callback_requests`` row, in
the transaction of the call's end."""

from __future__ import annotations

from sqlalchemy import select, update

from cti.agi.journal import Journal
from cti.agi.records import CallRecord
from cti.agi.writer import JournalWriter
from cti.store.callbacks import CallbackRequest
from cti.store.calls import Call
from cti.store.counties import County

T0 = 1_795_712_000.0


def _start(node, lid, number="13800138041") -> CallRecord:
    return CallRecord(
        "call-start",
        node,
        lid,
        lid,
        T0,
        caller_number=number or None,
        caller_number_raw=number or None,
        county="north",
        queue="county-north",
        started_at=T0,
    )


def _end(node, lid, disposition, number="13800138041") -> CallRecord:
    return CallRecord(
        "call-end",
        node,
        lid,
        lid,
        T0 + 20,
        caller_number=number or None,
        county="north",
        ended_at=T0 + 20,
        disposition=disposition,
        hangup_cause=16,
    )


async def _requests(session_factory, node) -> dict[str, CallbackRequest]:
    async with session_factory() as db:
        rows = await db.execute(
            select(Call.linkedid, CallbackRequest)
            .join(CallbackRequest, CallbackRequest.call_id == Call.id)
            .where(Call.node == node)
        )
        return {lid: request for lid, request in rows}


async def test_callback_calls_become_one_request_each_and_replays_change_nothing(
    tmp_path, session_factory, seeded, node
):
    records = [
        _start(node, "1.1"),
        _end(node, "1.1", "callback"),
        _end(node, "1.1", "callback"),  # the hangup handler's retry, same batch
        _start(node, "1.2", number=""),  # withheld number
        _end(node, "1.2", "callback", number=""),
        _start(node, "1.3"),
        _end(node, "1.3", "voicemail"),
        _end(node, "1.4", "callback"),  # the end before its start (slow call-start)
        _start(node, "1.5"),
        _end(node, "1.5", "answered"),
    ]
    journal = Journal(tmp_path)
    journal.append([r.to_json() for r in records])
    writer = JournalWriter(journal, session_factory)
    assert await writer.drain_all() == len(records)

    requests = await _requests(session_factory, node)
    assert set(requests) == {"1.1", "1.2", "1.4"}  # voicemail and answered calls: none
    async with session_factory() as db:
        north = await db.scalar(select(County.id).where(County.code == "north"))
    assert requests["1.1"].status == "open" and requests["1.1"].number == "13800138041"
    assert requests["1.1"].county_id == north and requests["1.1"].attempts == 0
    assert requests["1.1"].requested_at.timestamp() == T0
    assert requests["1.4"].requested_at.timestamp() == T0 + 20  # no start yet: the end
    # A withheld number cannot be called back, but the request is kept.
    assert requests["1.2"].status == "unreachable" and requests["1.2"].number == ""

    # An agent works 1.1; then the whole journal is replayed (a crash before the
    # checkpoint) and a late duplicate of the end arrives: the agent's work stays.
    async with session_factory() as db:
        await db.execute(
            update(CallbackRequest)
            .where(CallbackRequest.id == requests["1.1"].id)
            .values(status="done", attempts=1, note="spoke with Ann")
        )
        await db.commit()
    journal.append([r.to_json() for r in records] + [_end(node, "1.1", "callback").to_json()])
    await writer.drain_all()
    again = await _requests(session_factory, node)
    assert {lid: r.id for lid, r in again.items()} == {lid: r.id for lid, r in requests.items()}
    assert again["1.1"].status == "done" and again["1.1"].note == "spoke with Ann"
    journal.close()


async def test_retried_and_contradicting_ends_in_one_batch(tmp_path, session_factory, seeded, node):
    """Both ends of 3.1 are callbacks (a retry: two rounds of ends in one batch); 3.2's
    later end says voicemail, and the row's final disposition is what decides."""
    records = [
        _start(node, "3.1"),
        _end(node, "3.1", "callback"),
        _end(node, "3.1", "callback"),
        _end(node, "3.2", "callback"),
        _end(node, "3.2", "voicemail"),
    ]
    journal = Journal(tmp_path)
    journal.append([r.to_json() for r in records])
    writer = JournalWriter(journal, session_factory)
    assert await writer.drain_all() == len(records)
    requests = await _requests(session_factory, node)
    assert set(requests) == {"3.1"} and requests["3.1"].status == "open"
    journal.close()
