"""One FastAGI connection: read the environment, run the handler, journal the record,
acknowledge. The socket work for ``cti.agi.server``; the decisions are in ``handlers``.

The acknowledgement is ``SET VARIABLE CTI_AGI_STATUS OK``, sent only after the record is
durable. The dialplan retries when CTI_AGI_STATUS stays empty, because AGISTATUS cannot
tell: when this server dies in the middle of a request, Asterisk reads EOF and still
reports SUCCESS. ``REJECTED`` (malformed request) and ``UNKNOWN`` (no such script) tell the
dialplan not to retry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from cti.agi import protocol
from cti.agi.handlers import HANDLERS, AgiRequest, Handler, HandlerContext
from cti.agi.protocol import AgiProtocolError, AgiResponse, MalformedRequest, ResponseParser
from cti.agi.records import RecordRejected

log = logging.getLogger("cti.agi")

STATUS_VARIABLE = "CTI_AGI_STATUS"


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """Bounds on what one peer may make this server do."""

    #: The whole environment must arrive within this many seconds (slow peers, half
    #: requests), and each command's response within ``command_timeout``.
    env_timeout: float = 10.0
    command_timeout: float = 10.0
    max_line_bytes: int = 64 * 1024
    #: Also the stream's buffer limit: no read ever buffers more than this.
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


async def read_line(reader: asyncio.StreamReader) -> bytes:
    """One line without its ``\\n``. Raises ``PeerClosed`` on EOF (never returns b"" for
    it, so no caller can spin on a closed socket) and ``RequestTooLarge`` past the
    reader's limit."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        raise PeerClosed(f"peer closed after {len(exc.partial)} bytes of a line") from None
    except asyncio.LimitOverrunError:
        raise RequestTooLarge("line longer than the limit") from None
    return line[:-1]


async def read_environment(reader: asyncio.StreamReader, limits: SessionLimits) -> bytes:
    """The environment's bytes up to (not including) the empty line that ends it.

    Three reads, not one per line (an environment has ~25 lines): the first line, one
    byte (a second ``\\n`` right away ends a one-line environment), then up to the first
    ``\\n\\n``. The reader's limit (``max_env_bytes``) bounds the whole; line length and
    count are checked on the result. Raises ``PeerClosed``, ``MalformedRequest`` or
    ``RequestTooLarge``.
    """
    try:
        first = await reader.readuntil(b"\n")
        if not first.startswith(b"agi_"):  # refuse HTTP, garbage, blank lines at once
            raise MalformedRequest(f"not an AGI environment: {first[:40]!r}")
        nxt = await reader.readexactly(1)
        rest = b"" if nxt == b"\n" else nxt + await reader.readuntil(b"\n\n")
    except asyncio.IncompleteReadError as exc:
        raise PeerClosed(f"peer closed after {len(exc.partial)} bytes of a request") from None
    except asyncio.LimitOverrunError:
        raise RequestTooLarge("environment larger than the limit") from None
    data = first + rest[:-2] if rest else first[:-1]
    lines = data.split(b"\n")
    if len(lines) > limits.max_env_lines or max(map(len, lines)) > limits.max_line_bytes:
        raise RequestTooLarge("environment with too many or too long lines")
    return data


class AgiChannel:
    """Commands to the Asterisk side of one session."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        limits: SessionLimits,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._limits = limits
        #: Asterisk sent HANGUP: the channel is dead (dead-safe commands still work).
        self.hangup = False

    async def execute(self, command: bytes) -> AgiResponse:
        """Send one command and read its response (HANGUP lines and 520 blocks handled)."""
        self._writer.write(command)
        async with asyncio.timeout(self._limits.command_timeout):
            await self._writer.drain()
            parser = ResponseParser()
            while True:
                line = await read_line(self._reader)
                response = parser.feed(line)
                self.hangup = self.hangup or parser.hangup_seen
                if response is not None:
                    return response

    async def get_variable(self, name: str) -> str | None:
        """The variable's value; None when unset (``200 result=0``) or refused."""
        response = await self.execute(protocol.get_variable(name))
        if response.ok and response.result == 1:
            return response.data or ""
        return None

    async def set_variable(self, name: str, value: str) -> AgiResponse:
        return await self.execute(protocol.set_variable(name, value))


Appender = Callable[[bytes], Awaitable[None]]


class SessionHandler:
    """Serves one connection. Never raises: every outcome is counted and logged."""

    def __init__(
        self,
        append: Appender,
        context: HandlerContext,
        *,
        limits: SessionLimits | None = None,
        handlers: dict[str, Handler] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._append = append
        self._context = context
        self.limits = limits or SessionLimits()
        self._handlers = dict(HANDLERS if handlers is None else handlers)
        self._clock = clock
        self.stats = SessionStats()

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.sessions += 1
        peer = _peer(writer)
        try:
            await self._serve(reader, writer, peer)
        except TimeoutError:
            self.stats.timeouts += 1
            log.warning("AGI peer too slow; closing", extra={"peer": peer})
        except PeerClosed as exc:
            self.stats.early_disconnects += 1
            log.warning("AGI peer disconnected early", extra={"peer": peer, "error": str(exc)})
        except (MalformedRequest, AgiProtocolError) as exc:
            self.stats.malformed += 1
            log.warning("malformed AGI request", extra={"peer": peer, "error": str(exc)})
        except (ConnectionError, OSError) as exc:
            self.stats.early_disconnects += 1
            log.warning("AGI connection lost", extra={"peer": peer, "error": str(exc)})

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str
    ) -> None:
        async with asyncio.timeout(self.limits.env_timeout):
            raw_env = await read_environment(reader, self.limits)
        started = time.perf_counter()
        received_at = self._clock()
        env = protocol.parse_environment(raw_env)
        channel = AgiChannel(reader, writer, self.limits)
        try:
            target = protocol.parse_target(env.get("network_script"))
        except MalformedRequest as exc:
            await self._refuse(channel, "REJECTED", peer, str(exc), env.get("uniqueid"))
            self.stats.rejected += 1
            return
        handler = self._handlers.get(target.script)
        if handler is None:
            self.stats.unknown_script += 1
            await self._refuse(
                channel, "UNKNOWN", peer, f"no AGI script {target.script!r}", env.get("uniqueid")
            )
            return
        pulled = {
            param: await channel.get_variable(variable)
            for param, variable in handler.missing(target.params).items()
        }
        request = AgiRequest(target.script, target.params, env, received_at)
        try:
            outcome = handler.build(request, pulled, self._context)
        except RecordRejected as exc:
            self.stats.rejected += 1
            await self._refuse(channel, "REJECTED", peer, str(exc), env.get("uniqueid"))
            return
        record = outcome.record
        if outcome.notes:
            log.warning(
                "AGI request logged with remarks",
                extra={
                    "script": target.script,
                    "uniqueid": record.uniqueid,
                    "notes": outcome.notes,
                },
            )
        try:
            await self._append(record.to_json())
        except Exception as exc:
            # Not durable, so not acknowledged: the dialplan tries again.
            self.stats.journal_failed += 1
            log.error(
                "journal write failed; request not acknowledged",
                extra={"uniqueid": record.uniqueid, "error": str(exc)},
            )
            return
        try:
            await channel.set_variable(STATUS_VARIABLE, "OK")
        except (TimeoutError, AgiProtocolError, ConnectionError, OSError) as exc:
            # The record is safe; Asterisk may send it again, which changes nothing.
            self.stats.ack_failed += 1
            log.warning(
                "acknowledgement not delivered (record is journaled)",
                extra={"uniqueid": record.uniqueid, "peer": peer, "error": str(exc)},
            )
            return
        self.stats.acknowledged += 1
        self.stats.observe(time.perf_counter() - started)

    async def _refuse(
        self, channel: AgiChannel, status: str, peer: str, reason: str, uniqueid: str | None
    ) -> None:
        log.warning(
            "AGI request refused",
            extra={"peer": peer, "status": status, "reason": reason, "uniqueid": uniqueid},
        )
        try:
            await channel.set_variable(STATUS_VARIABLE, status)
        except (TimeoutError, AgiProtocolError, ConnectionError, OSError):
            pass


def _peer(writer: asyncio.StreamWriter) -> str:
    address = writer.get_extra_info("peername")
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)
