"""The AMI side of click-to-call: sends the Originate of an outbound call row and writes
what Asterisk answers back to that row.

How the API reaches it: in one process (``cti serve``, every role) the API calls
:meth:`Dialer.dial` directly; with ``--role api`` apart from ``--role ami`` the API
publishes ``{"outbound_call_id", "node"}`` on the bus channel :data:`ORIGINATE_CHANNEL`
and the AMI process holding that node's connection dials. Either way the outcome travels
back through the row (``dialing`` -> ``connected``/``failed`` -> ``ended``), which the
agent's page polls; nothing is lost if the bus drops the message: the row stays
``dialing`` and is failed as stale (``cti.revisits.calls.STALE_DIALING``).

Outcomes: the immediate response (``Originate failed`` -> failed), the
``OriginateResponse`` matched by ActionID (``Reason: 4`` connected, else failed), and the
``Hangup`` of the agent's channel, whose Uniqueid is our ChannelId (-> ended). The AGI
call row ending does the same for calls whose events this process did not see
(``cti.revisits.calls._settle_stale``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.ami.protocol import AmiMessage, first
from cti.bus import Bus, Subscription
from cti.numbers import NumberPlan
from cti.revisits import calls
from cti.revisits.originate import (
    OriginateRefused,
    Outcome,
    originate_action,
    queued_outcome,
    response_outcome,
)
from cti.service import Health
from cti.store.revisits import OutboundCall, OutboundStatus
from cti.store.tickets import Ticket

log = logging.getLogger(__name__)

#: Bus channel from the API processes to the AMI processes: "dial this outbound call".
ORIGINATE_CHANNEL = "originate"


class Dialer:
    """``cti.service.Service`` living next to the ``AmiService`` whose connections it uses."""

    name = "dialer"

    def __init__(
        self,
        ami: Any,
        session_factory: async_sessionmaker[AsyncSession],
        number_plan: NumberPlan,
        bus: Bus | None = None,
    ) -> None:
        self.ami = ami
        self.session_factory = session_factory
        self.number_plan = number_plan
        self.bus = bus
        #: ActionID -> outbound call id, and (node, ChannelId) of the calls in progress.
        self._by_action: dict[str, int] = {}
        self._by_channel: set[tuple[str, str]] = set()
        self._dialed: set[int] = set()
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self.counts: Counter[str] = Counter()
        ami.add_listener(self._on_ami_event)

    # --- service ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name="dialer")
        if self.bus is not None and self._listener is None:
            self._subscription = await self.bus.subscribe(ORIGINATE_CHANNEL)
            self._listener = asyncio.create_task(self._listen(), name="dialer-bus")

    async def stop(self) -> None:
        for task in (self._listener, self._worker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._subscription is not None:
            self._subscription.close()
        self._worker = self._listener = self._subscription = None

    def health(self) -> Health:
        return Health(ok=True, detail={"in_progress": len(self._by_channel)})

    def metrics(self) -> list[str]:
        lines = [
            "# HELP cti_dialer_total Click-to-call Originates and their outcomes.",
            "# TYPE cti_dialer_total counter",
        ]
        lines.extend(f'cti_dialer_total{{what="{k}"}} {v}' for k, v in sorted(self.counts.items()))
        return lines

    # --- dialling --------------------------------------------------------------------

    def holds(self, node: str) -> bool:
        return self.ami.connection(node) is not None

    async def dial(self, outbound_call_id: int) -> str:
        """Send the Originate of a committed ``dialing`` row (once: a second request for
        the same row does nothing) and return its status after Asterisk's first answer."""
        async with self.session_factory() as db:
            call = await db.get(OutboundCall, outbound_call_id)
            if call is None or call.status != OutboundStatus.DIALING.value:
                return call.status if call is not None else "unknown"
            if outbound_call_id in self._dialed:
                return call.status
            self._dialed.add(outbound_call_id)
            outcome = await self._send(db, call)
            if outcome is not None:
                await calls.apply_outcome(db, call.id, outcome)
                await db.commit()
                self._forget(call)
                return outcome.status.value
            await db.commit()
            return call.status

    async def _send(self, db: AsyncSession, call: OutboundCall) -> Outcome | None:
        connection = self.ami.connection(call.node)
        if connection is None:
            return Outcome(OutboundStatus.FAILED, f"no AMI connection to node {call.node}")
        ticket_number, county_id = None, None
        if call.ticket_id is not None:
            ticket_number, county_id = (
                await db.execute(
                    select(Ticket.number, Ticket.county_id).where(Ticket.id == call.ticket_id)
                )
            ).one()
        else:
            from cti.store.callbacks import CallbackRequest

            county_id = await db.scalar(
                select(CallbackRequest.county_id).where(CallbackRequest.id == call.callback_id)
            )
        try:
            action = originate_action(
                call.interface,
                call.number,
                call.node,
                call.linkedid,
                call.action_id,
                ticket_number,
                await calls.caller_id_for(db, county_id),
                callback_id=call.callback_id,
                plan=self.number_plan,
            )
        except OriginateRefused as exc:  # the row was checked when written: defence in depth
            self.counts["refused"] += 1
            return Outcome(OutboundStatus.FAILED, f"refused: {exc}")
        self._by_action[call.action_id] = call.id
        self._by_channel.add((call.node, call.linkedid))
        self.counts["sent"] += 1
        try:
            response = await connection.send(action)
        except (ConnectionError, TimeoutError, OSError) as exc:
            self.counts["unsent"] += 1
            return Outcome(OutboundStatus.FAILED, f"AMI: {str(exc)[:200]}")
        outcome = queued_outcome(response)
        if outcome is not None:
            self.counts["failed"] += 1
        return outcome

    def _forget(self, call: OutboundCall) -> None:
        self._by_action.pop(call.action_id, None)
        self._by_channel.discard((call.node, call.linkedid))

    # --- what Asterisk says later ------------------------------------------------------

    def _on_ami_event(self, node: str, message: AmiMessage) -> None:
        # Called in stream order from the AMI protocol callback: only look, queue, return.
        name = message.get("Event")
        if name == "OriginateResponse":
            call_id = self._by_action.pop(first(message.get("ActionID")), None)
            if call_id is not None:
                self._queue.put_nowait(("outcome", (call_id, response_outcome(message))))
        elif name == "Hangup":
            key = (node, first(message.get("Uniqueid")))
            if key in self._by_channel:
                self._by_channel.discard(key)
                self._queue.put_nowait(("ended", key))

    async def _work(self) -> None:
        while True:
            kind, data = await self._queue.get()
            try:
                async with self.session_factory() as db:
                    if kind == "outcome":
                        call_id, outcome = data
                        await calls.apply_outcome(db, call_id, outcome)
                        self.counts[outcome.status.value] += 1
                    else:
                        await calls.mark_ended(db, *data)
                        self.counts["ended"] += 1
                    await db.commit()
            except Exception:
                log.exception("recording an outbound call's %s failed", kind)
            finally:
                self._queue.task_done()

    async def drained(self) -> None:
        """Wait until every queued outcome is written (tests, and a clean stop)."""
        await self._queue.join()

    async def _listen(self) -> None:
        assert self._subscription is not None
        async for message in self._subscription:
            try:
                call_id = int(message.get("outbound_call_id", 0))
                if call_id > 0 and self.holds(str(message.get("node", ""))):
                    await self.dial(call_id)
            except Exception:
                log.exception("dialling from a bus request failed")


async def request_dial(app_state: Any, outbound_call_id: int, node: str) -> str:
    """From the API: have the committed row dialled, in this process when it runs the AMI
    side for ``node`` (returns the status after Asterisk's first answer), else over the
    bus (returns ``dialing``; the AMI process updates the row)."""
    dialer: Dialer | None = getattr(app_state, "dialer", None)
    if dialer is not None and dialer.holds(node):
        return await dialer.dial(outbound_call_id)
    await app_state.bus.publish(
        ORIGINATE_CHANNEL, {"outbound_call_id": outbound_call_id, "node": node}
    )
    return OutboundStatus.DIALING.value
