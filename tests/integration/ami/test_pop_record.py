"""The pops the AMI side records (``PopRecord`` -> ``screen_pops``, real Postgres): what a
restarted AMI side takes back, what a (re)loading browser is sent, closing."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest

from cti.ami.events import CallOffered
from cti.ami.popstore import PopRecord
from cti.ami.screenpop import Pop, build_pop, pop_id
from cti.store import screen_pops


def _message(node: str, linkedid: str, interface: str, state: str) -> dict:
    offer = CallOffered(
        node=node,
        linkedid=linkedid,
        uniqueid=linkedid,
        caller_number="13800138000",
        caller_name="'; DROP TABLE screen_pops; --",
        did=None,
        county=None,
        queue="county-north",
        agent_interface=interface,
        at=datetime.now(UTC),
    )
    key = pop_id(node, linkedid, interface)
    return {
        "type": "pop",
        "pop_id": key,
        "pop": build_pop(Pop(key, offer, state=state), {}),
        "interface": interface,
    }


async def test_recorded_pops_are_restored_shown_and_closed(session_factory):
    node = "n" + secrets.token_hex(4)
    me, other = f"PJSIP/r{secrets.token_hex(3)}", f"PJSIP/r{secrets.token_hex(3)}"
    record = PopRecord(session_factory)
    ringing = _message(node, "1.1", me, "ringing")
    talking = _message(node, "1.2", me, "answered")
    gone = _message(node, "1.3", me, "ringing")
    ended = _message(node, "1.4", me, "ended")
    theirs = _message(node, "1.5", other, "ringing")
    for message in (ringing, talking, gone, ended, theirs):
        record.put(message)
    record.delete(gone["pop_id"])
    await record.flush()
    try:
        restored = await record.restore(node)
        assert {m["pop_id"] for m in restored} == {
            ringing["pop_id"],
            talking["pop_id"],
            theirs["pop_id"],
        }  # the ended one is the API side's; the withdrawn one is gone
        shown = await screen_pops.for_interface(session_factory, me)
        assert [m["pop_id"] for m in shown] == [m["pop_id"] for m in (ringing, talking, ended)]
        assert shown[0]["pop"]["caller"]["name"] == "'; DROP TABLE screen_pops; --"
        # Only the interface's own ended pop can be closed.
        assert not await screen_pops.close(session_factory, ended["pop_id"], other)
        assert not await screen_pops.close(session_factory, ringing["pop_id"], me)
        assert await screen_pops.close(session_factory, ended["pop_id"], me)
        # A late write of the same pop does not reopen it.
        record.put(ended)
        await record.flush()
        shown = await screen_pops.for_interface(session_factory, me)
        assert ended["pop_id"] not in {m["pop_id"] for m in shown}
    finally:
        for message in (ringing, talking, ended, theirs):
            record.delete(message["pop_id"])
        await record.close()


async def test_pops_put_just_before_the_ami_side_stops_are_written(session_factory):
    """Shutdown: ``AmiService.stop`` drains the relay, so the pop records still queued
    reach ``screen_pops`` before the process ends (without the drain they were lost)."""
    from cti.ami.relay import ScreenPopRelay
    from cti.ami.service import AmiService
    from cti.bus import InMemoryBus
    from cti.numbers import NumberPlan

    node = "n" + secrets.token_hex(4)
    me = f"PJSIP/r{secrets.token_hex(3)}"
    relay = ScreenPopRelay(InMemoryBus(), session_factory, record=PopRecord(session_factory))
    service = AmiService([], NumberPlan(), relay, drain=relay.drain)
    await service.start()
    messages = [_message(node, f"2.{i}", me, "answered") for i in range(50)]
    for message in messages:
        relay.record.put(message)
    await service.stop()
    writer = relay.record._task
    if writer is not None:  # what the end of the process does to a task still writing
        writer.cancel()
    restored = await PopRecord(session_factory).restore(node)  # the node is this run's
    # Every one written; one batch's rows share their updated_at, so their order among
    # themselves is not the put order.
    assert sorted(m["pop_id"] for m in restored) == sorted(m["pop_id"] for m in messages)


def _seen(message: dict, state: str) -> dict:
    """What the API side's hub receives on the bus for this pop's ``state``."""
    if state == "ringing":
        return {**message, "pop": {**message["pop"], "state": "ringing"}}
    return {"type": state, "pop_id": message["pop_id"], "interface": message["interface"]}


@pytest.mark.parametrize("written_before", ["nothing", "ringing", "answered"])
async def test_a_close_before_the_ended_row_is_written_stays_closed(
    session_factory, written_before
):
    """The race: the agent closes the ended pop while the AMI side's write of "ended" is
    still queued. The row then said ringing or answered (or did not exist: a pop answered
    and ended before its lookup came back is first written as ended), so the close matched
    no ended row, and the late write made an open ended row: the pop came back on the
    next reload. The two writes are ordered here by hand: the row as it was, the close,
    then the "ended" write."""
    from cti.bus import InMemoryBus
    from cti.web.hub import AgentHub

    node = "n" + secrets.token_hex(4)
    me = f"PJSIP/r{secrets.token_hex(3)}"
    record = PopRecord(session_factory)
    ended = _message(node, "3.1", me, "ended")
    if written_before != "nothing":
        record.put(_message(node, "3.1", me, written_before))
        await record.flush()
    hub = AgentHub(InMemoryBus(), session_factory=session_factory)
    for state in ("ringing", "answered", "ended"):
        hub.dispatch(_seen(ended, state))
    try:
        await hub.receive(me, {"type": "close", "pop_id": ended["pop_id"]})
        record.put(ended)  # the write of "ended" lands after the close
        await record.flush()
        assert record.writes >= 1 and record._pending == {}
        shown = await screen_pops.for_interface(session_factory, me)
        assert ended["pop_id"] not in {m["pop_id"] for m in shown}
        # Another API process (or this one restarted) sends the reloading browser nothing.
        later = AgentHub(InMemoryBus(), session_factory=session_factory)
        assert await later._snapshot(me) == []
        assert await record.restore(node) == []
    finally:
        record.delete(ended["pop_id"])
        await record.close()


async def test_a_close_is_refused_for_a_pop_that_has_not_ended(session_factory):
    """The hub closes only what it saw end: a ringing or answered pop cannot be closed
    by the browser, even though the row is now written through the ended message."""
    from cti.bus import InMemoryBus
    from cti.web.hub import AgentHub

    node = "n" + secrets.token_hex(4)
    me = f"PJSIP/r{secrets.token_hex(3)}"
    record = PopRecord(session_factory)
    talking = _message(node, "4.1", me, "answered")
    record.put(talking)
    await record.flush()
    hub = AgentHub(InMemoryBus(), session_factory=session_factory)
    hub.dispatch(_seen(talking, "ringing"))
    hub.dispatch(_seen(talking, "answered"))
    try:
        await hub.receive(me, {"type": "close", "pop_id": talking["pop_id"]})
        await hub.receive(me, {"type": "close", "pop_id": talking["pop_id"][:-1] + "9"})
        shown = await screen_pops.for_interface(session_factory, me)
        assert [(m["pop_id"], m["pop"]["state"]) for m in shown] == [
            (talking["pop_id"], "answered")
        ]
    finally:
        record.delete(talking["pop_id"])
        await record.close()


async def test_an_api_side_restarted_mid_call_closes_the_pop_it_learnt_from_the_record(
    session_factory,
):
    """The API process restarted during the call: it knows the pop from its row (answered)
    when the browser reconnects, then sees it end on the bus; the agent's Close must
    outlive the AMI side's late write of "ended" there too."""
    from cti.bus import InMemoryBus
    from cti.web.hub import AgentHub

    node = "n" + secrets.token_hex(4)
    me = f"PJSIP/r{secrets.token_hex(3)}"
    record = PopRecord(session_factory)
    ended = _message(node, "5.1", me, "ended")
    record.put(_message(node, "5.1", me, "answered"))
    await record.flush()
    restarted = AgentHub(InMemoryBus(), session_factory=session_factory)
    try:
        snapshot = await restarted._snapshot(me)  # the browser reconnects
        assert [(m["pop_id"], m["pop"]["state"]) for m in snapshot] == [
            (ended["pop_id"], "answered")
        ]
        restarted.dispatch(_seen(ended, "ended"))
        await restarted.receive(me, {"type": "close", "pop_id": ended["pop_id"]})
        record.put(ended)  # the write of "ended" lands after the close
        await record.flush()
        later = AgentHub(InMemoryBus(), session_factory=session_factory)
        assert await later._snapshot(me) == []
    finally:
        record.delete(ended["pop_id"])
        await record.close()


async def test_changes_within_the_batch_window_are_one_write(session_factory):
    """A call's show, answer and end come milliseconds apart: they reach Postgres as one
    write (upserts and deletes in one statement), with each pop's last state."""
    node = "n" + secrets.token_hex(4)
    me = f"PJSIP/w{secrets.token_hex(3)}"
    record = PopRecord(session_factory, batch_s=0.2)
    first = _message(node, "3.1", me, "ringing")
    second = _message(node, "3.2", me, "ringing")
    try:
        record.put(first)
        record.put(second)
        record.put(_message(node, "3.1", me, "answered"))
        record.delete(second["pop_id"])
        await record.flush()
        assert record.writes == 1
        shown = await screen_pops.for_interface(session_factory, me)
        assert [(m["pop_id"], m["pop"]["state"]) for m in shown] == [(first["pop_id"], "answered")]
    finally:
        record.delete(first["pop_id"])
        await record.close()


async def test_a_reloading_browser_gets_the_newest_ended_pops_only(session_factory):
    """An agent who never closes pops: a reload brings back the newest MAX_ENDED ended
    ones, and every ringing or answered one, oldest first."""
    from datetime import timedelta

    node = "n" + secrets.token_hex(4)
    me = f"PJSIP/e{secrets.token_hex(3)}"
    start = datetime.now(UTC) - timedelta(minutes=30)
    ended = [_message(node, f"4.{n}", me, "ended") for n in range(screen_pops.MAX_ENDED + 3)]
    talking = _message(node, "5.1", me, "answered")
    try:
        for n, message in enumerate(ended):
            await screen_pops.write(session_factory, [message], [], start + timedelta(seconds=n))
        await screen_pops.write(session_factory, [talking], [], start)  # the oldest row
        shown = [m["pop_id"] for m in await screen_pops.for_interface(session_factory, me)]
        newest = [m["pop_id"] for m in ended[-screen_pops.MAX_ENDED :]]
        assert shown == [talking["pop_id"], *newest]
    finally:
        ids = [m["pop_id"] for m in (*ended, talking)]
        await screen_pops.write(session_factory, [], ids, datetime.now(UTC))
