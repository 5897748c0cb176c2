"""The call tracker: AMI events in, domain events out. Pure: no I/O, no asyncio, no clock
but the one it is given.

State is kept per Asterisk node, and within a node by Uniqueid (channels) and Linkedid
(calls); never by channel name, because after an Asterisk restart the counters start over
and ``PJSIP/pstn-gw-00000000`` names a new channel (capture 2, scenario l). A restart can
even reuse a Uniqueid or Linkedid; a ``Newchannel`` for an id we still hold means the old
one died unseen, and it is closed first.

How each domain event is derived (the scenario that shows it is in brackets):

* ``call_offered``: ``AgentCalled`` (queue rings a member) [a, o, l]; after a call was
  answered, a ``DialBegin`` to a known queue member's device is a transfer ringing that
  agent (blind: the caller channel dials; attended: a ``Local/...;2`` dials) and pops too;
  at resync, an ``AppQueue`` leg still ringing that we never offered.
* ``call_offer_withdrawn``: the first of ``DialEnd`` (not ANSWER), ``AgentRingNoAnswer``,
  the leg's ``Hangup``, ``QueueCallerAbandon``/the caller's ``Hangup``, or ``AgentConnect``
  of another member. Ring-all losers get ``DialEnd CANCEL`` twice and ``Hangup Cause 26``
  but **no** ``AgentRingNoAnswer``; a caller who hangs up while an agent rings gives
  ``DialEnd CANCEL`` and no ``AgentRingNoAnswer`` either. The reason comes from what
  was seen before: ``SoftHangupRequest Cause: 4`` (AST_SOFTHANGUP_SHUTDOWN, sent to every
  channel by ``core restart now`` [l]), an answer on another leg, the caller's
  ``HangupRequest`` (their BYE [b]), the dial status.
* ``call_answered``: ``AgentConnect`` (its ``HoldTime`` is the wait) [a, n, o]; the
  answering leg's ``DialEnd ANSWER`` comes first and marks the others as answered
  elsewhere.
* ``call_abandoned``: ``QueueCallerAbandon`` (``HoldTime``, ``Position``) [b, n, l].
* ``call_ended``: when the last channel of the Linkedid hangs up, for calls that reached
  the hotline (a ``HotlineCall`` UserEvent or a queue). Talk time is ``AgentComplete``'s
  ``TalkTime``; Queue's own ``QUEUESTATUS`` is never set when the caller ends the call, so
  it is not used.
* ``agent_state``: ``QueueMemberStatus``/``Added``/``Pause``/``Removed`` and the
  ``QueueMember`` items of ``QueueStatus``. ``Status`` is the device state, the same in
  every queue; ``Paused`` is per queue, and an agent is ``paused`` when paused in every
  queue they belong to. ``InCall`` is ignored: it reads 0 for a busy agent.

DID and county survive an ``Events: call,agent,user`` login [o], which drops ``VarSet``:
they come from the dialplan's ``UserEvent(HotlineCall, County:, DID:, ...)`` (class user),
else the caller's ``Newchannel`` ``Exten`` (the dialled DID, before the dialplan moves to
``s``), else ``DNID`` from a ``Status`` response at resync; the county falls back to the
queue name (``county-north`` -> ``north``, or the mapping the caller provides).

Resync: the connection feeds the answers of ``QueueStatus``, ``Status`` and
``CoreShowChannels`` through ``feed`` like any event; ``cti.ami.resync`` applies them.
Agent states are folded by ``cti.ami.agents``; the state itself is in ``cti.ami.state``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cti.ami import agents
from cti.ami.escaping import caller_name as _clean_name
from cti.ami.events import (
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallOffered,
    CallOfferWithdrawn,
    Disposition,
    DomainEvent,
    WithdrawReason,
    from_epoch,
)
from cti.ami.resync import SnapshotHandlers
from cti.ami.state import (
    COUNTY_RE,
    MAX_EPOCH,
    MAX_FIELD,
    QUEUE_RE,
    Call,
    Channel,
    NodeState,
    Offer,
    default_county_of_queue,
    device_of,
    header,
    to_int,
    valid_did,
)
from cti.numbers import NumberPlan, normalise_key

__all__ = ["HOTLINE_USER_EVENT", "CallTracker", "default_county_of_queue", "device_of"]

#: The UserEvent our dialplan raises just before ``Queue()`` (asterisk_conf).
HOTLINE_USER_EVENT = "HotlineCall"

# ``SoftHangupRequest`` carries the soft-hangup flag as ``Cause``; 4 is
# AST_SOFTHANGUP_SHUTDOWN ([l]: both channels get it when ``core restart now`` runs).
_SOFTHANGUP_SHUTDOWN = "4"
# Q.850 cause 26 "answered elsewhere": ring-all losers' legs hang up with it.
_CAUSE_ANSWERED_ELSEWHERE = "26"
_REJECTED_DIALSTATUS = frozenset({"BUSY", "CONGESTION", "CHANUNAVAIL"})


class CallTracker(SnapshotHandlers):
    """Folds AMI events of one or more Asterisk nodes into calls, queue entries and agent
    states, and returns the domain events each one causes.

    ``feed(event, node)`` takes any mapping of AMI headers (a parsed message or a
    panoramisk ``Message``) and returns the domain events it causes, in order. Unknown
    events and malformed values are ignored; it never raises on event content.

    ``clock`` gives the time for events that carry no ``Timestamp`` (action responses);
    ``county_of_queue`` maps a queue name to a county code when the UserEvent is absent.
    """

    def __init__(
        self,
        number_plan: NumberPlan | None = None,
        *,
        county_of_queue: Callable[[str], str | None] = default_county_of_queue,
        clock: Callable[[], float] = time.time,
        user_event: str = HOTLINE_USER_EVENT,
    ) -> None:
        self.number_plan = number_plan or NumberPlan()
        self.county_of_queue = county_of_queue
        self.clock = clock
        self.user_event = user_event
        self._nodes: dict[str, NodeState] = {}
        self._handlers: dict[str, Callable[[NodeState, Mapping[str, Any], list[DomainEvent]], None]]
        self._handlers = {
            "Newchannel": self._on_newchannel,
            "NewCallerid": self._on_newcallerid,
            "UserEvent": self._on_userevent,
            "QueueCallerJoin": self._on_caller_join,
            "QueueCallerLeave": self._on_caller_leave,
            "QueueCallerAbandon": self._on_caller_abandon,
            "AgentCalled": self._on_agent_called,
            "AgentRingNoAnswer": self._on_agent_ring_no_answer,
            "AgentConnect": self._on_agent_connect,
            "AgentComplete": self._on_agent_complete,
            "DialBegin": self._on_dial_begin,
            "DialEnd": self._on_dial_end,
            "HangupRequest": self._on_hangup_request,
            "SoftHangupRequest": self._on_soft_hangup_request,
            "Hangup": self._on_hangup,
            "BlindTransfer": self._on_blind_transfer,
            "AttendedTransfer": self._on_attended_transfer,
            "Shutdown": self._on_shutdown,
            "QueueMemberStatus": agents.on_member,
            "QueueMemberAdded": agents.on_member,
            "QueueMemberPause": agents.on_member,
            "QueueMemberRemoved": agents.on_member_removed,
            "CoreShowChannel": self._on_core_show_channel,
            "CoreShowChannelsComplete": self._on_core_show_channels_complete,
            "QueueParams": self._on_queue_params,
            "QueueMember": self._on_queue_member,
            "QueueEntry": self._on_queue_entry,
            "QueueStatusComplete": self._on_queue_status_complete,
            "Status": self._on_status,
        }

    #: Event names the tracker acts on; a parser may skip every other event unparsed.
    @property
    def wanted_events(self) -> frozenset[str]:
        return frozenset(self._handlers)

    # --- public API -------------------------------------------------------------------

    def feed(self, event: Mapping[str, Any], node: str = "asterisk") -> list[DomainEvent]:
        """Apply one AMI message; return the domain events it causes (often none)."""
        name = event.get("Event")
        if name is None:
            return []
        if type(name) is not str:
            name = header(event, "Event")
        handler = self._handlers.get(name)
        if handler is None:
            return []
        state = self._nodes.get(node)
        if state is None:
            state = self._nodes[node] = NodeState(node)
        out: list[DomainEvent] = []
        handler(state, event, out)
        return out

    def feed_all(
        self, events: Iterable[Mapping[str, Any]], node: str = "asterisk"
    ) -> list[DomainEvent]:
        """``feed`` each event in order; all domain events, in order."""
        out: list[DomainEvent] = []
        for event in events:
            out.extend(self.feed(event, node))
        return out

    def active_calls(self, node: str) -> int:
        """How many calls (Linkedids) the tracker holds for ``node`` (for metrics)."""
        state = self._nodes.get(node)
        return len(state.calls) if state else 0

    def live(self, node: str) -> tuple[tuple[str, str, str], ...]:
        """``(linkedid, agent_interface, "ringing" | "answered")`` of every offer ringing or
        answered on ``node`` now (after a resync: what the agents' screens should show)."""
        state = self._nodes.get(node)
        return self.live_offers(state) if state is not None else ()

    def ringing(self, node: str) -> list[tuple[str, str]]:
        """(linkedid, agent_interface) of every open offer on ``node`` (for tests/debug)."""
        state = self._nodes.get(node)
        if state is None:
            return []
        return [
            (call.linkedid, offer.interface)
            for call in state.calls.values()
            for offer in call.offers.values()
            if offer.open
        ]

    # --- helpers ----------------------------------------------------------------------

    def _ts(self, event: Mapping[str, Any]) -> float:
        """The event's own time (``timestampevents=yes``), else the clock's."""
        value = event.get("Timestamp")
        if value:
            try:
                stamp = float(header(event, "Timestamp"))
            except ValueError:
                stamp = -1.0
            if 0.0 <= stamp < MAX_EPOCH:  # not nan/inf/absurd: it becomes a datetime
                return stamp
        return self.clock()

    def _call_of(self, node: NodeState, event: Mapping[str, Any]) -> Call | None:
        """The call of a channel event, created (with its channel) if we came in late."""
        linkedid = header(event, "Linkedid")
        uniqueid = header(event, "Uniqueid")
        if not linkedid or not uniqueid:
            return None
        call = node.calls.get(linkedid)
        if call is None:
            call = node.calls[linkedid] = Call(linkedid)
        if uniqueid not in node.channels:
            node.channels[uniqueid] = Channel(
                uniqueid, linkedid, device_of(header(event, "Channel"))
            )
            call.channels.add(uniqueid)
        if uniqueid == linkedid and not call.uniqueid:
            self._set_caller(call, event)
        return call

    def _set_caller(self, call: Call, event: Mapping[str, Any]) -> None:
        call.uniqueid = header(event, "Uniqueid")
        call.caller_raw = header(event, "CallerIDNum")[:MAX_FIELD]
        call.caller_name_raw = header(event, "CallerIDName")[:1024]

    def _dest_channel(self, node: NodeState, event: Mapping[str, Any]) -> Channel | None:
        uniqueid = header(event, "DestUniqueid")
        if not uniqueid:
            return None
        channel = node.channels.get(uniqueid)
        if channel is None:
            linkedid = header(event, "DestLinkedid") or header(event, "Linkedid")
            if not linkedid:
                return None
            channel = node.channels[uniqueid] = Channel(
                uniqueid, linkedid, device_of(header(event, "DestChannel"))
            )
            call = node.calls.get(linkedid)
            if call is None:
                call = node.calls[linkedid] = Call(linkedid)
            call.channels.add(uniqueid)
        return channel

    def _offer(
        self,
        node: NodeState,
        call: Call,
        interface: str,
        leg: str | None,
        at: float,
        out: list[DomainEvent],
        *,
        transfer: bool = False,
    ) -> None:
        call.offers[interface] = Offer(interface, leg, transfer=transfer)
        queue = call.queue
        county = call.county
        if county is None and queue:
            county = self.county_of_queue(queue)
        out.append(
            CallOffered(
                node=node.name,
                linkedid=call.linkedid,
                uniqueid=call.uniqueid or call.linkedid,
                caller_number=normalise_key(call.caller_raw, self.number_plan),
                caller_name=_clean_name(call.caller_name_raw),
                did=call.did or call.exten_did,
                county=county,
                queue=queue,
                agent_interface=interface,
                at=from_epoch(at),
            )
        )

    def _withdraw(
        self, node: NodeState, call: Call, offer: Offer, reason: str, out: list[DomainEvent]
    ) -> None:
        offer.open = False
        out.append(
            CallOfferWithdrawn(
                node=node.name,
                linkedid=call.linkedid,
                agent_interface=offer.interface,
                reason=str(reason),
            )
        )

    @staticmethod
    def _reason(call: Call, dial_status: str = "", cause: str = "") -> str:
        if call.shutdown:
            return WithdrawReason.SHUTDOWN
        if call.answered_by or call.answer_pending or cause == _CAUSE_ANSWERED_ELSEWHERE:
            return WithdrawReason.ANSWERED_ELSEWHERE
        if call.caller_hangup:
            return WithdrawReason.CALLER_HANGUP
        if dial_status == "NOANSWER":
            return WithdrawReason.RING_TIMEOUT
        if dial_status in _REJECTED_DIALSTATUS:
            return WithdrawReason.REJECTED
        return WithdrawReason.CANCELLED

    def _withdraw_all(
        self, node: NodeState, call: Call, reason: str, out: list[DomainEvent]
    ) -> None:
        for offer in call.offers.values():
            if offer.open:
                self._withdraw(node, call, offer, reason, out)

    def _leg_gone(
        self,
        node: NodeState,
        call: Call,
        channel: Channel,
        out: list[DomainEvent],
        *,
        cause: str = "",
        vanished: bool = False,
        at: float,
    ) -> None:
        """A channel of ``call`` is gone (Hangup, or absent from a resync snapshot)."""
        call.channels.discard(channel.uniqueid)
        if channel.offer is not None:
            if call.answer_pending == channel.offer and call.answered_by is None:
                # It answered (DialEnd ANSWER) but hung up before AgentConnect: the
                # queue goes on ringing; nobody else was "answered elsewhere".
                call.answer_pending = None
            offer = call.offers.get(channel.offer)
            if offer is not None and offer.open and offer.leg == channel.uniqueid:
                reason = WithdrawReason.VANISHED if vanished else self._reason(call, cause=cause)
                self._withdraw(node, call, offer, reason, out)
        if channel.uniqueid == call.uniqueid:
            if vanished:
                reason = WithdrawReason.VANISHED
            elif call.shutdown:
                reason = WithdrawReason.SHUTDOWN
            else:
                reason = WithdrawReason.CALLER_HANGUP
            self._withdraw_all(node, call, reason, out)
        if not call.channels:
            self._end_call(node, call, out, vanished=vanished, at=at)

    def _end_call(
        self, node: NodeState, call: Call, out: list[DomainEvent], *, vanished: bool, at: float
    ) -> None:
        reason = WithdrawReason.VANISHED if vanished else self._reason(call)
        self._withdraw_all(node, call, reason, out)
        node.calls.pop(call.linkedid, None)
        for uniqueid in call.channels:
            node.channels.pop(uniqueid, None)
        call.channels.clear()
        if not call.hotline:
            return
        talk: int | None
        if call.transferred and call.answered_at is not None:
            disposition = Disposition.TRANSFERRED
            wait = call.wait_s
            # AgentComplete's TalkTime is the first agent's part only; the call went on.
            talk = None if vanished else max(0, round(at - call.answered_at))
        elif call.answered_by is not None:
            disposition = Disposition.ANSWERED
            wait = call.wait_s
            if call.talk_s is not None:
                talk = call.talk_s
            elif vanished or call.answered_at is None:
                talk = None
            else:
                talk = max(0, round(at - call.answered_at))
        elif call.abandoned:
            disposition, wait, talk = Disposition.ABANDONED, call.abandon_wait_s, 0
        elif vanished:
            disposition, wait, talk = Disposition.UNKNOWN, None, None
        elif call.joined_at is not None:
            # Queue() returned on its own (timeout, leavewhenempty...): not abandoned.
            left = call.left_at if call.left_at is not None else at
            disposition, wait, talk = Disposition.TIMEOUT, max(0, round(left - call.joined_at)), 0
        else:
            disposition, wait, talk = Disposition.FAILED, None, 0
        out.append(
            CallEnded(
                node=node.name,
                linkedid=call.linkedid,
                disposition=str(disposition),
                wait_s=wait,
                talk_s=talk,
            )
        )

    # --- channel and call events ------------------------------------------------------

    def _on_newchannel(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        uniqueid = header(ev, "Uniqueid")
        linkedid = header(ev, "Linkedid") or uniqueid
        if not uniqueid:
            return
        at = self._ts(ev)
        old = node.channels.pop(uniqueid, None)
        if old is not None:  # Uniqueid reused: Asterisk restarted while we were away
            old_call = node.calls.get(old.linkedid)
            if old_call is not None:
                self._leg_gone(node, old_call, old, out, vanished=True, at=at)
        call = node.calls.get(linkedid)
        if call is not None and uniqueid == linkedid:
            # A new originating channel owns this Linkedid: the call we hold is a dead
            # one from before a restart.
            self._end_call(node, call, out, vanished=True, at=at)
            call = None
        if call is None:
            call = node.calls[linkedid] = Call(linkedid)
        node.channels[uniqueid] = Channel(uniqueid, linkedid, device_of(header(ev, "Channel")))
        call.channels.add(uniqueid)
        if uniqueid == linkedid:
            self._set_caller(call, ev)
            # The dialled DID is the Exten of the first Newchannel; the dialplan then
            # moves on to ``s`` and ``h`` (README, "DID").
            call.exten_did = valid_did(header(ev, "Exten"))

    def _on_newcallerid(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        call = node.calls.get(header(ev, "Linkedid"))
        if call is not None and call.uniqueid and call.uniqueid == header(ev, "Uniqueid"):
            self._set_caller(call, ev)

    def _on_userevent(self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]) -> None:
        if header(ev, "UserEvent") != self.user_event:
            return
        call = self._call_of(node, ev)
        if call is None:
            return
        call.hotline = True
        # Headers as the dialplan wrote them; the first of a repeated key is genuine.
        did = valid_did(header(ev, "DID"))
        if did:
            call.did = did
        county = header(ev, "County")
        if county and COUNTY_RE.match(county):
            call.county = county
        queue = header(ev, "Queue")
        if queue and QUEUE_RE.match(queue) and call.queue is None:
            call.queue = queue

    def _on_caller_join(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        call = self._call_of(node, ev)
        if call is None:
            return
        call.hotline = True
        queue = header(ev, "Queue")
        if queue:
            call.queue = queue[:MAX_FIELD]
        call.joined_at = self._ts(ev)
        call.left_at = None

    def _on_caller_leave(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        call = node.calls.get(header(ev, "Linkedid"))
        if call is not None:
            call.left_at = self._ts(ev)

    def _on_caller_abandon(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        call = self._call_of(node, ev)
        if call is None or call.abandoned:
            return
        call.hotline = True
        call.abandoned = True
        call.abandon_wait_s = to_int(header(ev, "HoldTime"))
        self._withdraw_all(
            node,
            call,
            WithdrawReason.SHUTDOWN if call.shutdown else WithdrawReason.CALLER_HANGUP,
            out,
        )
        queue = header(ev, "Queue") or call.queue
        out.append(
            CallAbandoned(
                node=node.name,
                linkedid=call.linkedid,
                queue=queue[:MAX_FIELD] if queue else None,
                wait_s=call.abandon_wait_s,
                position=to_int(header(ev, "Position")),
            )
        )

    def _on_agent_called(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        call = self._call_of(node, ev)
        interface = header(ev, "Interface")[:MAX_FIELD]
        if call is None or not interface:
            return
        call.hotline = True
        queue = header(ev, "Queue")
        if queue and call.queue is None:
            call.queue = queue[:MAX_FIELD]
        leg = self._dest_channel(node, ev)
        if leg is not None:
            leg.offer = interface
        offer = call.offers.get(interface)
        if offer is not None and offer.open:  # still ringing: never pop twice
            offer.leg = leg.uniqueid if leg else offer.leg
            return
        self._offer(node, call, interface, leg.uniqueid if leg else None, self._ts(ev), out)

    def _on_agent_ring_no_answer(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        call = node.calls.get(header(ev, "Linkedid"))
        if call is None:
            return
        offer = call.offers.get(header(ev, "Interface"))
        if offer is not None and offer.open:
            reason = WithdrawReason.SHUTDOWN if call.shutdown else WithdrawReason.RING_TIMEOUT
            self._withdraw(node, call, offer, reason, out)

    def _on_agent_connect(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        call = self._call_of(node, ev)
        interface = header(ev, "Interface")[:MAX_FIELD]
        if call is None or not interface or call.answered_by == interface:
            return
        call.hotline = True
        offer = call.offers.get(interface)
        if offer is not None:
            offer.open = False
        call.answered_by = interface
        call.answer_pending = None
        call.answered_at = self._ts(ev)
        call.wait_s = to_int(header(ev, "HoldTime"))
        call.talk_s = None
        out.append(
            CallAnswered(
                node=node.name,
                linkedid=call.linkedid,
                agent_interface=interface,
                wait_s=call.wait_s,
            )
        )
        self._withdraw_all(node, call, WithdrawReason.ANSWERED_ELSEWHERE, out)

    def _on_agent_complete(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        call = self._call_of(node, ev)
        if call is None:
            return
        call.hotline = True
        if call.answered_by is None:
            # Connected before we were: the call "first shows up at its AgentComplete".
            call.answered_by = header(ev, "Interface")[:MAX_FIELD] or None
        if call.wait_s is None:
            call.wait_s = to_int(header(ev, "HoldTime"))
        call.talk_s = to_int(header(ev, "TalkTime"))
        if call.answered_at is None and call.talk_s is not None:
            call.answered_at = self._ts(ev) - call.talk_s
        if header(ev, "Reason") == "transfer":
            call.transferred = True

    def _on_dial_begin(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        leg = self._dest_channel(node, ev)
        if leg is None or leg.offer is not None:
            return
        call = node.calls.get(leg.linkedid)
        if call is None or not call.hotline:
            return
        if call.answered_by is None and not call.transferred:
            return
        # A transfer ringing another agent: same Linkedid, plain Dial, no Agent* events.
        interface = leg.device
        if interface not in node.agents or interface.startswith("Local/"):
            return
        offer = call.offers.get(interface)
        if offer is not None and offer.open:
            return
        leg.offer = interface
        self._offer(node, call, interface, leg.uniqueid, self._ts(ev), out, transfer=True)

    def _on_dial_end(self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]) -> None:
        leg = node.channels.get(header(ev, "DestUniqueid"))
        if leg is None or leg.offer is None:
            return
        call = node.calls.get(leg.linkedid)
        if call is None:
            return
        offer = call.offers.get(leg.offer)
        if offer is None or not offer.open or offer.leg != leg.uniqueid:
            return
        status = header(ev, "DialStatus")
        if status == "ANSWER":
            if offer.transfer:
                offer.open = False
                call.answered_by = offer.interface
                out.append(
                    CallAnswered(
                        node=node.name,
                        linkedid=call.linkedid,
                        agent_interface=offer.interface,
                        wait_s=call.wait_s,
                    )
                )
            else:  # the queue's AgentConnect follows with the hold time
                call.answer_pending = offer.interface
            return
        self._withdraw(node, call, offer, self._reason(call, dial_status=status), out)

    def _on_hangup_request(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        # A HangupRequest on the caller's channel is their BYE ([b]: it precedes
        # QueueCallerAbandon).
        call = node.calls.get(header(ev, "Linkedid"))
        if call is not None and call.uniqueid == header(ev, "Uniqueid"):
            call.caller_hangup = True

    def _on_soft_hangup_request(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        if header(ev, "Cause") != _SOFTHANGUP_SHUTDOWN:
            return
        call = node.calls.get(header(ev, "Linkedid"))
        if call is not None:
            call.shutdown = True

    def _on_hangup(self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]) -> None:
        channel = node.channels.pop(header(ev, "Uniqueid"), None)
        if channel is None:
            return
        call = node.calls.get(channel.linkedid)
        if call is not None:
            self._leg_gone(node, call, channel, out, cause=header(ev, "Cause"), at=self._ts(ev))

    def _on_blind_transfer(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        if header(ev, "Result") != "Success":
            return
        for key in ("TransfererLinkedid", "TransfereeLinkedid"):
            call = node.calls.get(header(ev, key))
            if call is not None and call.hotline:
                call.transferred = True

    def _on_attended_transfer(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        # AttendedTransfer never names the new agent; its leg was offered at DialBegin.
        if header(ev, "Result") != "Success":
            return
        for key in ("OrigTransfererLinkedid", "SecondTransfererLinkedid", "TransfereeLinkedid"):
            call = node.calls.get(header(ev, key))
            if call is not None and call.hotline:
                call.transferred = True

    def _on_shutdown(self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]) -> None:
        # Every channel is gone when Asterisk stops; anything still held was missed.
        at = self._ts(ev)
        for call in list(node.calls.values()):
            self._end_call(node, call, out, vanished=True, at=at)
        node.channels.clear()
