"""The FastAGI listener: accept loop, a bound on concurrent sessions, clean closes.

Not built on panoramisk.fast_agi: its reader loops on ``readline()`` and treats the b""
it returns after the peer closed as an empty line, forever (a busy loop per dead
connection). Here every read that meets EOF raises (``session.read_line``), every
session has deadlines, and the socket is closed on every path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("cti.agi")

ConnectionHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class AgiServer:
    """Listens on ``host:port`` and runs ``handler`` for each connection.

    At most ``max_sessions`` connections are served at once; one more is closed at once
    without a byte (Asterisk then sees no acknowledgement and the dialplan retries), so
    a flood cannot exhaust memory or file descriptors.
    """

    def __init__(
        self,
        host: str,
        port: int,
        handler: ConnectionHandler,
        *,
        max_sessions: int = 256,
        stream_limit: int = 256 * 1024,
        close_timeout: float = 2.0,
    ) -> None:
        self.host = host
        self.port = port
        self._handler = handler
        self.max_sessions = max_sessions
        self._limit = stream_limit
        self._close_timeout = close_timeout
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.refused_busy = 0
        self.handler_errors = 0

    @property
    def active(self) -> int:
        return len(self._tasks)

    @property
    def listening(self) -> bool:
        return self._server is not None and self._server.is_serving()

    @property
    def bound_port(self) -> int:
        """The actual port (useful with port 0)."""
        assert self._server is not None and self._server.sockets
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connect, self.host, self.port, limit=self._limit, backlog=1024
        )
        log.info("FastAGI listening", extra={"host": self.host, "port": self.bound_port})

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, give running sessions ``grace`` seconds, then cancel them."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=self._close_timeout)
        self._server = None

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._tasks) >= self.max_sessions:
            self.refused_busy += 1
            log.warning("FastAGI busy: connection refused", extra={"active": len(self._tasks)})
            writer.transport.abort()
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._handler(reader, writer)
        except asyncio.CancelledError:
            raise
        except Exception:
            self.handler_errors += 1
            log.exception("FastAGI session failed")
        finally:
            self._tasks.discard(task)
            self._close(writer)

    @staticmethod
    def _close(writer: asyncio.StreamWriter) -> None:
        # close() flushes what is buffered and then closes; nothing is left to wait for
        # (waiting would cost a task per connection for no information).
        writer.close()
