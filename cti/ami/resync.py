"""Resynchronisation: the answers to ``QueueStatus``, ``Status`` and ``CoreShowChannels``
that the connection sends after every login (and after a late ``FullyBooted``).

No past event is replayed when a listener connects (capture2 README, "Connecting while
calls are in progress"): the state of calls already in progress comes only from these
answers. Their items are collected and applied at their ``...Complete`` event (AMI writes
a list response in one piece, so no live event falls between its items):

* ``QueueStatusComplete``: member states (``agents.apply_snapshot``) and the callers
  waiting (``QueueEntry``: Uniqueid, queue, wait -- no Linkedid);
* ``StatusComplete``: the caller's ``DNID`` (the DID) of each channel;
* ``CoreShowChannelsComplete``, the commit point: channels we hold that Asterisk no
  longer has ended while we were away (withdrawn as ``vanished``, calls ended with
  disposition ``unknown``); channels we did not know are calls that started before we
  connected; a caller in ``Application: Queue`` waits in the queue of its
  ``ApplicationData``; a leg app_queue dialled (``Application: AppQueue``) that still rings
  is offered unless already offered, and one that is ``Up`` was answered (``call_answered``
  if we had popped it; offered and answered at once if we had not: the process started
  mid-call). Nothing already emitted is emitted again. ``CallTracker.live`` then lists every
  offer ringing or answered (``AmiService`` publishes it as ``node_resynced``, so the
  screen-pop side can withdraw pops it made before a restart for calls that ended meanwhile).

``SnapshotHandlers`` is a mixin of ``CallTracker``: it uses the tracker's call helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cti.ami import agents
from cti.ami.events import CallAnswered, DomainEvent, WithdrawReason
from cti.ami.state import (
    MAX_FIELD,
    Call,
    Channel,
    NodeState,
    QueueSnapshot,
    device_of,
    header,
    to_int,
    valid_did,
)

# ChannelState of an outbound leg that has not been answered: Down (created), Ringing.
_RINGING_CHANNEL_STATES = frozenset({"0", "5"})
_UP = "6"


class SnapshotHandlers:
    """Handlers of the resync answers (mixed into ``CallTracker``)."""

    clock: Callable[[], float]
    _offer: Callable[..., None]
    _leg_gone: Callable[..., None]
    _end_call: Callable[..., None]
    _set_caller: Callable[[Call, Mapping[str, Any]], None]
    _withdraw_all: Callable[[NodeState, Call, str, list[DomainEvent]], None]

    def _queue_snapshot(self, node: NodeState) -> QueueSnapshot:
        if node.queue_snapshot is None:
            node.queue_snapshot = QueueSnapshot()
        return node.queue_snapshot

    def _on_queue_params(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        queue = header(ev, "Queue")
        if queue:
            self._queue_snapshot(node).queues.append(queue)

    def _on_queue_member(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        self._queue_snapshot(node).members.append(ev)

    def _on_queue_entry(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        self._queue_snapshot(node).entries.append(ev)

    def _on_queue_status_complete(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        snapshot = node.queue_snapshot or QueueSnapshot()
        node.queue_snapshot = None
        agents.apply_snapshot(node, snapshot, out)
        now = self.clock()
        for item in snapshot.entries:
            uniqueid = header(item, "Uniqueid")
            queue = header(item, "Queue")
            if not uniqueid or not queue:
                continue
            wait = to_int(header(item, "Wait"))
            node.entries[uniqueid] = (queue, wait)
            channel = node.channels.get(uniqueid)
            if channel is not None:
                call = node.calls.get(channel.linkedid)
                if call is not None:
                    self._apply_entry(call, queue, wait, now)

    @staticmethod
    def _apply_entry(call: Call, queue: str, wait: int | None, now: float) -> None:
        call.hotline = True
        if call.queue is None:
            call.queue = queue[:MAX_FIELD]
        if call.joined_at is None:
            call.joined_at = now - (wait or 0)

    # --- resync: Status ---------------------------------------------------------------

    def _on_status(self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]) -> None:
        uniqueid = header(ev, "Uniqueid")
        dnid = valid_did(header(ev, "DNID"))
        if not uniqueid or not dnid:
            return
        node.dnid[uniqueid] = dnid
        channel = node.channels.get(uniqueid)
        if channel is not None:
            call = node.calls.get(channel.linkedid)
            if call is not None and call.uniqueid == uniqueid and call.exten_did is None:
                call.exten_did = dnid

    # --- resync: CoreShowChannels -----------------------------------------------------

    def _on_core_show_channel(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        if node.channel_snapshot is None:
            node.channel_snapshot = []
        node.channel_snapshot.append(ev)

    def _on_core_show_channels_complete(
        self, node: NodeState, ev: Mapping[str, Any], out: list[DomainEvent]
    ) -> None:
        items = node.channel_snapshot or []
        node.channel_snapshot = None
        now = self.clock()
        snapshot: dict[str, Mapping[str, Any]] = {}
        for item in items:
            uniqueid = header(item, "Uniqueid")
            if uniqueid:
                snapshot[uniqueid] = item

        # 1. Channels we hold that Asterisk no longer has: they ended while we were away.
        for uniqueid, channel in list(node.channels.items()):
            item = snapshot.get(uniqueid)
            if item is not None and (header(item, "Linkedid") or uniqueid) == channel.linkedid:
                continue
            node.channels.pop(uniqueid, None)
            call = node.calls.get(channel.linkedid)
            if call is not None:
                self._leg_gone(node, call, channel, out, vanished=True, at=now)
        for call in list(node.calls.values()):
            if not call.channels:
                self._end_call(node, call, out, vanished=True, at=now)

        # 2. Channels we did not know: calls that started before we connected.
        groups: dict[str, list[Mapping[str, Any]]] = {}
        for uniqueid, item in snapshot.items():
            linkedid = header(item, "Linkedid") or uniqueid
            groups.setdefault(linkedid, []).append(item)
            if uniqueid in node.channels:
                continue
            call = node.calls.get(linkedid)
            if call is None:
                call = node.calls[linkedid] = Call(linkedid)
            node.channels[uniqueid] = Channel(
                uniqueid, linkedid, device_of(header(item, "Channel"))
            )
            call.channels.add(uniqueid)
            if uniqueid == linkedid and not call.uniqueid:
                self._set_caller(call, item)
                call.exten_did = node.dnid.get(uniqueid)

        # 3. What each call is doing now: waiting in a queue, ringing agents, answered.
        for linkedid, group in groups.items():
            call = node.calls[linkedid]
            for item in group:
                uniqueid = header(item, "Uniqueid")
                if header(item, "Application") == "Queue":
                    call.hotline = True
                    queue = header(item, "ApplicationData").split(",", 1)[0]
                    entry = node.entries.get(uniqueid)
                    if entry is not None:
                        self._apply_entry(call, entry[0], entry[1], now)
                    elif queue:
                        self._apply_entry(call, queue, None, now)
                    if call.exten_did is None:
                        call.exten_did = node.dnid.get(uniqueid)
            for item in group:
                if header(item, "Application") != "AppQueue":
                    continue
                self._resync_agent_leg(node, call, item, out, now)
        node.dnid.clear()
        node.entries.clear()

    @staticmethod
    def live_offers(node: NodeState) -> tuple[tuple[str, str, str], ...]:
        """``(linkedid, agent_interface, state)`` of every offer ringing (``ringing``) or
        answered (``answered``) on ``node`` now."""
        live = []
        for call in node.calls.values():
            for offer in call.offers.values():
                if offer.open:
                    live.append((call.linkedid, offer.interface, "ringing"))
            if call.answered_by is not None:
                live.append((call.linkedid, call.answered_by, "answered"))
        return tuple(live)

    def _resync_agent_leg(
        self,
        node: NodeState,
        call: Call,
        item: Mapping[str, Any],
        out: list[DomainEvent],
        now: float,
    ) -> None:
        """A channel that app_queue dialled (``Application: AppQueue``) seen at resync."""
        uniqueid = header(item, "Uniqueid")
        leg = node.channels[uniqueid]
        interface = leg.offer or leg.device
        state = header(item, "ChannelState")
        call.hotline = True
        if state in _RINGING_CHANNEL_STATES:
            offer = call.offers.get(interface)
            leg.offer = interface
            if offer is not None and offer.open:
                offer.leg = uniqueid
                return
            self._offer(node, call, interface, uniqueid, now, out)
        elif state == _UP and call.answered_by != interface:
            offer = call.offers.get(interface)
            if offer is None:
                # Answered before this process started (a restart mid-call): the agent on
                # the call should see its pop, so offer it and answer it at once. A pop
                # made before the restart has the same pop_id and is not shown twice.
                self._offer(node, call, interface, uniqueid, now, out)
                offer = call.offers[interface]
            call.answered_by = interface
            call.answer_pending = None
            call.answered_at = now
            if offer is not None and offer.open:
                # We popped it; it was answered while we were away: keep the pop.
                offer.open = False
                out.append(
                    CallAnswered(
                        node=node.name,
                        linkedid=call.linkedid,
                        agent_interface=interface,
                        wait_s=None,
                    )
                )
                self._withdraw_all(node, call, WithdrawReason.ANSWERED_ELSEWHERE, out)
