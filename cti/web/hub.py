"""The agents' WebSocket hub: delivers screen-pop messages from the bus to the browser
sessions of the agent whose phone rings, and nobody else's.

Messages arrive on the bus channel ``screenpop`` (published by ``cti.ami.relay``, possibly
in another process) as JSON objects with ``type`` and the agent's ``interface``:

- ``pop``: a call rings this agent; ``pop_id`` and the ``pop`` payload
  (``cti.ami.screenpop.build_pop``: caller, citizens, last calls, open tickets);
- ``withdraw``: that agent's phone stopped ringing (``pop_id``, ``reason``);
- ``answered``: the agent took the call; the pop stays on screen (``pop_id``);
- ``ended``: the call is over; the agent may still be writing the ticket (``pop_id``): the
  pop stays (reloads, reconnects, restarts) until the agent closes it or a ticket is saved
  from the call;
- ``closed``: the agent closed that ended pop (in one of their browsers);
- ``agent_state``: the agent's phone state (``state``).

The hub keeps the pops still pending per interface, so a browser that (re)connects while
the phone rings, during the call or after it, gets them at once; with a database
(``session_factory``) it adds what ``cti.store.screen_pops`` holds, so an API process that
(re)started after the pop was made knows it too, and holds it from then on (the answer,
end and close that follow apply to it). ``pop_id`` is ``node:linkedid:interface``:
a repeated ``pop`` for the same call replaces the pending one. The ``hello`` frame lists the
``pop_ids`` that follow it, so a reconnecting browser drops cards that ended meanwhile, and
a socket is never sent a message that does not change what it shows (no duplicate).
The browser sends ``{"type": "close", "pop_id"}`` to close an ended pop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol

import asyncpg
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.bus import SCREENPOP_CHANNEL, Bus, Subscription
from cti.service import Health
from cti.store import screen_pops

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
#: An ended pop the agent never closed is dropped after a working day.
ENDED_MAX_S = 12 * 3600
#: At most this many ended pops per interface are held and shown (the newest): an agent
#: who saves tickets without closing the pops would otherwise keep a shift's worth in the
#: hub's memory (2,000 agents x 240 calls) and get them all again on every reload.
MAX_ENDED = screen_pops.MAX_ENDED
#: A pop withdrawn or closed is remembered this long, so that a database row written
#: late (the AMI side records pops in batches) does not bring it back.
GONE_S = 60.0
MAX_POP_ID = 400


class PendingPops:
    """Pure bookkeeping of which pops each interface should see right now. ``clock`` is
    injected (seconds, monotonic) so expiry is tested without waiting."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        ringing_max_s: float = RINGING_MAX_S,
        answered_max_s: float = ANSWERED_MAX_S,
        ended_max_s: float = ENDED_MAX_S,
    ) -> None:
        self._by_interface: dict[str, dict[str, tuple[dict[str, Any], float]]] = defaultdict(dict)
        self.agent_states: dict[str, dict[str, Any]] = {}
        self._clock = clock
        self._max = {"ringing": ringing_max_s, "answered": answered_max_s, "ended": ended_max_s}
        #: pop_id -> when it was withdrawn or closed.
        self._gone: dict[str, float] = {}

    def apply(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        interface = message.get("interface")
        if not isinstance(interface, str):
            return
        key = message.get("pop_id")
        key = key if isinstance(key, str) else ""
        pops = self._by_interface[interface]
        if kind == "pop" and key and isinstance(message.get("pop"), dict):
            if key not in self._gone:
                pops[key] = (message, self._clock())
        elif kind in ("answered", "ended") and key in pops:
            shown = pops[key][0]
            pops[key] = ({**shown, "pop": {**shown["pop"], "state": kind}}, self._clock())
            if kind == "ended":
                _keep_newest_ended(pops)
        elif kind in ("withdraw", "closed"):
            pops.pop(key, None)
            if key:
                self._gone[key] = self._clock()
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

    def merge(self, interface: str, recorded: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """This interface's pops: the ones held here, and the ``recorded`` ones (from the
        database) not held here and not withdrawn or closed lately. Of two versions of a
        pop the later state wins (ringing < answered < ended)."""
        now = self._clock()
        for key, since in list(self._gone.items()):
            if now - since > GONE_S:
                del self._gone[key]
        held = {m["pop_id"]: m for m in self.for_interface(interface)}
        rank = {"ringing": 0, "answered": 1, "ended": 2}
        for message in recorded:
            key = message.get("pop_id")
            pop = message.get("pop")
            if not isinstance(key, str) or not isinstance(pop, dict) or key in self._gone:
                continue
            if message.get("interface") != interface:
                continue
            mine = held.get(key)
            if mine is None or rank.get(pop.get("state"), 0) > rank.get(
                mine["pop"].get("state"), 0
            ):
                held[key] = message
        return sorted(held.values(), key=lambda m: str(m["pop"].get("offered_at") or ""))

    def adopt(self, messages: list[dict[str, Any]]) -> None:
        """Hold these (recorded) ``pop`` messages too, where none is held, so that the
        answered / ended / close that follow find them: an API process that (re)started
        during a call learns its pops from the database when the browser connects."""
        for message in messages:
            interface, key = message.get("interface"), message.get("pop_id")
            if not isinstance(interface, str) or not isinstance(key, str) or key in self._gone:
                continue
            pops = self._by_interface[interface]
            if key not in pops:
                pops[key] = (message, self._clock())
                _keep_newest_ended(pops)

    def count(self) -> int:
        for interface in list(self._by_interface):
            self._expire(interface)
        return sum(len(p) for p in self._by_interface.values())


def _keep_newest_ended(pops: dict[str, tuple[dict[str, Any], float]]) -> None:
    """Forget the oldest ended pops beyond ``MAX_ENDED`` (their rows stay, closable)."""
    ended = [(since, key) for key, (m, since) in pops.items() if m["pop"].get("state") == "ended"]
    if len(ended) > MAX_ENDED:
        for _since, key in sorted(ended)[: len(ended) - MAX_ENDED]:
            del pops[key]


def _changes(shown: dict[str, str], message: dict[str, Any]) -> bool:
    """Whether ``message`` changes what a socket shows (``shown``: pop_id -> state);
    updates ``shown``. A pop, answer or end the socket already shows is not sent again."""
    key = message.get("pop_id")
    kind = message.get("type")
    if not isinstance(key, str):
        return True
    if kind == "pop":
        state = message.get("pop", {}).get("state", "ringing")
        if key in shown:
            return False
        shown[key] = state
        return True
    if kind in ("answered", "ended"):
        if shown.get(key) == kind:
            return False
        shown[key] = kind
        return True
    if kind in ("withdraw", "closed"):
        shown.pop(key, None)
    return True


class _Client:
    def __init__(self, socket: Socket, interface: str) -> None:
        self.socket = socket
        self.interface = interface
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(SEND_QUEUE)


class AgentHub:
    """Fan-out of bus messages to agent sockets; implements ``cti.service.Service``."""

    name = "hub"

    def __init__(
        self,
        bus: Bus,
        channel: str = CHANNEL,
        session_factory: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        self._bus = bus
        self._channel = channel
        self._session_factory = session_factory
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

    async def _snapshot(self, interface: str) -> list[dict[str, Any]]:
        """What this interface should see now: pops held here and recorded ones, less the
        ended ones a ticket was saved from. Without the database: those held here."""
        if self._session_factory is None:
            return self.pending.for_interface(interface)
        try:
            recorded = await screen_pops.for_interface(self._session_factory, interface)
            pops = self.pending.merge(interface, recorded)
            ended = [m for m in pops if m["pop"].get("state") == "ended"]
            saved = await screen_pops.ticket_saved(
                self._session_factory,
                [(str(m["pop"].get("node")), str(m["pop"].get("linkedid"))) for m in ended],
            )
        except (SQLAlchemyError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.exception("recorded screen-pops unavailable; sending those held here")
            return self.pending.for_interface(interface)
        shown = [
            m
            for m in pops
            if m["pop"].get("state") != "ended"
            or (m["pop"].get("node"), m["pop"].get("linkedid")) not in saved
        ]
        self.pending.adopt(shown)
        return shown

    async def serve(self, socket: Socket, interface: str) -> None:
        """Run one agent socket until it closes: ``hello`` (with the ``pop_ids`` that
        follow), the pops it should see now, then live messages -- each at most once per
        state, however the snapshot and the live stream overlap."""
        client = _Client(socket, interface)
        self._clients[interface].add(client)
        shown: dict[str, str] = {}  # pop_id -> state this socket shows
        try:
            snapshot = await self._snapshot(interface)
            hello: dict[str, Any] = {
                "type": "hello",
                "interface": interface,
                "pop_ids": [m["pop_id"] for m in snapshot],
            }
            state = self.pending.agent_states.get(interface)
            if state:
                hello["agent_state"] = state.get("state")
            await socket.send_json(hello)
            for message in snapshot:
                shown[message["pop_id"]] = message["pop"].get("state", "ringing")
                await socket.send_json(message)
                self.delivered += 1
            while True:
                message = await client.queue.get()
                if not _changes(shown, message):
                    continue
                await socket.send_json(message)
                self.delivered += 1
        finally:
            self._clients[interface].discard(client)
            if not self._clients[interface]:
                del self._clients[interface]

    async def receive(self, interface: str, data: Any) -> None:
        """A message from an agent's browser. ``{"type": "close", "pop_id"}`` closes one
        of this interface's ended pops (in every browser, every API process); anything
        else is ignored (logged)."""
        if not isinstance(data, dict) or data.get("type") != "close":
            log.info("agent socket sent an unknown message", extra={"interface": interface})
            return
        key = data.get("pop_id")
        if not isinstance(key, str) or not key or len(key) > MAX_POP_ID:
            return
        if not key.endswith(":" + interface):
            return  # someone else's pop: pop_id ends with the interface it was made for
        held = {m["pop_id"]: m for m in self.pending.for_interface(interface)}
        ended = held.get(key)
        if ended is not None and ended["pop"].get("state") != "ended":
            ended = None
        known = ended is not None
        if self._session_factory is not None:
            try:
                # The row may not say ended yet (the AMI side writes in batches): the ended
                # pop this hub holds closes it anyway, so the late write cannot reopen it.
                closed = await screen_pops.close(self._session_factory, key, interface, ended)
                known = closed or known
            except (SQLAlchemyError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                log.exception("screen-pop close not recorded")
        if known:
            with contextlib.suppress(Exception):
                await self._bus.publish(
                    self._channel, {"type": "closed", "pop_id": key, "interface": interface}
                )

    async def close_sockets(self, interface: str, code: int = 1012, reason: str = "") -> int:
        """Close every socket of ``interface`` (the browsers reconnect); how many."""
        clients = list(self._clients.get(interface, ()))
        for client in clients:
            with contextlib.suppress(Exception):
                await client.socket.close(code, reason or "reconnect")
        return len(clients)

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
