# ruff: noqa: E501
"""A small AMI server that behaves like Asterisk 22's pbx_config for the routing apply.

``Reload Module: pbx_config`` re-reads ``extensions_routing.conf`` from the folder it
watches (as Asterisk would) and answers ``Module Reloaded``; ``ShowDialPlan`` lists the
loaded priorities as ``ListDialplan`` events (the caller-ID part is not shown, as in
pbx.c) followed by ``ShowDialPlanComplete``. Faults a test can switch on:
``fail_reloads`` (answer the next N reloads with an error), ``tamper`` (change what was
loaded, like a line pbx_config skipped), ``refuse_login``.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from cti.ami.protocol import AmiFramer, parse_message
from cti.routing.render import FILENAME, parse_entries

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


class FakePbx:
    def __init__(self, conf_dir: Path, username: str = "cti_routing", secret: str = "s3cret"):
        self.conf_dir = conf_dir
        self.username = username
        self.secret = secret
        self.loaded: list = []
        self.actions: list[dict] = []
        self.fail_reloads = 0
        self.tamper = False
        self.reloads = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.load()
        return self.port

    def load(self) -> None:
        path = self.conf_dir / FILENAME
        self.loaded = list(parse_entries(path.read_text())) if path.exists() else []

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        framer = AmiFramer()
        writer.write(BANNER)
        logged_in = False
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                for block in framer.feed(data):
                    action = parse_message(block)
                    if not action:
                        continue
                    self.actions.append(action)
                    name, aid = action.get("Action"), action.get("ActionID", "")
                    head = f"ActionID: {aid}\r\n"
                    if name == "Login":
                        logged_in = (action.get("Username"), action.get("Secret")) == (
                            self.username,
                            self.secret,
                        )
                        result = "Success" if logged_in else "Error"
                        msg = "Authentication accepted" if logged_in else "Authentication failed"
                        writer.write(f"Response: {result}\r\n{head}Message: {msg}\r\n\r\n".encode())
                        if not logged_in:
                            await writer.drain()
                            writer.close()
                            return
                    elif not logged_in:
                        writer.write(
                            f"Response: Error\r\n{head}Message: Permission denied\r\n\r\n".encode()
                        )
                    elif name == "Reload":
                        self.reloads += 1
                        if self.fail_reloads:
                            self.fail_reloads -= 1
                            writer.write(
                                f"Response: Error\r\n{head}Message: A reload is in progress\r\n\r\n".encode()
                            )
                        else:
                            self.load()
                            if self.tamper and self.loaded:
                                self.loaded.pop()
                            writer.write(
                                f"Response: Success\r\n{head}Message: Module Reloaded\r\n\r\n".encode()
                            )
                    elif name == "ShowDialPlan":
                        out = [
                            f"Response: Success\r\n{head}EventList: start\r\nMessage: DialPlan list will follow\r\n\r\n"
                        ]
                        for e in self.loaded:
                            label = f"ExtensionLabel: {e.label}\r\n" if e.label else ""
                            out.append(
                                f"Event: ListDialplan\r\n{head}Context: {e.context}\r\nExtension: {e.exten}\r\n"
                                f"{label}Priority: {e.priority}\r\nApplication: {e.app}\r\nAppData: {e.data}\r\n"
                                "Registrar: pbx_config\r\n\r\n"
                            )
                        out.append(
                            f"Event: ShowDialPlanComplete\r\n{head}EventList: Complete\r\n"
                            f"ListItems: {len(self.loaded)}\r\n\r\n"
                        )
                        writer.write("".join(out).encode())
                    elif name == "Logoff":
                        writer.write(
                            f"Response: Goodbye\r\n{head}Message: Thanks for all the fish.\r\n\r\n".encode()
                        )
                        await writer.drain()
                        writer.close()
                        return
                    else:
                        writer.write(
                            f"Response: Error\r\n{head}Message: Invalid/unknown command\r\n\r\n".encode()
                        )
                    await writer.drain()
