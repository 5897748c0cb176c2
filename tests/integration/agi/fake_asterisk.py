"""A stand-in for Asterisk's side of FastAGI, over a real TCP connection.

It sends an environment (in the chunks a real Asterisk sent it in), then answers the
server's commands the way Asterisk 22 does: GET VARIABLE from a table of the channel's
variables (``200 result=1 (<value>)`` or ``200 result=0``), SET VARIABLE and VERBOSE with
``200 result=1``, anything else with ``510``. It can send the unsolicited ``HANGUP`` line a
real Asterisk sends after the caller hangs up, and records everything it was told.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

STATUS = "CTI_AGI_STATUS"


@dataclass
class Exchange:
    commands: list[str] = field(default_factory=list)
    variables_set: dict[str, str] = field(default_factory=dict)
    #: Seconds from the last environment byte sent to the acknowledgement received.
    answer_latency: float | None = None
    closed_by_server: bool = False

    @property
    def status(self) -> str | None:
        return self.variables_set.get(STATUS)


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return token


async def play(
    port: int,
    env_chunks: list[bytes],
    lookup: Callable[[str], str | None] = lambda _: None,
    *,
    hangup_before_command: int | None = None,
    host: str = "127.0.0.1",
    timeout: float = 10.0,
) -> Exchange:
    """Run one AGI session against the server at ``host:port``."""
    exchange = Exchange()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        async with asyncio.timeout(timeout):
            for chunk in env_chunks:
                writer.write(chunk)
                await writer.drain()
            sent_at = time.perf_counter()
            while True:
                line = await reader.readline()
                if not line:
                    exchange.closed_by_server = True
                    return exchange
                command = line.decode().rstrip("\n")
                exchange.commands.append(command)
                if hangup_before_command == len(exchange.commands):
                    writer.write(b"HANGUP\n")
                writer.write(answer(command, lookup, exchange))
                if exchange.status is not None and exchange.answer_latency is None:
                    exchange.answer_latency = time.perf_counter() - sent_at
                await writer.drain()
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


def answer(command: str, lookup: Callable[[str], str | None], exchange: Exchange) -> bytes:
    if command.startswith("GET VARIABLE "):
        value = lookup(_unquote(command[len("GET VARIABLE ") :]))
        return b"200 result=0\n" if value is None else f"200 result=1 ({value})\n".encode()
    if match := re.fullmatch(r"SET VARIABLE (\S+) (.*)", command):
        exchange.variables_set[_unquote(match.group(1))] = _unquote(match.group(2))
        return b"200 result=1\n"
    if command.startswith("VERBOSE "):
        return b"200 result=1\n"
    return b"510 Invalid or unknown command\n"
