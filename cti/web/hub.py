"""The agents' WebSocket hub: delivers screen-pop messages from the bus to the browser
sessions of the agent whose phone rings, and nobody else's.

Messages arrive on the bus channel ``screenpop`` (published by ``cti.ami.relay``, possibly
in another process) as JSON objects with ``type`` and the agent's ``interface``:

- ``pop``: a call rings this agent; ``pop_id`` and the ``pop`` payload
  (``cti.ami.screenpop.build_pop``: caller, citizens, last calls, open tickets);
- ``withdraw``: that agent's phone stopped ringing (``pop_id``, ``reason``);
- ``answered``: the agent took the call; the pop stays on screen (``pop_id``);
- ``ended``: the call is over; the agent may still be writing the ticket (``pop_id``);
- ``agent_state``: the agent's phone state (``state``).

The hub keeps the pops still pending per interface, so a browser that (re)connects while
the phone rings, or during the call, gets them at once. ``pop_id`` is
``node:linkedid:interface``: a repeated ``pop`` for the same call replaces the pending one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

from cti.bus import SCREENPOP_CHANNEL, Bus, Subscription
from cti.service import Health

log = logging.getLogger(__name__)

CHANNEL = SCREENPOP_CHANNEL
#: Per-socket send buffer; a browser that cannot keep up is disconnected, not waited for.
SEND_QUEUE = 100


class Socket(Protocol):
    async def send_json(self, data: Any) -> None: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


#: A pop still "ringing" after this long is stale: no queue rings an agent for 15 minutes
#: (queues.conf times a caller out after 5). One "answered" this long ago is stale too.
#: Stale pops appear when the AMI process dies mid-call (nobody withdraws them then).
RINGING_MAX_S = 15 * 60
ANSWERED_MAX_S = 4 * 3600


class PendingPops:
    """Pure bookkeeping of which pops each interface should see right now. ``clock`` is
    injected (seconds, monotonic) so expiry is tested without waiting."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        ringing_max_s: float = RINGING_MAX_S,
        answered_max_s: float = ANSWERED_MAX_S,
    ) -> None:
        self._by_interface: dict[str, dict[str, tuple[dict[str, Any], float]]] = defaultdict(dict)
        self.agent_states: dict[str, dict[str, Any]] = {}
        self._clock = clock
        self._max = {"ringing": ringing_max_s, "answered": answered_max_s}

    def apply(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        interface = message.get("interface")
        if not isinstance(interface, str):
            return
        key = message.get("pop_id")
        key = key if isinstance(key, str) else ""
        pops = self._by_interface[interface]
        if kind == "pop" and key and isinstance(message.get("pop"), dict):
            pops[key] = (message, self._clock())
        elif kind == "answered" and key in pops:
            shown = pops[key][0]
            pops[key] = ({**shown, "pop": {**shown["pop"], "state": "answered"}}, self._clock())
        elif kind in ("withdraw", "ended"):
            pops.pop(key, None)
        elif kind == "agent_state":
            self.agent_states[interface] = message
        if not pops:
            self._by_interface.pop(interface, None)

    def _expire(self, interface: str) -> dict[str, tuple[dict[str, Any], float]]:
        pops = self._by_interface.get(interface, {})
        now = self._clock()
        for key, (message, since) in list(pops.items()):
            state = message["pop"].get("state", "ringing")
            if now - since > self._max.get(state, self._max["ringing"]):
                del pops[key]
        if not pops:
            self._by_interface.pop(interface, None)
        return pops

    def for_interface(self, interface: str) -> list[dict[str, Any]]:
        return [message for message, _ in self._expire(interface).values()]

    def count(self) -> int:
        for interface in list(self._by_interface):
            self._expire(interface)
        return sum(len(p) for p in self._by_interface.values())


class _Client:
    def __init__(self, socket: Socket, interface: str) -> None:
        self.socket = socket
        self.interface = interface
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(SEND_QUEUE)


class AgentHub:
    """Fan-out of bus messages to agent sockets; implements ``cti.service.Service``."""

    name = "hub"

    def __init__(self, bus: Bus, channel: str = CHANNEL) -> None:
        self._bus = bus
        self._channel = channel
        self._clients: dict[str, set[_Client]] = defaultdict(set)
        self.pending = PendingPops()
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0
        self.dropped_clients = 0

    async def start(self) -> None:
        subscription = await self._bus.subscribe(self._channel)
        self._task = asyncio.create_task(self._consume(subscription), name="agent-hub")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for clients in list(self._clients.values()):
            for client in list(clients):
                with contextlib.suppress(Exception):
                    await client.socket.close(1001, "server shutting down")

    async def _consume(self, subscription: Subscription) -> None:
        try:
            async for message in subscription:
                self.dispatch(message)
        finally:
            subscription.close()

    def dispatch(self, message: dict[str, Any]) -> None:
        """Apply one bus message and queue it to the interface's sockets."""
        self.pending.apply(message)
        interface = message.get("interface")
        for client in list(self._clients.get(interface, ())) if isinstance(interface, str) else []:
            try:
                client.queue.put_nowait(message)
            except asyncio.QueueFull:
                self.dropped_clients += 1
                log.warning("agent socket too slow; closing", extra={"interface": interface})
                self._clients[interface].discard(client)
                asyncio.ensure_future(client.socket.close(1013, "too slow"))

    async def serve(self, socket: Socket, interface: str) -> None:
        """Run one agent socket until it closes: first the pending state, then live messages."""
        client = _Client(socket, interface)
        self._clients[interface].add(client)
        try:
            hello: dict[str, Any] = {"type": "hello", "interface": interface}
            state = self.pending.agent_states.get(interface)
            if state:
                hello["agent_state"] = state.get("state")
            await socket.send_json(hello)
            for message in self.pending.for_interface(interface):
                await socket.send_json(message)
                self.delivered += 1
            while True:
                message = await client.queue.get()
                await socket.send_json(message)
                self.delivered += 1
        finally:
            self._clients[interface].discard(client)
            if not self._clients[interface]:
                del self._clients[interface]

    def connected(self) -> int:
        return sum(len(c) for c in self._clients.values())

    def health(self) -> Health:
        running = self._task is not None and not self._task.done()
        return Health(running, {"sockets": self.connected(), "pending_pops": self.pending.count()})

    def metrics(self) -> list[str]:
        return [
            "# HELP cti_hub_sockets Agent WebSocket connections open.",
            "# TYPE cti_hub_sockets gauge",
            f"cti_hub_sockets {self.connected()}",
            "# HELP cti_hub_messages_total Messages delivered to agent sockets.",
            "# TYPE cti_hub_messages_total counter",
            f"cti_hub_messages_total {self.delivered}",
            "# HELP cti_hub_slow_clients_total Agent sockets closed for not keeping up.",
            "# TYPE cti_hub_slow_clients_total counter",
            f"cti_hub_slow_clients_total {self.dropped_clients}",
        ]
