"""A small AMI server for tests: it speaks the banner, answers Login the way Asterisk 22
does (``Authentication failed`` then close, capture ``ami-failed-login.txt``), answers
actions from canned response groups (a resync fixture: blocks tagged ``ActionID: <Action>``,
re-tagged with the client's real ActionID), and writes captured event bytes when the test
says so. Each accepted connection is a ``Session`` the test drives step by step.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from cti.ami.protocol import AmiFramer, parse_message
from tests.unit.ami.support import blocks_of

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def canned_groups(data: bytes) -> dict[str, list[str]]:
    """Blocks of a resync fixture by the action they answer (their ActionID tag)."""
    _, blocks = blocks_of(data)
    groups: dict[str, list[str]] = {}
    for block in blocks:
        tag = parse_message(block).get("ActionID", "")
        groups.setdefault(tag, []).append(block)
    return groups


class Session:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.framer = AmiFramer()
        self.pending: list[dict] = []
        self.received: list[dict] = []
        #: Every byte the client sent, as it arrived.
        self.raw = bytearray()
        self.canned: dict[str, list[str]] = {}
        self.answer_pings = True
        self.resynced = asyncio.Event()
        self.closed = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_action(self) -> dict:
        while not self.pending:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("client closed")
            self.raw.extend(data)
            self.pending.extend(m for m in map(parse_message, self.framer.feed(data)) if m)
        action = self.pending.pop(0)
        self.received.append(action)
        return action

    async def login(self, username: str = "hotline", secret: str = "hotline-secret") -> bool:
        """Answer the Login as Asterisk does; on refusal, close like Asterisk does."""
        action = await self.read_action()
        assert action["Action"] == "Login", action
        if action.get("Username") == username and action.get("Secret") == secret:
            await self.write(
                f"Response: Success\r\nActionID: {action['ActionID']}\r\n"
                "Message: Authentication accepted\r\n\r\n".encode()
            )
            return True
        await self.write(
            f"Response: Error\r\nActionID: {action['ActionID']}\r\n"
            "Message: Authentication failed\r\n\r\n".encode()
        )
        self.close()
        return False

    def serve_actions(self, canned: bytes) -> None:
        """From now on, answer every action in the background (resync answers from
        ``canned``; ``resynced`` is set once CoreShowChannels has been answered)."""
        self.canned = canned_groups(canned)
        self._pump = asyncio.create_task(self._serve())

    async def _serve(self) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while True:
                action = await self.read_action()
                name = action.get("Action", "")
                action_id = action.get("ActionID", "")
                if name == "Ping" and not self.answer_pings:
                    continue
                if name == "Logoff":
                    await self.write(
                        f"Response: Goodbye\r\nActionID: {action_id}\r\n"
                        "Message: Thanks for all the fish.\r\n\r\n".encode()
                    )
                    self.close()
                    return
                group = self.canned.get(name)
                if group is None and name == "Ping":
                    group = ["Response: Success\r\nActionID: Ping\r\nPing: Pong"]
                if group is None:
                    await self.write(
                        f"Response: Error\r\nActionID: {action_id}\r\n"
                        f"Message: Invalid/unknown command: {name}.\r\n\r\n".encode()
                    )
                    continue
                text = "".join(
                    b.replace(f"ActionID: {name}\r\n", f"ActionID: {action_id}\r\n").replace(
                        f"ActionID: {name}", f"ActionID: {action_id}"
                    )
                    + "\r\n\r\n"
                    for b in group
                )
                await self.write(text.encode())
                if name == "CoreShowChannels":
                    self.resynced.set()

    def actions(self) -> list[str]:
        return [a.get("Action", "") for a in self.received]

    def close(self) -> None:
        if self._pump is not None and self._pump is not asyncio.current_task():
            self._pump.cancel()
        self.writer.close()
        self.closed.set()


class FakeAsterisk:
    """Accepts connections on 127.0.0.1; ``next_session()`` hands each one to the test."""

    def __init__(self) -> None:
        self._sessions: asyncio.Queue[Session] = asyncio.Queue()
        self.server: asyncio.Server | None = None
        self.port = 0
        self.all: list[Session] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(reader, writer)
        self.all.append(session)
        await session.write(BANNER)
        await self._sessions.put(session)

    async def next_session(self, wait: float = 10.0) -> Session:
        return await asyncio.wait_for(self._sessions.get(), wait)

    async def stop(self) -> None:
        for session in self.all:
            session.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def until(condition: Callable[[], bool], wait: float = 10.0) -> None:
    """Wait for ``condition`` (a safety net against hangs, not a timing assertion)."""
    async with asyncio.timeout(wait):
        # Polling on purpose: the conditions read counters and lists of the code under
        # test, which has no event to await.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)
