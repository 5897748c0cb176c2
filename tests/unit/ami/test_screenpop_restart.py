"""PopBook after a restart of the AMI side: recorded pops taken back, reconciled with what
the resync found (``node_resynced``); and the hub's per-socket dedupe and ended pops."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from cti.ami.events import CallEnded, CallOffered, NodeResynced
from cti.ami.screenpop import Pop, PopBook, build_pop, pop_id, pop_of_message
from cti.web.hub import PendingPops, _changes


def _offer(linkedid: str, interface: str) -> CallOffered:
    return CallOffered(
        node="pbx1",
        linkedid=linkedid,
        uniqueid=linkedid,
        caller_number="13800138000",
        caller_name="<b>x</b>",
        did="9615601",
        county="north",
        queue="county-north",
        agent_interface=interface,
        at=datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
    )


def _recorded(linkedid: str, interface: str, state: str) -> dict:
    offer = _offer(linkedid, interface)
    key = pop_id("pbx1", linkedid, interface)
    payload = build_pop(Pop(key, offer, state=state), {})
    return {"type": "pop", "pop_id": key, "pop": payload, "interface": interface}


def test_restored_pops_are_reconciled_with_the_resync_once():
    book = PopBook()
    for message in (
        _recorded("1.1", "PJSIP/1", "ringing"),  # still ringing
        _recorded("1.2", "PJSIP/2", "answered"),  # still in call
        _recorded("1.3", "PJSIP/3", "ringing"),  # ended while we were away
        _recorded("1.4", "PJSIP/4", "answered"),  # hung up while we were away
        _recorded("1.5", "PJSIP/5", "ringing"),  # answered while we were away
    ):
        pop = pop_of_message(message)
        assert pop is not None and book.restore(pop)
    # The resync re-offers what rings and is in call: no second show.
    assert book.apply(_offer("1.1", "PJSIP/1")) == []
    assert book.apply(_offer("1.2", "PJSIP/2")) == []
    live = (("1.1", "PJSIP/1", "ringing"), ("1.2", "PJSIP/2", "answered"))
    live += (("1.5", "PJSIP/5", "answered"),)
    actions = book.apply(NodeResynced(node="pbx1", live=live))
    assert [(a.kind, a.agent_interface, a.reason) for a in actions] == [
        ("withdraw", "PJSIP/3", "vanished"),
        ("ended", "PJSIP/4", None),
        ("answered", "PJSIP/5", None),
    ]
    # A second resync changes nothing; the call's end ends its pop once.
    assert book.apply(NodeResynced(node="pbx1", live=live)) == []
    ended = book.apply(
        CallEnded(node="pbx1", linkedid="1.2", disposition="answered", wait_s=1, talk_s=2)
    )
    assert [(a.kind, a.agent_interface) for a in ended] == [("ended", "PJSIP/2")]
    # Another node's resync does not touch pbx1's pops.
    assert book.apply(NodeResynced(node="pbx2", live=())) == []


def test_unreadable_or_hostile_records_are_skipped():
    assert pop_of_message({"pop_id": "x"}) is None
    assert pop_of_message({"pop_id": "x", "pop": {"node": "n", "offered_at": "nope"}}) is None
    ended = _recorded("1.1", "PJSIP/1", "ended")
    assert pop_of_message(ended) is None  # ended pops are the API side's, not the book's


def test_an_ended_pop_stays_pending_until_closed():
    pending = PendingPops(clock=lambda: 0.0)
    message = _recorded("1.1", "PJSIP/1", "ringing")
    pending.apply(message)
    pending.apply({"type": "answered", "pop_id": message["pop_id"], "interface": "PJSIP/1"})
    pending.apply({"type": "ended", "pop_id": message["pop_id"], "interface": "PJSIP/1"})
    [held] = pending.for_interface("PJSIP/1")
    assert held["pop"]["state"] == "ended"
    pending.apply({"type": "closed", "pop_id": message["pop_id"], "interface": "PJSIP/1"})
    assert pending.for_interface("PJSIP/1") == []
    # A recorded row written late does not bring a closed pop back.
    assert pending.merge("PJSIP/1", [message]) == []
    # Another interface's row is never merged in.
    other = _recorded("1.9", "PJSIP/9", "ringing")
    assert pending.merge("PJSIP/1", [other]) == []


def test_a_socket_gets_each_state_of_a_pop_once():
    shown: dict[str, str] = {}
    message = _recorded("1.1", "PJSIP/1", "ringing")
    key = message["pop_id"]
    assert _changes(shown, message) is True
    assert _changes(shown, message) is False  # snapshot and live stream overlapped
    assert _changes(shown, {"type": "answered", "pop_id": key}) is True
    assert _changes(shown, {"type": "answered", "pop_id": key}) is False
    assert _changes(shown, {"type": "withdraw", "pop_id": key}) is True
    assert _changes(shown, message) is True  # rings again after a withdrawal


def test_a_calls_end_closes_its_pops_only_oldest_first_and_once():
    book = PopBook()
    for linkedid, interface in (("2.1", "PJSIP/1"), ("2.2", "PJSIP/2"), ("2.1", "PJSIP/3")):
        assert [a.kind for a in book.apply(_offer(linkedid, interface))] == ["show"]
    book.apply(dataclasses.replace(_offer("2.1", "PJSIP/9"), node="pbx2"))
    end = CallEnded(node="pbx1", linkedid="2.1", disposition="answered", wait_s=1, talk_s=2)
    assert [(a.kind, a.agent_interface) for a in book.apply(end)] == [
        ("withdraw", "PJSIP/1"),
        ("withdraw", "PJSIP/3"),
    ]
    assert book.apply(end) == []
    # The other call, and the same linkedid on another node, still pop.
    assert len(book) == 2
    assert book.get(pop_id("pbx1", "2.2", "PJSIP/2")) is not None
    assert book.get(pop_id("pbx2", "2.1", "PJSIP/9")) is not None
    # A pop taken back after a restart ends with its call like the others.
    assert book.restore(Pop(pop_id("pbx1", "2.1", "PJSIP/4"), _offer("2.1", "PJSIP/4")))
    assert [a.agent_interface for a in book.apply(end)] == ["PJSIP/4"]
