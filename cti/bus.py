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
from collections import defaultdict, deque
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

    def post(self, channel: str, message: dict[str, Any]) -> None:
        """Send without waiting: in order with every other ``post``/``publish`` of this
        bus; ``BusError`` at once for a bad channel or size, a delivery failure is logged
        and counted (a publisher that must not stall on the bus: the AMI side)."""
        ...

    async def subscribe(self, channel: str) -> Subscription: ...

    async def close(self) -> None: ...


class InMemoryBus:
    def __init__(self) -> None:
        self._fanout = _Fanout()

    async def publish(self, channel: str, message: dict[str, Any]) -> None:
        check_channel(channel)
        encode(message)  # same size rule as the Postgres bus, so behaviour does not change
        self._fanout.deliver(channel, message)

    def post(self, channel: str, message: dict[str, Any]) -> None:
        check_channel(channel)
        encode(message)
        self._fanout.deliver(channel, message)

    async def subscribe(self, channel: str) -> Subscription:
        return self._fanout.open(check_channel(channel))

    async def close(self) -> None:
        return None


class PostgresBus:
    """LISTEN/NOTIFY over one dedicated asyncpg connection (``dsn`` is a libpq URL).

    Outgoing messages wait in one FIFO; a single writer sends everything queued in one
    round trip (``executemany`` of ``pg_notify``: one transaction, so one commit, and
    NOTIFYs are delivered in the order sent). A burst of N messages therefore costs a few
    round trips, not N in series (measured: at 100 calls/s with Postgres busy, one round
    trip per message let the AMI side's queue grow to seconds -- docs/performance.md).
    Postgres folds identical (channel, payload) pairs of one transaction into one, so a
    batch ends before a repeat and the repeat goes in the next one.
    """

    #: Messages per round trip at most.
    BATCH = 500

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._fanout = _Fanout()
        self._conn: Any = None
        self._listening: set[str] = set()
        self._lock = asyncio.Lock()
        self._closing = False
        self._reconnect_task: asyncio.Future[None] | None = None
        #: (channel, payload, future or None for ``post``), oldest first.
        self._outbox: deque[tuple[str, str, asyncio.Future[None] | None]] = deque()
        self._writer: asyncio.Task[None] | None = None
        self.round_trips = 0
        self.post_failures = 0

    async def _connection(self) -> Any:
        import asyncpg

        if self._conn is None or self._conn.is_closed():
            # A transaction with NOTIFY writes a commit record, and by default its commit
            # (and so the delivery to every listener) waits for that record to reach the
            # disk: behind the other sessions' flushes, tens of ms on a busy disk, for
            # messages that are not kept anyway (Postgres holds no NOTIFY over a restart).
            self._conn = await asyncpg.connect(
                self._dsn, server_settings={"synchronous_commit": "off"}
            )
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
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._enqueue(channel, payload, done)
        await done

    def post(self, channel: str, message: dict[str, Any]) -> None:
        check_channel(channel)
        self._enqueue(channel, encode(message), None)

    def _enqueue(self, channel: str, payload: str, done: asyncio.Future[None] | None) -> None:
        if self._closing:
            raise BusError("bus closed")
        self._outbox.append((channel, payload, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop(), name="bus-writer")

    def _next_batch(self) -> list[tuple[str, str, asyncio.Future[None] | None]]:
        batch: list[tuple[str, str, asyncio.Future[None] | None]] = []
        seen: set[tuple[str, str]] = set()
        while self._outbox and len(batch) < self.BATCH:
            channel, payload, done = self._outbox[0]
            if (channel, payload) in seen:
                break  # Postgres would fold it into the first one
            seen.add((channel, payload))
            batch.append(self._outbox.popleft())
        return batch

    async def _write_loop(self) -> None:
        while self._outbox:
            batch = self._next_batch()
            try:
                async with self._lock:
                    conn = await self._connection()
                    await conn.executemany(
                        "SELECT pg_notify($1, $2)", [(c, p) for c, p, _ in batch]
                    )
                self.round_trips += 1
            except asyncio.CancelledError:
                for _, _, done in batch:
                    if done is not None and not done.done():
                        done.set_exception(BusError("bus closed"))
                raise
            except Exception as exc:  # asyncpg raises many kinds while Postgres is down
                for _, _, done in batch:
                    if done is None:
                        self.post_failures += 1
                    elif not done.done():
                        done.set_exception(BusError(f"bus message not sent: {exc}"))
                if any(done is None for _, _, done in batch):
                    log.warning("bus: %d message(s) not sent: %s", len(batch), exc)
                continue
            for _, _, done in batch:
                if done is not None and not done.done():
                    done.set_result(None)

    async def subscribe(self, channel: str) -> Subscription:
        check_channel(channel)
        await self._listen(channel)
        return self._fanout.open(channel)

    async def close(self) -> None:
        if self._writer is not None:  # what was posted still goes out (bounded)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._writer), 5.0)
        self._closing = True
        if self._writer is not None:
            self._writer.cancel()
        while self._outbox:  # nobody waits forever for a message that will not go
            _, _, done = self._outbox.popleft()
            if done is not None and not done.done():
                done.set_exception(BusError("bus closed"))
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
