"""The event bus between the parts of the backend (screen-pops, agent state, wallboard).

In one process it is in memory. When the AMI listener and the API run as separate processes
(``--role ami`` / ``--role api``) it is Postgres LISTEN/NOTIFY, so no extra server is needed.
Messages are JSON objects; delivery is at-most-once and unordered across channels (the
consumers, e.g. the screen-pop book, are idempotent and re-sync from state, not from the bus).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, Protocol

log = logging.getLogger(__name__)

#: Screen-pops and agent phone states, from the AMI side to the agents' WebSocket hub.
SCREENPOP_CHANNEL = "screenpop"
#: Call life-cycle facts other parts act on (``call_ended``: the recording service indexes
#: the call's MixMonitor file), from the AMI side.
CALLS_CHANNEL = "calls"
#: Postgres NOTIFY payloads must be shorter than 8000 bytes.
MAX_PAYLOAD_BYTES = 7900
_CHANNEL = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


class BusError(Exception):
    pass


def check_channel(channel: str) -> str:
    # Channel names become LISTEN identifiers: keep them to a safe alphabet.
    if not _CHANNEL.fullmatch(channel):
        raise BusError(f"bad bus channel name {channel!r}")
    return channel


def encode(message: dict[str, Any]) -> str:
    payload = json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=str)
    if len(payload.encode()) > MAX_PAYLOAD_BYTES:
        raise BusError(f"bus message of {len(payload.encode())} bytes is too large")
    return payload


class _Fanout:
    """Local fan-out to subscriber queues, shared by both bus kinds."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._queues: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)
        self._queue_size = queue_size
        self.dropped = 0

    def deliver(self, channel: str, message: dict[str, Any]) -> None:
        for queue in list(self._queues.get(channel, ())):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:  # a stuck consumer must not stall the publisher
                self.dropped += 1
                log.warning("bus: subscriber on %s is full; message dropped", channel)

    def add(self, channel: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._queues[channel].add(queue)

    def remove(self, channel: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._queues[channel].discard(queue)
        if not self._queues[channel]:
            del self._queues[channel]

    def open(self, channel: str) -> Subscription:
        return Subscription(self, channel, self._queue_size)

    def has_subscribers(self, channel: str) -> bool:
        return bool(self._queues.get(channel))


class Subscription:
    """Messages of one channel, in arrival order. Registered before ``subscribe`` returns,
    so nothing published after that is missed; ``close`` unregisters."""

    def __init__(self, fanout: _Fanout, channel: str, queue_size: int) -> None:
        self._fanout = fanout
        self.channel = channel
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(queue_size)
        fanout.add(channel, self.queue)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self

    async def __anext__(self) -> dict[str, Any]:
        return await self.queue.get()

    def close(self) -> None:
        self._fanout.remove(self.channel, self.queue)


class Bus(Protocol):
    async def publish(self, channel: str, message: dict[str, Any]) -> None: ...

    async def subscribe(self, channel: str) -> Subscription: ...

    async def close(self) -> None: ...


class InMemoryBus:
    def __init__(self) -> None:
        self._fanout = _Fanout()

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        check_channel(channel)
        encode(message)  # same size rule as the Postgres bus, so behaviour does not change
        self._fanout.deliver(channel, message)

    async def subscribe(self, channel: str) -> Subscription:
        return self._fanout.open(check_channel(channel))

    async def close(self) -> None:
        return None


class PostgresBus:
    """LISTEN/NOTIFY over one dedicated asyncpg connection (``dsn`` is a libpq URL)."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._fanout = _Fanout()
        self._conn: Any = None
        self._listening: set[str] = set()
        self._lock = asyncio.Lock()
        self._closing = False
        self._reconnect_task: asyncio.Future[None] | None = None

    async def _connection(self) -> Any:
        import asyncpg

        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self._dsn)
            self._conn.add_termination_listener(self._on_terminated)
            self._listening.clear()
        return self._conn

    def _on_terminated(self, _conn: Any) -> None:
        # Postgres restarted or the connection was cut: LISTENs are gone with it. Reconnect
        # in the background and listen again on every channel that still has subscribers.
        channels = set(self._listening)
        self._listening.clear()
        if channels and not self._closing:
            self._reconnect_task = asyncio.ensure_future(self._relisten(channels))

    async def _relisten(self, channels: set[str], max_delay: float = 10.0) -> None:
        delay = 0.2
        while not self._closing:
            try:
                for channel in channels:
                    if self._fanout.has_subscribers(channel):
                        await self._listen(channel)
                log.info("bus: listening again on %s", ", ".join(sorted(channels)))
                return
            except Exception as exc:  # asyncpg raises many kinds while Postgres is down
                log.warning("bus: reconnect failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, max_delay)

    def _on_notify(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            log.warning("bus: undecodable payload on %s", channel)
            return
        self._fanout.deliver(channel, message)

    async def _listen(self, channel: str) -> None:
        async with self._lock:
            conn = await self._connection()
            if channel not in self._listening:
                await conn.add_listener(channel, self._on_notify)
                self._listening.add(channel)

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        check_channel(channel)
        payload = encode(message)
        async with self._lock:
            conn = await self._connection()
            await conn.execute("SELECT pg_notify($1, $2)", channel, payload)

    async def subscribe(self, channel: str) -> Subscription:
        check_channel(channel)
        await self._listen(channel)
        return self._fanout.open(channel)

    async def close(self) -> None:
        self._closing = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None


def libpq_dsn(sqlalchemy_url: str) -> str:
    """``postgresql+asyncpg://...`` → the plain ``postgresql://...`` asyncpg.connect takes."""
    from sqlalchemy.engine import make_url

    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)
