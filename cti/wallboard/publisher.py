"""The wallboard's AMI-side edge: feeds every AMI event to a ``Board`` and publishes its
deltas, in order, on the bus channel ``wallboard``; answers a hub's snapshot request
(channel ``wallboard_requests``) with the full boards; and says every ``heartbeat_s``
(and at once on a change) whether each AMI link is up, so a board knows when it is stale.

After an AMI reconnect the connection re-reads ``QueueStatus`` and its items reach the
board like any event: the board is Asterisk's again without anything done here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cti.ami.protocol import AmiMessage
from cti.bus import Bus, BusError
from cti.service import Health
from cti.wallboard.board import Board

if TYPE_CHECKING:
    from cti.wallboard.watch import AlertWatch

log = logging.getLogger(__name__)

WALLBOARD_CHANNEL = "wallboard"
WALLBOARD_REQUESTS_CHANNEL = "wallboard_requests"
HEARTBEAT_S = 5.0
#: How often the open callback requests are counted (they are written by the FastAGI side,
#: the agents' API and the dialer, in any process: the count is read where they meet).
CALLBACKS_S = 2.0


class WallboardPublisher:
    """A ``cti.service.Service`` of the AMI side. ``ami`` is the ``AmiService`` (its
    ``add_listener`` and ``connections`` are used). With ``alerts`` the board is checked
    against the counties' alert thresholds after every change and every tick, and the
    board counts the service level with the counties' own N (``alerts.sl_of``), starts
    from the day's call rows, and the open callback requests are counted every
    ``callbacks_s`` and sent when they change (``{"type": "callbacks", "county", "open"}``)."""

    name = "wallboard"

    def __init__(
        self,
        ami: Any,
        bus: Bus,
        *,
        board: Board | None = None,
        alerts: AlertWatch | None = None,
        heartbeat_s: float = HEARTBEAT_S,
        callbacks_s: float = CALLBACKS_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._callbacks_s = callbacks_s
        #: county -> open callback requests, as last sent
        self.callbacks: dict[str, int] = {}
        if board is None:
            board = Board(clock=clock, sl_of=alerts.sl_of) if alerts else Board(clock=clock)
        self.board = board
        self.alerts = alerts
        self._ami = ami
        self._bus = bus
        self._heartbeat_s = heartbeat_s
        self._clock = clock
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._links: dict[str, str] = {}
        self.published = 0
        ami.add_listener(self._on_ami_event)

    def _on_ami_event(self, node: str, message: AmiMessage) -> None:
        deltas = self.board.feed(message, node)
        for delta in deltas:
            self._queue.put_nowait(delta)
        if deltas:
            self._check_alerts()

    def _check_alerts(self) -> None:
        """Check the board for alerts, unless an AMI link is down: a stale board raises
        and clears nothing (an Asterisk restart marks every agent unavailable until the
        re-read; that is no "no agent logged in"), the alerts stay as they were."""
        if self.alerts is None:
            return
        if any(state != "connected" for state in self.links().values()):
            return
        for delta in self.alerts.check(self.board):
            self._queue.put_nowait(delta)

    def links(self) -> dict[str, str]:
        return {c.node.name: str(c.state) for c in self._ami.connections}

    def _link_message(self) -> dict[str, Any]:
        return {"type": "link", "nodes": self._links, "at": self._clock()}

    async def _send(self, message: dict[str, Any]) -> None:
        # post, not publish: the bus sends what is queued in one round trip, in order;
        # awaiting each delta's own round trip made a burst of calls wait behind it.
        try:
            self._bus.post(WALLBOARD_CHANNEL, message)
            self.published += 1
        except BusError:
            log.exception("wallboard delta not sent")

    async def _publish_loop(self) -> None:
        while True:
            message = await self._queue.get()
            await self._send(message)

    async def _heartbeat_loop(self) -> None:
        last = 0.0
        while True:
            await asyncio.sleep(min(0.5, self._heartbeat_s))
            for delta in self.board.tick():
                self._queue.put_nowait(delta)
            self._check_alerts()
            links = self.links()
            now = time.monotonic()
            if links != self._links or now - last >= self._heartbeat_s:
                self._links = links
                last = now
                self._queue.put_nowait(self._link_message())

    def _callbacks_delta(self, county: str) -> dict[str, Any]:
        return {"type": "callbacks", "county": county, "open": self.callbacks[county]}

    async def _callbacks_loop(self) -> None:
        """Sends a county's open callback requests when the count changes."""
        assert self.alerts is not None
        while True:
            try:
                counts = await self.alerts.open_callbacks()
            except Exception:
                log.exception("open callback requests not counted")
                counts = {}
            for county, n in sorted(counts.items()):
                if self.callbacks.get(county) != n:
                    self.callbacks[county] = n
                    self._queue.put_nowait(self._callbacks_delta(county))
            await asyncio.sleep(self._callbacks_s)

    async def _requests_loop(self) -> None:
        subscription = await self._bus.subscribe(WALLBOARD_REQUESTS_CHANNEL)
        try:
            async for _request in subscription:
                self._queue.put_nowait(self._link_message())
                for county in self.board.counties():
                    for delta in self.board.snapshot(county):
                        self._queue.put_nowait(delta)
                for delta in self.alerts.snapshot() if self.alerts else []:
                    self._queue.put_nowait(delta)
                for county in sorted(self.callbacks):
                    self._queue.put_nowait(self._callbacks_delta(county))
        finally:
            subscription.close()

    async def seed_today(self) -> None:
        """Start today's figures from the call rows (answered and abandoned before this
        process started), so a restart does not zero the board. The board's live counts
        are added to them: a call that ends in the moment between the AMI connecting and
        this query could count twice; one answered before the start and ending after it
        is in neither (both are rare and gone the next day)."""
        if self.alerts is None:
            return
        try:
            day, figures = await self.alerts.today()
        except Exception:
            log.exception("today's figures not read from the call rows: the board counts from 0")
            return
        for code, today in sorted(figures.items()):
            for delta in self.board.seed(code, day, today):
                self._queue.put_nowait(delta)

    async def start(self) -> None:
        await self.seed_today()
        self._links = self.links()
        self._tasks = [
            asyncio.create_task(self._publish_loop(), name="wallboard-publish"),
            asyncio.create_task(self._heartbeat_loop(), name="wallboard-heartbeat"),
            asyncio.create_task(self._requests_loop(), name="wallboard-requests"),
        ]
        if self.alerts is not None:
            self._tasks.append(
                asyncio.create_task(self._callbacks_loop(), name="wallboard-callbacks")
            )
        # A hub that started before us asked already: answer anyway.
        self._queue.put_nowait(self._link_message())

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def health(self) -> Health:
        running = bool(self._tasks) and not any(t.done() for t in self._tasks)
        return Health(
            running, {"counties": len(self.board.counties()), "queue": self._queue.qsize()}
        )

    def metrics(self) -> list[str]:
        return [
            "# HELP cti_wallboard_deltas_total Wallboard deltas published on the bus.",
            "# TYPE cti_wallboard_deltas_total counter",
            f"cti_wallboard_deltas_total {self.published}",
        ]
