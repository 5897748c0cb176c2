"""From the call tracker to the agents' browsers: the AMI side's ``publish`` callback.

``ScreenPopRelay`` is what ``AmiService`` awaits for each domain event, in order. Call
events go to ``ScreenPop`` (which decides and looks the caller up); agent phone states go
straight out. Everything leaves on the bus channel ``screenpop`` with the agent's
``interface`` added, for ``cti.web.hub.AgentHub`` -- in this process or another one.
``call_ended`` also goes out on the channel ``calls`` (``{"type", "node", "linkedid"}``):
the recording service indexes the call's recording when Asterisk has finished it.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.ami.events import AgentStateChanged, CallEnded, DomainEvent
from cti.ami.popstore import PopRecord
from cti.ami.screenpop import ScreenPop
from cti.bus import CALLS_CHANNEL, SCREENPOP_CHANNEL, Bus, BusError

log = logging.getLogger(__name__)


class ScreenPopRelay:
    def __init__(
        self,
        bus: Bus,
        session_factory: async_sessionmaker[AsyncSession],
        record: PopRecord | None = None,
    ) -> None:
        """``record`` keeps the pops made in the database, so that a restart of this
        process (or of the API's) knows what each agent should see."""
        self._bus = bus
        self.record = record
        self.screen_pop = ScreenPop(session_factory, self.push, record=record)

    async def push(self, agent_interface: str, message: dict[str, Any]) -> None:
        """One message for one agent's browsers."""
        try:
            # Posted, not awaited: the AMI side's events are handled one after another,
            # and a bus round trip per message in front of the next call's pop was the
            # screen-pop tail at 100 calls/s (issue 16). The bus keeps the order.
            self._bus.post(SCREENPOP_CHANNEL, {**message, "interface": agent_interface})
        except BusError:
            # Too large even after build_pop trimmed it, or a bad channel: a bug, not a
            # reason to stop relaying the next calls.
            log.exception("screen-pop message not sent", extra={"interface": agent_interface})

    async def __call__(self, event: DomainEvent) -> None:
        if isinstance(event, AgentStateChanged):
            await self.push(
                event.agent_interface,
                {"type": "agent_state", "node": event.node, "state": event.state},
            )
            return
        await self.screen_pop.handle(event)
        if isinstance(event, CallEnded):
            message = {"type": "call_ended", "node": event.node, "linkedid": event.linkedid}
            try:
                self._bus.post(CALLS_CHANNEL, message)
            except BusError:
                log.exception("call_ended not sent", extra={"linkedid": event.linkedid})

    async def drain(self) -> None:
        await self.screen_pop.drain()
        if self.record is not None:
            await self.record.flush()
