"""The pops the AMI side records (``PopRecord`` -> ``screen_pops``, real Postgres): what a
restarted AMI side takes back, what a (re)loading browser is sent, closing."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

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
    assert [m["pop_id"] for m in restored] == [m["pop_id"] for m in messages]
