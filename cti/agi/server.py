"""The FastAGI listener: accept loop, a bound on concurrent sessions, clean closes.

Not built on panoramisk.fast_agi: its reader loops on ``readline()`` and treats the b""
it returns after the peer closed as an empty line, forever (a busy loop per dead
connection). Here each connection is an ``asyncio.Protocol`` (``session.AgiConnection``):
EOF ends it (``connection_lost``), every session has deadlines, what a peer can make it
buffer is bounded, and the socket is closed on every path.
"""

from __future__ import annotations

import asyncio
import logging

from cti.agi.session import AgiConnection, SessionHandler

log = logging.getLogger("cti.agi")


class AgiServer:
    """Listens on ``host:port`` and serves each connection with ``sessions``.

    At most ``max_sessions`` connections are served at once; one more is closed at once
    without a byte (Asterisk then sees no acknowledgement and the dialplan retries), so
    a flood cannot exhaust memory or file descriptors.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sessions: SessionHandler,
        *,
        max_sessions: int = 256,
        stream_limit: int | None = None,
        close_timeout: float = 2.0,
    ) -> None:
        self.host = host
        self.port = port
        self._sessions = sessions
        self.max_sessions = max_sessions
        #: Kept for callers that set it: each connection buffers at most the session
        #: limits' ``max_env_bytes``.
        self._limit = stream_limit
        self._close_timeout = close_timeout
        self._server: asyncio.Server | None = None
        self._connections: set[AgiConnection] = set()
        self._idle: asyncio.Event | None = None
        self.refused_busy = 0
        self.handler_errors = 0

    @property
    def active(self) -> int:
        return len(self._connections)

    @property
    def listening(self) -> bool:
        return self._server is not None and self._server.is_serving()

    @property
    def bound_port(self) -> int:
        """The actual port (useful with port 0)."""
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, self.port, backlog=1024)
        log.info("FastAGI listening", extra={"host": self.host, "port": self.bound_port})

    def _protocol(self) -> asyncio.Protocol:
        if len(self._connections) >= self.max_sessions:
            return _Refused(self)
        connection = self._sessions.connection(self._closed)
        self._connections.add(connection)
        return connection

    def _closed(self, connection: AgiConnection) -> None:
        self._connections.discard(connection)
        if not self._connections and self._idle is not None:
            self._idle.set()

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, give open connections ``grace`` seconds, then drop them."""
        if self._server is not None:
            self._server.close()
        if self._connections:
            self._idle = asyncio.Event()
            try:
                async with asyncio.timeout(grace):
                    await self._idle.wait()
            except TimeoutError:
                for connection in list(self._connections):
                    connection.abort()
                try:
                    async with asyncio.timeout(self._close_timeout):
                        await self._idle.wait()
                except TimeoutError:
                    self._connections.clear()
            finally:
                self._idle = None
        if self._server is not None:
            await self._server.wait_closed()
        self._server = None


class _Refused(asyncio.Protocol):
    """A connection beyond ``max_sessions``: aborted at once, without a byte."""

    def __init__(self, server: AgiServer) -> None:
        self._server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._server.refused_busy += 1
        log.warning(
            "FastAGI busy: connection refused", extra={"active": len(self._server._connections)}
        )
        transport.abort()  # type: ignore[attr-defined]
