"""The relay from the tracker's domain events to the bus the agents' hub listens on."""

from __future__ import annotations

import asyncio

from cti.ami.events import AgentStateChanged, CallOffered, CallOfferWithdrawn
from cti.ami.relay import ScreenPopRelay
from cti.ami.replay import replay
from cti.bus import CALLS_CHANNEL, SCREENPOP_CHANNEL, InMemoryBus
from cti.web.hub import PendingPops
from tests.unit.ami.support import trace


class _NoDatabase:
    """A session factory whose sessions fail: the pop still goes out, lookup_failed."""

    def __call__(self):
        return self

    async def __aenter__(self):
        raise OSError("database down")

    async def __aexit__(self, *exc):
        return False


async def _drain(subscription) -> list[dict]:
    out = []
    while True:
        try:
            out.append(await asyncio.wait_for(subscription.__anext__(), 0.05))
        except TimeoutError:
            return out


async def test_agent_state_and_pops_reach_the_bus_addressed_to_the_interface():
    bus = InMemoryBus()
    subscription = await bus.subscribe(SCREENPOP_CHANNEL)
    relay = ScreenPopRelay(bus, _NoDatabase())  # type: ignore[arg-type]
    events = replay(trace("ami-answered-queue-call.txt"), "pbx1")
    offer = next(e for e in events if isinstance(e, CallOffered))
    await relay(AgentStateChanged("pbx1", "PJSIP/1001", "ringing"))
    await relay(offer)
    await relay.drain()
    await relay(CallOfferWithdrawn("pbx1", offer.linkedid, "PJSIP/1001", "caller_hangup"))
    messages = await _drain(subscription)
    assert [m["type"] for m in messages] == ["agent_state", "pop", "withdraw"]
    assert {m["interface"] for m in messages} == {"PJSIP/1001"}
    state, pop, withdraw = messages
    assert state["state"] == "ringing"
    assert pop["pop_id"] == withdraw["pop_id"] == f"pbx1:{offer.linkedid}:PJSIP/1001"
    assert pop["pop"]["lookup_failed"] is True

    # What the hub keeps pending follows the same messages: the pop, then nothing.
    pending = PendingPops()
    pending.apply(pop)
    assert pending.for_interface("PJSIP/1001") == [pop]
    pending.apply(withdraw)
    assert pending.for_interface("PJSIP/1001") == []
    assert pending.agent_states == {}
    pending.apply(state)
    assert pending.agent_states["PJSIP/1001"]["state"] == "ringing"


def test_hub_ignores_malformed_messages():
    pending = PendingPops()
    for message in (
        {"type": "pop", "interface": "PJSIP/1", "pop_id": ["not", "a", "string"], "pop": {}},
        {"type": "pop", "interface": "PJSIP/1", "pop_id": "a:b:c", "pop": "not a dict"},
        {"type": "answered", "interface": "PJSIP/1", "pop_id": {"x": 1}},
        {"type": "withdraw", "interface": None, "pop_id": "a:b:c"},
        {"interface": "PJSIP/1"},
    ):
        pending.apply(message)
    assert pending.count() == 0


async def test_call_ended_also_goes_to_the_calls_channel():
    # The recording service indexes an ended call's file from this message.
    bus = InMemoryBus()
    calls = await bus.subscribe(CALLS_CHANNEL)
    pops = await bus.subscribe(SCREENPOP_CHANNEL)
    relay = ScreenPopRelay(bus, _NoDatabase())  # type: ignore[arg-type]
    for event in replay(trace("ami-answered-queue-call.txt"), "pbx1"):
        await relay(event)
        await relay.drain()
    assert await _drain(calls) == [
        {"type": "call_ended", "node": "pbx1", "linkedid": "1795710920.0"}
    ]
    assert [m["type"] for m in await _drain(pops)][-1] == "ended"
