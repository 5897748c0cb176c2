"""One FastAGI connection: read the environment, run the handler, journal the record,
acknowledge. The socket work for ``cti.agi.server``; the decisions are in ``handlers``.

The acknowledgement is ``SET VARIABLE CTI_AGI_STATUS OK``, sent only after the record is
durable. The dialplan retries when CTI_AGI_STATUS stays empty, because AGISTATUS cannot
tell: when this server dies in the middle of a request, Asterisk reads EOF and still
reports SUCCESS. ``REJECTED`` (malformed request) and ``UNKNOWN`` (no such script) tell the
dialplan not to retry.

Each connection is an ``asyncio.Protocol`` (``AgiConnection``) driven by callbacks, not a
task reading streams: the common request (every parameter in the URL) is read, parsed,
handed to the group committer and acknowledged without a coroutine, a future or a
``StreamReader`` (bench/bench_agi.py: that machinery was most of the server's CPU per
request). A request that must read channel variables first (``GET VARIABLE``, for a
dialplan that does not pass every parameter) runs as a coroutine over the same
connection's lines, then joins the same path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from cti.agi import protocol
from cti.agi.handlers import HANDLERS, AgiRequest, Handler, HandlerContext
from cti.agi.protocol import (
    STATUS_VARIABLE,
    AgiProtocolError,
    AgiResponse,
    MalformedRequest,
    ResponseParser,
)
from cti.agi.records import RecordRejected

log = logging.getLogger("cti.agi")

__all__ = [
    "STATUS_VARIABLE",
    "AgiConnection",
    "PeerClosed",
    "RequestTooLarge",
    "SessionHandler",
    "SessionLimits",
    "SessionStats",
]


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """Bounds on what one peer may make this server do."""

    #: The whole environment must arrive within this many seconds (slow peers, half
    #: requests), and each command's response within ``command_timeout``.
    env_timeout: float = 10.0
    command_timeout: float = 10.0
    max_line_bytes: int = 64 * 1024
    #: Also the bound on what a connection buffers: no read ever holds more than this.
    max_env_bytes: int = 256 * 1024
    max_env_lines: int = 1024


class PeerClosed(AgiProtocolError):
    """The peer closed the connection (possibly half-way through a line)."""


class RequestTooLarge(MalformedRequest):
    pass


@dataclass(slots=True)
class SessionStats:
    """Counters for /metrics. Latencies: seconds from full environment to acknowledgement."""

    sessions: int = 0
    acknowledged: int = 0
    rejected: int = 0
    unknown_script: int = 0
    malformed: int = 0
    timeouts: int = 0
    early_disconnects: int = 0
    ack_failed: int = 0
    journal_failed: int = 0
    latencies: list[float] = field(default_factory=list)
    max_latency_samples: int = 10_000

    def observe(self, seconds: float) -> None:
        if len(self.latencies) >= self.max_latency_samples:
            del self.latencies[: self.max_latency_samples // 2]
        self.latencies.append(seconds)


Appender = Callable[[bytes], Awaitable[None]]
#: ``submit(payload, done)``: queue a record; ``done(None)`` once it is durable, or
#: ``done(exc)`` if it could not be written. Called on the event loop.
Submitter = Callable[[bytes, Callable[[BaseException | None], None]], None]

# Connection states.
_ENV, _BUSY, _PULLING, _ACK, _CLOSED = range(5)
# What a pending command's response means.
_OK_ACK, _REFUSAL = 0, 1


class SessionHandler:
    """What every connection shares: the journal appender, the handlers, the limits and
    the counters. ``connection()`` makes the protocol of one connection."""

    def __init__(
        self,
        append: Appender,
        context: HandlerContext,
        *,
        limits: SessionLimits | None = None,
        handlers: dict[str, Handler] | None = None,
        clock: Callable[[], float] = time.time,
        submit: Submitter | None = None,
    ) -> None:
        self._append = append
        if submit is None:
            # A GroupCommitter's append: use its callback form (no future, no task).
            submit = getattr(getattr(append, "__self__", None), "submit", None)
        self._submit: Submitter = submit or self._submit_with_task
        self._context = context
        self.limits = limits or SessionLimits()
        self._handlers = dict(HANDLERS if handlers is None else handlers)
        self._clock = clock
        self.stats = SessionStats()

    def _submit_with_task(
        self, payload: bytes, done: Callable[[BaseException | None], None]
    ) -> None:
        async def run() -> None:
            try:
                await self._append(payload)
            except Exception as exc:
                done(exc)
            else:
                done(None)

        task = asyncio.get_running_loop().create_task(run())
        _background.add(task)
        task.add_done_callback(_background.discard)

    def connection(self, on_close: Callable[[AgiConnection], None] | None = None) -> AgiConnection:
        return AgiConnection(self, on_close)


_background: set[asyncio.Task[None]] = set()


class AgiConnection(asyncio.Protocol):
    """One FastAGI connection. Never raises out of a callback: every outcome is counted
    and logged, and the connection is closed on every path."""

    __slots__ = (
        "_ack_kind",
        "_buffer",
        "_error",
        "_handler",
        "_lines",
        "_line_waiter",
        "_on_close",
        "_parser",
        "_scan",
        "_started",
        "_state",
        "_timer",
        "_uniqueid",
        "transport",
    )

    def __init__(
        self, handler: SessionHandler, on_close: Callable[[AgiConnection], None] | None
    ) -> None:
        self._handler = handler
        self._on_close = on_close
        self._buffer = bytearray()
        self._scan = 0
        self._error: AgiProtocolError | None = None
        self._state = _ENV
        self._timer: asyncio.TimerHandle | None = None
        self._parser: ResponseParser | None = None
        self._ack_kind = _OK_ACK
        self._started = 0.0
        self._uniqueid: str | None = None
        self._lines: deque[bytes] | None = None
        self._line_waiter: asyncio.Future[None] | None = None
        self.transport: asyncio.Transport | None = None

    # --- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        handler = self._handler
        handler.stats.sessions += 1
        self._timer = asyncio.get_running_loop().call_later(
            handler.limits.env_timeout, self._timed_out
        )

    def data_received(self, data: bytes) -> None:
        state = self._state
        buffer = self._buffer
        if state == _ENV:
            if not buffer:
                end = data.find(b"\n\n")
                if end >= 0:  # the usual case: the whole environment in one read
                    buffer += data[end + 2 :]
                    self._environment(data[:end])
                    return
                buffer += data
            else:
                scan = len(buffer) - 1  # a "\n\n" may straddle the two reads
                buffer += data
                end = buffer.find(b"\n\n", scan)
                if end >= 0:
                    raw_env = bytes(buffer[:end])
                    del buffer[: end + 2]
                    self._environment(raw_env)
                    return
            if not b"agi_".startswith(buffer[:4]):  # HTTP, garbage, a blank line
                self._malformed(MalformedRequest(f"not an AGI environment: {bytes(buffer[:40])!r}"))
            elif len(buffer) > self._handler.limits.max_env_bytes:
                self._malformed(RequestTooLarge("environment larger than the limit"))
            return
        if state == _CLOSED:
            return
        buffer += data
        if state == _ACK or state == _PULLING:
            self._response_lines()
        elif len(buffer) > self._handler.limits.max_env_bytes:
            # _BUSY: Asterisk sends nothing while it waits for a command; bounded anyway.
            self._close()

    def eof_received(self) -> bool:
        return False  # close our side too (connection_lost follows)

    def connection_lost(self, exc: Exception | None) -> None:
        state = self._state
        self._cancel_timer()
        if state == _ACK:
            self._ack_done(PeerClosed("peer closed before answering"))
        self._state = _CLOSED
        if state == _ENV:
            stats = self._handler.stats
            stats.early_disconnects += 1
            if exc is None:
                log.warning(
                    "AGI peer disconnected early",
                    extra={
                        "peer": self._peer(),
                        "error": f"peer closed after {len(self._buffer)} bytes of a request",
                    },
                )
            else:
                log.warning("AGI connection lost", extra={"peer": self._peer(), "error": str(exc)})
        if self._line_waiter is not None and not self._line_waiter.done():
            self._line_waiter.set_result(None)
        if self._on_close is not None:
            self._on_close(self)
            self._on_close = None

    # --- the request ---------------------------------------------------------------------

    def _environment(self, raw_env: bytes) -> None:
        """The environment is complete: check, parse, build, journal."""
        self._cancel_timer()
        limits = self._handler.limits
        if (
            len(raw_env) > limits.max_env_bytes or raw_env.count(b"\n") >= limits.max_env_lines
        ) or (
            len(raw_env) > limits.max_line_bytes
            and max(map(len, raw_env.split(b"\n"))) > limits.max_line_bytes
        ):
            self._malformed(RequestTooLarge("environment with too many or too long lines"))
            return
        if not raw_env.startswith(b"agi_"):
            self._malformed(MalformedRequest(f"not an AGI environment: {raw_env[:40]!r}"))
            return
        self._state = _BUSY
        try:
            self._request(raw_env)
        except Exception:
            log.exception("FastAGI session failed")
            self._close()

    def _request(self, raw_env: bytes) -> None:
        handler = self._handler
        self._started = time.perf_counter()
        received_at = handler._clock()
        try:
            env = protocol.parse_environment(raw_env)
        except MalformedRequest as exc:
            self._malformed(exc)
            return
        self._uniqueid = env.get("uniqueid")
        try:
            target = protocol.parse_target(env.get("network_script"))
        except MalformedRequest as exc:
            handler.stats.rejected += 1
            self._refuse("REJECTED", str(exc))
            return
        script = handler._handlers.get(target.script)
        if script is None:
            handler.stats.unknown_script += 1
            self._refuse("UNKNOWN", f"no AGI script {target.script!r}")
            return
        request = AgiRequest(target.script, target.params, env, received_at)
        missing = script.missing(target.params)
        if missing:
            self._state = _PULLING
            self._lines = deque()
            task = asyncio.get_running_loop().create_task(self._pull(script, request, missing))
            _background.add(task)
            task.add_done_callback(_background.discard)
            return
        self._build(script, request, {})

    def _build(self, script: Handler, request: AgiRequest, pulled: dict[str, str | None]) -> None:
        handler = self._handler
        try:
            outcome = script.build(request, pulled, handler._context)
        except RecordRejected as exc:
            handler.stats.rejected += 1
            self._refuse("REJECTED", str(exc))
            return
        record = outcome.record
        if outcome.notes:
            log.warning(
                "AGI request logged with remarks",
                extra={
                    "script": request.script,
                    "uniqueid": record.uniqueid,
                    "notes": outcome.notes,
                },
            )
        self._uniqueid = record.uniqueid
        self._state = _BUSY
        try:
            handler._submit(record.to_json(), self._journaled)
        except Exception as exc:  # CommitterStopped: shutting down
            self._journaled(exc)

    def _journaled(self, exc: BaseException | None) -> None:
        """The group committer's answer: the record is durable (or not)."""
        handler = self._handler
        if exc is not None:
            # Not durable, so not acknowledged: the dialplan tries again.
            handler.stats.journal_failed += 1
            log.error(
                "journal write failed; request not acknowledged",
                extra={"uniqueid": self._uniqueid, "error": str(exc)},
            )
            self._close()
            return
        if self._state == _CLOSED:
            # The record is safe; Asterisk may send it again, which changes nothing.
            handler.stats.ack_failed += 1
            log.warning(
                "acknowledgement not delivered (record is journaled)",
                extra={"uniqueid": self._uniqueid, "peer": None, "error": "peer closed"},
            )
            return
        self._command(_ACK_OK, _OK_ACK)

    # --- commands and their responses ----------------------------------------------------

    def _refuse(self, status: str, reason: str) -> None:
        log.warning(
            "AGI request refused",
            extra={
                "peer": self._peer(),
                "status": status,
                "reason": reason,
                "uniqueid": self._uniqueid,
            },
        )
        self._command(protocol.set_variable(STATUS_VARIABLE, status), _REFUSAL)

    def _command(self, command: bytes, kind: int) -> None:
        """Send the acknowledgement (or refusal) and wait for its response."""
        if self._state == _CLOSED:
            return
        self._state = _ACK
        self._ack_kind = kind
        self._parser = ResponseParser()
        self._timer = asyncio.get_running_loop().call_later(
            self._handler.limits.command_timeout, self._timed_out
        )
        assert self.transport is not None
        self.transport.write(command)
        if self._buffer:
            self._response_lines()

    def _response_lines(self) -> None:
        """Feed the complete lines received to the pending command's parser (or to the
        coroutine that reads them, while pulling variables)."""
        buffer = self._buffer
        while self._state == _ACK or self._state == _PULLING:
            newline = buffer.find(b"\n", self._scan)
            if newline < 0:
                self._scan = len(buffer)
                if len(buffer) > self._handler.limits.max_env_bytes:
                    self._line_error(RequestTooLarge("line longer than the limit"))
                break
            line = bytes(buffer[:newline])
            del buffer[: newline + 1]
            self._scan = 0
            if self._state == _PULLING:
                assert self._lines is not None
                self._lines.append(line)
                continue
            assert self._parser is not None
            try:
                response = self._parser.feed(line)
            except AgiProtocolError as exc:
                self._ack_done(exc)
                return
            if response is not None:
                self._ack_done(None)
                return
        if self._line_waiter is not None and not self._line_waiter.done():
            self._line_waiter.set_result(None)

    def _line_error(self, exc: AgiProtocolError) -> None:
        if self._state == _ACK:
            self._ack_done(exc)
        else:  # the coroutine reading channel variables raises it
            self._error = exc
            del self._buffer[:]
            self._scan = 0

    def _ack_done(self, exc: BaseException | None) -> None:
        """The response to the acknowledgement arrived (``exc`` None) or never will."""
        if self._state != _ACK:
            return
        self._state = _BUSY
        self._cancel_timer()
        stats = self._handler.stats
        if self._ack_kind == _OK_ACK:
            if exc is None:
                stats.acknowledged += 1
                stats.observe(time.perf_counter() - self._started)
            else:
                stats.ack_failed += 1
                log.warning(
                    "acknowledgement not delivered (record is journaled)",
                    extra={"uniqueid": self._uniqueid, "peer": self._peer(), "error": str(exc)},
                )
        self._close()

    def _timed_out(self) -> None:
        self._timer = None
        state = self._state
        if state == _ENV:
            self._handler.stats.timeouts += 1
            log.warning("AGI peer too slow; closing", extra={"peer": self._peer()})
            self._close()
        elif state == _ACK:
            self._ack_done(TimeoutError("no response to the acknowledgement"))

    # --- reading channel variables (the slow path) ---------------------------------------

    async def _pull(self, script: Handler, request: AgiRequest, missing: dict[str, str]) -> None:
        stats = self._handler.stats
        try:
            pulled: dict[str, str | None] = {}
            for param, variable in missing.items():
                pulled[param] = await self._get_variable(variable)
        except TimeoutError:
            stats.timeouts += 1
            log.warning("AGI peer too slow; closing", extra={"peer": self._peer()})
        except PeerClosed as exc:
            stats.early_disconnects += 1
            log.warning(
                "AGI peer disconnected early", extra={"peer": self._peer(), "error": str(exc)}
            )
        except AgiProtocolError as exc:
            stats.malformed += 1
            log.warning("malformed AGI request", extra={"peer": self._peer(), "error": str(exc)})
        except Exception:
            log.exception("FastAGI session failed")
        else:
            if self._state == _PULLING:
                self._state = _BUSY
                self._lines = None
                self._build(script, request, pulled)
                return
        self._close()

    async def _get_variable(self, name: str) -> str | None:
        """The variable's value; None when unset (``200 result=0``) or refused."""
        response = await self._execute(protocol.get_variable(name))
        if response.ok and response.result == 1:
            return response.data or ""
        return None

    async def _execute(self, command: bytes) -> AgiResponse:
        """Send one command and read its response (HANGUP lines and 520 blocks handled)."""
        if self._state != _PULLING:
            raise PeerClosed("connection closed")
        assert self.transport is not None and self._lines is not None
        self.transport.write(command)
        parser = ResponseParser()
        async with asyncio.timeout(self._handler.limits.command_timeout):
            while True:
                while self._lines:
                    response = parser.feed(self._lines.popleft())
                    if response is not None:
                        return response
                if self._error is not None:
                    raise self._error
                if self._state != _PULLING:
                    raise PeerClosed(f"peer closed after {len(self._buffer)} bytes of a line")
                self._line_waiter = asyncio.get_running_loop().create_future()
                await self._line_waiter

    # --- closing -------------------------------------------------------------------------

    def _malformed(self, exc: MalformedRequest) -> None:
        self._handler.stats.malformed += 1
        log.warning("malformed AGI request", extra={"peer": self._peer(), "error": str(exc)})
        self._close()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _close(self) -> None:
        """Close (what is buffered is sent first). ``connection_lost`` follows."""
        self._cancel_timer()
        if self._state != _CLOSED:
            self._state = _BUSY  # no more callbacks act on this connection
            if self.transport is not None:
                self.transport.close()

    def abort(self) -> None:
        """Drop the connection now (server shutdown)."""
        if self.transport is not None:
            self.transport.abort()

    def _peer(self) -> str:
        address = self.transport.get_extra_info("peername") if self.transport else None
        if isinstance(address, tuple) and len(address) >= 2:
            return f"{address[0]}:{address[1]}"
        return str(address)


_ACK_OK = protocol.set_variable(STATUS_VARIABLE, "OK")
