"""The supervisors' wallboard hub: keeps the latest board of every county from the bus
channel ``wallboard`` (deltas of ``cti.wallboard.publisher``, possibly from another
process) and fans them out to the wallboard sockets, each scoped to the counties its
supervisor may see. Overdue dispatches (channel ``supervisors``, ``cti.dispatch.notifier``)
go to the sockets of the users they are addressed to (``to``), within the same scope.

On start it asks the AMI side for the full boards (channel ``wallboard_requests``), so an
API restart shows the board again at once. ``link`` heartbeats pass to every socket: the
page shows the board as stale when a node is down or the heartbeats stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from cti.bus import Bus, Subscription
from cti.dispatch.notifier import SUPERVISORS_CHANNEL
from cti.service import Health
from cti.wallboard.publisher import WALLBOARD_CHANNEL, WALLBOARD_REQUESTS_CHANNEL
from cti.web.hub import SEND_QUEUE, Socket

log = logging.getLogger(__name__)

#: Overdue dispatches kept for sockets that connect later (newest last).
OVERDUE_KEPT = 50


class BoardReplica:
    """Pure: the latest delta of each thing on each county's board."""

    def __init__(self) -> None:
        self.queues: dict[str, dict[str, Any]] = {}
        self.stats: dict[str, dict[str, Any]] = {}
        self.agents: dict[str, dict[str, dict[str, Any]]] = {}
        #: county -> kind -> the raised alert (a cleared one is dropped)
        self.alerts: dict[str, dict[str, dict[str, Any]]] = {}
        self.callbacks: dict[str, dict[str, Any]] = {}
        self.link: dict[str, Any] | None = None
        self.overdue: list[dict[str, Any]] = []

    def apply(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        county = message.get("county")
        if kind == "link":
            self.link = message
        elif kind == "dispatch_overdue":
            self.overdue = [
                m for m in self.overdue if m.get("dispatch_id") != message.get("dispatch_id")
            ][-(OVERDUE_KEPT - 1) :] + [message]
        elif not isinstance(county, str):
            return
        elif kind == "queue":
            self.queues[county] = message
        elif kind == "stats":
            self.stats[county] = message
        elif kind == "agent" and isinstance(message.get("id"), str):
            agents = self.agents.setdefault(county, {})
            if message.get("state") == "gone":
                agents.pop(message["id"], None)
            else:
                agents[message["id"]] = message
        elif kind == "callbacks":
            self.callbacks[county] = message
        elif kind == "alert" and isinstance(message.get("kind"), str):
            alerts = self.alerts.setdefault(county, {})
            if message.get("state") == "raised":
                alerts[message["kind"]] = message
            else:
                alerts.pop(message["kind"], None)

    def snapshot(self, counties: frozenset[str] | None, user_id: int) -> list[dict[str, Any]]:
        """Everything a socket scoped to ``counties`` (None: all) is shown on connect."""
        out: list[dict[str, Any]] = [self.link] if self.link else []
        names = set(self.queues) | set(self.stats) | set(self.agents) | set(self.alerts)
        names |= set(self.callbacks)
        for county in sorted(names):
            if counties is not None and county not in counties:
                continue
            if county in self.queues:
                out.append(self.queues[county])
            out.extend(self.agents.get(county, {}).values())
            if county in self.stats:
                out.append(self.stats[county])
            out.extend(self.alerts.get(county, {}).values())
            if county in self.callbacks:
                out.append(self.callbacks[county])
        out.extend(m for m in self.overdue if visible(m, counties, user_id))
        return out


def visible(message: dict[str, Any], counties: frozenset[str] | None, user_id: int) -> bool:
    """May a socket of ``user_id`` scoped to ``counties`` (None: all) see ``message``?"""
    kind = message.get("type")
    if kind == "link":
        return True
    if kind == "dispatch_overdue":
        to = message.get("to")
        if not isinstance(to, list) or user_id not in to:
            return False
        return counties is None or message.get("county") in counties
    county = message.get("county")
    return isinstance(county, str) and (counties is None or county in counties)


class _Client:
    def __init__(self, socket: Socket, counties: frozenset[str] | None, user_id: int) -> None:
        self.socket = socket
        self.counties = counties
        self.user_id = user_id
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(SEND_QUEUE * 10)


class WallboardHub:
    """Implements ``cti.service.Service``."""

    name = "wallboard-hub"

    def __init__(self, bus: Bus, clock: Callable[[], float] = time.time) -> None:
        self._bus = bus
        self._clock = clock
        self.replica = BoardReplica()
        self._clients: set[_Client] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self.delivered = 0
        self.dropped_clients = 0

    async def start(self) -> None:
        for channel in (WALLBOARD_CHANNEL, SUPERVISORS_CHANNEL):
            subscription = await self._bus.subscribe(channel)
            self._tasks.append(
                asyncio.create_task(self._consume(subscription), name=f"wallboard-hub-{channel}")
            )
        await self._bus.publish(WALLBOARD_REQUESTS_CHANNEL, {"type": "snapshot_request"})

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for client in list(self._clients):
            with contextlib.suppress(Exception):
                await client.socket.close(1001, "server shutting down")

    async def _consume(self, subscription: Subscription) -> None:
        try:
            async for message in subscription:
                self.dispatch(message)
        finally:
            subscription.close()

    def dispatch(self, message: dict[str, Any]) -> None:
        """Apply one bus message and queue it to every socket allowed to see it."""
        self.replica.apply(message)
        for client in list(self._clients):
            if not visible(message, client.counties, client.user_id):
                continue
            try:
                client.queue.put_nowait(message)
            except asyncio.QueueFull:
                self.dropped_clients += 1
                self._clients.discard(client)
                asyncio.ensure_future(client.socket.close(1013, "too slow"))

    async def serve(
        self,
        socket: Socket,
        counties: frozenset[str] | None,
        user_id: int,
        hello: dict[str, Any],
    ) -> None:
        """Run one wallboard socket: ``hello`` (with the server's clock), the current
        boards of its counties, then live deltas, until it closes."""
        client = _Client(socket, counties, user_id)
        self._clients.add(client)
        try:
            await socket.send_json({**hello, "type": "hello", "server_time": self._clock()})
            for message in self.replica.snapshot(counties, user_id):
                await socket.send_json(message)
            while True:
                message = await client.queue.get()
                await socket.send_json(message)
                self.delivered += 1
        finally:
            self._clients.discard(client)

    def health(self) -> Health:
        running = bool(self._tasks) and not any(t.done() for t in self._tasks)
        return Health(running, {"sockets": len(self._clients)})

    def metrics(self) -> list[str]:
        return [
            "# HELP cti_wallboard_sockets Wallboard WebSocket connections open.",
            "# TYPE cti_wallboard_sockets gauge",
            f"cti_wallboard_sockets {len(self._clients)}",
            "# HELP cti_wallboard_messages_total Messages delivered to wallboard sockets.",
            "# TYPE cti_wallboard_messages_total counter",
            f"cti_wallboard_messages_total {self.delivered}",
        ]
