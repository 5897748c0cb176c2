"""One AMI session to one Asterisk node: connect, log in, resync, keep alive, reconnect.

Why not ``panoramisk.Manager``: it reconnects after a fixed delay, its Ping never checks
for an answer (a half-open TCP connection looks healthy forever), it re-sends pending
actions only on ``FullyBooted`` (which a filtered login never receives, capture2 o), and
it treats a failed login like a success. We keep panoramisk's protocol (actions,
ActionIDs, response matching) through ``cti.ami.protocol.AmiProtocol`` and drive it here.

Login asks for ``Events: call,agent,user,system``. ``call``, ``agent`` and ``user`` carry
everything the tracker reads (capture2 o: 47 events per answered call instead of ~290);
``system`` adds only rare events but two we need: ``FullyBooted`` (Asterisk finished
booting after we connected: resync again; a ``call,agent,user`` login never sees it) and
``Shutdown`` (Asterisk is stopping: every call is over). ``dialplan`` (VarSet, Newexten:
66% of all events), ``agi`` and ``reporting`` stay off.

On every login the session sends ``Ping`` (the answer's ``Timestamp`` is the node's
clock), ``QueueStatus``, ``Status`` (DNIDs) and ``CoreShowChannels``, pipelined; their
items reach the tracker in stream order with the live events, and ``CoreShowChannelsComplete``
is the tracker's commit point.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from panoramisk.actions import Action

from cti.ami.protocol import AmiMessage, AmiProtocol, first
from cti.settings import AmiNode

log = logging.getLogger(__name__)

LOGIN_EVENTS = "call,agent,user,system"
#: Sent after every login, in this order (the tracker commits at the last one's end).
RESYNC_ACTIONS = ("Ping", "QueueStatus", "Status", "CoreShowChannels")


class AuthenticationFailed(Exception):
    """Asterisk refused the login (wrong secret and unknown user look the same)."""


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"  # logged in
    DISCONNECTED = "disconnected"
    AUTH_FAILED = "auth_failed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential reconnect delay with jitter: ``initial * factor**attempt``, capped."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        base = min(self.maximum, self.initial * self.factor ** max(0, attempt))
        return max(0.0, base * (1 + self.jitter * (2 * rand() - 1)))


@dataclass(slots=True)
class ConnectionStats:
    logins: int = 0
    disconnects: int = 0
    connect_failures: int = 0
    login_failures: int = 0
    ping_timeouts: int = 0
    resyncs: int = 0
    #: Resyncs whose answers have all been received (and fed to the tracker).
    resyncs_done: int = 0
    events: int = 0
    handler_errors: int = 0
    last_error: str | None = None
    connected_since: float | None = None


class AmiConnection:
    """Keeps one node's AMI session alive until ``stop()``.

    ``on_event(node_name, message)`` is called synchronously, in stream order, for every
    event (live ones and the items of our resync responses); it must not block.
    """

    def __init__(
        self,
        node: AmiNode,
        on_event: Callable[[str, AmiMessage], None],
        *,
        events: str = LOGIN_EVENTS,
        wanted: Collection[str] | None = None,
        ping_interval: float = 10.0,
        ping_timeout: float = 5.0,
        connect_timeout: float = 5.0,
        action_timeout: float = 15.0,
        backoff: Backoff = Backoff(),  # noqa: B008 (frozen)
        stable_after: float = 10.0,
    ) -> None:
        for value in (node.username, node.secret, events):
            # Actions are "Key: value\r\n" lines: a CR/LF would inject headers.
            if "\r" in value or "\n" in value:
                raise ValueError("AMI credentials must not contain line breaks")
        self.node = node
        self._on_event = on_event
        self.events = events
        self.wanted = frozenset(wanted) | {"FullyBooted"} if wanted is not None else None
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.connect_timeout = connect_timeout
        self.action_timeout = action_timeout
        self.backoff = backoff
        self.stable_after = stable_after
        self.state = ConnectionState.DISCONNECTED
        self.stats = ConnectionStats()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._protocol: AmiProtocol | None = None
        self._resync_sent = False
        self._resync_wanted = False

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        """Start the connect loop in the background (returns at once)."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name=f"ami-{self.node.name}")

    async def stop(self, logoff_wait: float = 2.0) -> None:
        """Log off politely if connected, then close; the loop ends."""
        self._stopping = True
        self._wake.set()
        protocol = self._protocol
        if protocol is not None and self.state is ConnectionState.CONNECTED:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(protocol.send(Action({"Action": "Logoff"})), logoff_wait)
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.state = ConnectionState.STOPPED

    def request_resync(self) -> None:
        """Resynchronise from Asterisk's state at the next opportunity."""
        self._resync_wanted = True
        self._wake.set()

    # --- the loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            started = time.monotonic()
            auth_failed = False
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except AuthenticationFailed as exc:
                auth_failed = True
                self.stats.login_failures += 1
                self.stats.last_error = f"login refused: {exc}"
                log.error("AMI %s: login refused: %s", self.node.name, exc)
            except (OSError, TimeoutError, ConnectionError) as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("AMI %s: %s", self.node.name, self.stats.last_error)
            finally:
                if self.state is ConnectionState.CONNECTED:
                    self.stats.disconnects += 1
                self.stats.connected_since = None
                self._close()
            if self._stopping:
                break
            self.state = (
                ConnectionState.AUTH_FAILED if auth_failed else ConnectionState.DISCONNECTED
            )
            if time.monotonic() - started >= self.stable_after:
                attempt = 0
            # A refused login will not fix itself soon: wait the longest.
            delay = self.backoff.maximum if auth_failed else self.backoff.delay(attempt)
            attempt += 1
            log.info("AMI %s: reconnecting in %.1f s", self.node.name, delay)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _session(self) -> None:
        loop = asyncio.get_running_loop()
        lost: asyncio.Future[BaseException | None] = loop.create_future()

        def on_lost(exc: BaseException | None) -> None:
            if not lost.done():
                lost.set_result(exc)

        self.state = ConnectionState.CONNECTING
        self._resync_sent = False
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(
                    lambda: AmiProtocol(self._handle, on_lost, self.wanted),
                    self.node.host,
                    self.node.port,
                ),
                self.connect_timeout,
            )
        except (OSError, TimeoutError):
            self.stats.connect_failures += 1
            raise
        self._protocol = protocol
        reply = await self._action(
            {
                "Action": "Login",
                "Username": self.node.username,
                "Secret": self.node.secret,
                "Events": self.events,
            }
        )
        if first(reply.get("Response")) != "Success":
            raise AuthenticationFailed(first(reply.get("Message")) or "no reason given")
        self.state = ConnectionState.CONNECTED
        self.stats.logins += 1
        self.stats.connected_since = time.time()
        self.stats.last_error = None
        log.info("AMI %s: logged in to %s:%s", self.node.name, self.node.host, self.node.port)
        await self._resync()
        while True:
            self._wake.clear()
            waiter = asyncio.ensure_future(self._wake.wait())
            try:
                done, _ = await asyncio.wait(
                    {lost, waiter},
                    timeout=self.ping_interval,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                waiter.cancel()
            if lost.done():
                exc = lost.result()
                raise ConnectionError(f"connection closed{': ' + str(exc) if exc else ''}")
            if self._stopping:
                return
            if self._resync_wanted:
                await self._resync()
                continue
            if not done:
                try:
                    await self._action({"Action": "Ping"}, wait=self.ping_timeout)
                except TimeoutError:
                    self.stats.ping_timeouts += 1
                    raise TimeoutError(f"no answer to Ping in {self.ping_timeout} s") from None

    async def _resync(self) -> None:
        self._resync_wanted = False
        self._resync_sent = True
        self.stats.resyncs += 1
        assert self._protocol is not None
        futures = [
            self._protocol.send(Action({"Action": name}), as_list=name != "Ping")
            for name in RESYNC_ACTIONS
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*futures), self.action_timeout)
        except TimeoutError:
            raise TimeoutError("resync actions unanswered") from None
        self.stats.resyncs_done += 1

    async def send(self, action: dict[str, Any], wait: float | None = None) -> AmiMessage:
        """Send one action on the logged-in session and return Asterisk's answer (one
        message: for an async ``Originate``, the "queued" response). Raises
        ``ConnectionError`` when not logged in (nothing is sent), ``TimeoutError`` when
        Asterisk does not answer."""
        if self.state is not ConnectionState.CONNECTED or self._protocol is None:
            raise ConnectionError(f"AMI {self.node.name} is not connected")
        return await self._action(action, wait)

    async def _action(self, action: dict[str, Any], wait: float | None = None) -> Any:
        assert self._protocol is not None
        request = Action(action)
        future = self._protocol.send(request, as_list=False)
        try:
            return await asyncio.wait_for(future, wait or self.action_timeout)
        except TimeoutError:
            self._protocol.responses.pop(request.action_id, None)
            raise TimeoutError(f"no answer to {action['Action']}") from None

    def _handle(self, message: AmiMessage) -> None:
        self.stats.events += 1
        if message.get("Event") == "FullyBooted" and self._resync_sent:
            # Asterisk finished booting after our resync (we logged in during its start):
            # queues and channels may only now be complete. The FullyBooted that comes
            # right after Login precedes our resync and needs nothing more.
            self.request_resync()
        try:
            self._on_event(self.node.name, message)
        except Exception:  # a bug downstream must not drop the connection
            self.stats.handler_errors += 1
            log.exception("AMI %s: event handler failed", self.node.name)

    def _close(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.abort()
