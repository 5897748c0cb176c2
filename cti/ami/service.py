"""``AmiService``: one AMI connection per Asterisk node feeding one call tracker, whose
domain events go, in order, to the injected ``publish`` callback.

The tracker runs synchronously inside the protocol callback (it is pure and fast), so its
input order is the stream order; its output is queued and published by one task, so a
slow consumer delays publication but never reorders it or stalls the socket reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from cti.ami.connection import AmiConnection, ConnectionState
from cti.ami.events import EVENT_TYPES, DomainEvent, NodeResynced
from cti.ami.protocol import AmiMessage
from cti.ami.tracker import CallTracker, default_county_of_queue
from cti.numbers import NumberPlan
from cti.service import Health
from cti.settings import AmiNode

log = logging.getLogger(__name__)

Publish = Callable[[DomainEvent], Awaitable[None]]


class AmiService:
    """The AMI listener as a ``cti.service.Service``.

    ``publish(event)`` is awaited once per domain event, in order; an exception from it is
    logged and counted, and the next event is still published. ``county_of_queue`` maps a
    queue name to a county code (default: the ``county-<code>`` naming convention).
    ``connection_options`` go to each ``AmiConnection`` (timeouts, backoff).
    """

    name = "ami"

    def __init__(
        self,
        nodes: Sequence[AmiNode],
        number_plan: NumberPlan,
        publish: Publish,
        *,
        county_of_queue: Callable[[str], str | None] = default_county_of_queue,
        drain: Callable[[], Awaitable[None]] | None = None,
        **connection_options: Any,
    ) -> None:
        names = [node.name for node in nodes]
        if len(set(names)) != len(names):
            raise ValueError(f"AMI node names must be unique, got {names}")
        self.tracker = CallTracker(number_plan, county_of_queue=county_of_queue, clock=time.time)
        self._publish = publish
        #: Awaited at stop, after the queue is published: what ``publish`` started
        #: (lookups in flight, pop records not yet written) finishes before the process ends.
        self._drain = drain
        self._queue: asyncio.Queue[DomainEvent] = asyncio.Queue()
        self._publisher: asyncio.Task[None] | None = None
        self.published: Counter[str] = Counter()
        self._listeners: list[Callable[[str, AmiMessage], None]] = []
        self.publish_errors = 0
        self.connections = [
            AmiConnection(
                node, self._on_ami_event, wanted=self.tracker.wanted_events, **connection_options
            )
            for node in nodes
        ]

    def add_listener(self, listener: Callable[[str, AmiMessage], None]) -> None:
        """Also hand every AMI event to ``listener(node, message)``, synchronously and in
        stream order, before the tracker (the click-to-call dialer reads its
        ``OriginateResponse`` and ``Hangup`` this way). It must not block; an exception
        from it is logged and does not reach the tracker."""
        self._listeners.append(listener)

    def connection(self, node: str) -> AmiConnection | None:
        """The connection to the node named ``node`` (None when this process has none)."""
        return next((c for c in self.connections if c.node.name == node), None)

    def _on_ami_event(self, node: str, message: AmiMessage) -> None:
        for listener in self._listeners:
            try:
                listener(node, message)
            except Exception:
                log.exception("AMI event listener failed")
        for event in self.tracker.feed(message, node):
            self._queue.put_nowait(event)
        if message.get("Event") == "CoreShowChannelsComplete":
            # The resync's commit point: what rings and who is on a call now, for pops
            # made before this process (re)started.
            self._queue.put_nowait(NodeResynced(node=node, live=self.tracker.live(node)))

    async def _publish_loop(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self._publish(event)
                self.published[event.type] += 1
            except Exception:
                self.publish_errors += 1
                log.exception("publishing %s failed", event.type)
            finally:
                self._queue.task_done()

    async def start(self) -> None:
        """Start the publisher and one connect loop per node; returns at once (a node that
        is down is retried in the background and shows in ``health()``)."""
        if self._publisher is None:
            self._publisher = asyncio.create_task(self._publish_loop(), name="ami-publish")
        for connection in self.connections:
            connection.start()

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Log off every node, publish what is still queued and drain (bounded waits), then
        stop."""
        await asyncio.gather(*(c.stop() for c in self.connections), return_exceptions=True)
        if self._publisher is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), drain_timeout)
            if self._drain is not None:
                try:
                    await asyncio.wait_for(self._drain(), drain_timeout)
                except TimeoutError:
                    log.warning("AMI side stopped before its pops were all recorded")
                except Exception:
                    log.exception("draining the AMI side's publisher failed")
            self._publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publisher
            self._publisher = None

    def health(self) -> Health:
        nodes: dict[str, object] = {}
        for c in self.connections:
            nodes[c.node.name] = {
                "state": str(c.state),
                "address": f"{c.node.host}:{c.node.port}",
                "connected_since": c.stats.connected_since,
                "last_error": c.stats.last_error,
                "calls": self.tracker.active_calls(c.node.name),
            }
        ok = all(c.state is ConnectionState.CONNECTED for c in self.connections)
        return Health(ok=ok, detail={"nodes": nodes, "publish_queue": self._queue.qsize()})

    def metrics(self) -> list[str]:
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]):
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")
            lines.extend(f"{name}{labels} {value:g}" for labels, value in samples)

        def per_node(attr: Callable[[AmiConnection], float]) -> list[tuple[str, float]]:
            return [(_labels(node=c.node.name), attr(c)) for c in self.connections]

        family(
            "cti_ami_connected",
            "gauge",
            "1 while the AMI session to the node is logged in.",
            per_node(lambda c: 1.0 if c.state is ConnectionState.CONNECTED else 0.0),
        )
        family(
            "cti_ami_logins_total",
            "counter",
            "Successful AMI logins.",
            per_node(lambda c: c.stats.logins),
        )
        family(
            "cti_ami_disconnects_total",
            "counter",
            "Logged-in sessions that were lost.",
            per_node(lambda c: c.stats.disconnects),
        )
        family(
            "cti_ami_connect_failures_total",
            "counter",
            "TCP connects that failed.",
            per_node(lambda c: c.stats.connect_failures),
        )
        family(
            "cti_ami_login_failures_total",
            "counter",
            "Logins Asterisk refused.",
            per_node(lambda c: c.stats.login_failures),
        )
        family(
            "cti_ami_ping_timeouts_total",
            "counter",
            "Keep-alive Pings left unanswered.",
            per_node(lambda c: c.stats.ping_timeouts),
        )
        family(
            "cti_ami_resyncs_total",
            "counter",
            "State rebuilds from Asterisk's actions.",
            per_node(lambda c: c.stats.resyncs),
        )
        family(
            "cti_ami_events_total",
            "counter",
            "AMI events received (tracked kinds).",
            per_node(lambda c: c.stats.events),
        )
        family(
            "cti_ami_handler_errors_total",
            "counter",
            "AMI events the tracker failed on.",
            per_node(lambda c: c.stats.handler_errors),
        )
        family(
            "cti_ami_active_calls",
            "gauge",
            "Calls the tracker holds per node.",
            per_node(lambda c: self.tracker.active_calls(c.node.name)),
        )
        family(
            "cti_ami_domain_events_total",
            "counter",
            "Domain events published, by type.",
            [(_labels(type=t), self.published[t]) for t in EVENT_TYPES],
        )
        family(
            "cti_ami_publish_errors_total",
            "counter",
            "Domain events publish() failed on.",
            [("", self.publish_errors)],
        )
        family(
            "cti_ami_publish_queue",
            "gauge",
            "Domain events waiting to be published.",
            [("", self._queue.qsize())],
        )
        return lines


def _labels(**labels: str) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    inner = ",".join(f'{key}="{escape(value)}"' for key, value in labels.items())
    return "{" + inner + "}"
