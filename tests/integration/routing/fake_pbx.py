# ruff: noqa: E501
"""A small AMI server that behaves like Asterisk 22's pbx_config for the routing apply.

``Reload Module: pbx_config`` re-reads ``extensions_routing.conf`` from the folder it
watches (as Asterisk would) and answers ``Module Reloaded``. ``ShowDialPlan`` answers the
way main/pbx.c ``manager_show_dialplan`` / ``manager_show_dialplan_helper`` do, framed by
main/manager.c ``astman_send_listack`` / ``astman_send_list_complete_start`` (the same
framing as the captured ``QueueStatus`` list in ``asterisk-traces/ami-actions.txt``):

* ``Response: Success``, ``ActionID``, ``EventList: start``, ``Message: DialPlan list
  will follow``;
* per context, in the order of the context list (not the file's: here the reverse of the
  file, then ``[from-trunk]`` of extensions.conf, which is not ours): one ``ListDialplan``
  per priority with ``ActionID``, ``Context``, ``Extension`` (``ast_get_extension_name``:
  the name only, a caller-ID match would never be sent), ``ExtensionLabel`` (only if the
  priority has one), ``Priority``, ``Application``, ``AppData``, ``Registrar``; the
  extensions in the order ``ast_add_extension2_lockopt`` keeps them (``ext_cmp`` of the
  name; ``Dialplan`` of ``tests/unit/routing/dialplan_model.py``, written apart from
  ``cti.routing.dialplan``);
  then one ``ListDialplan`` per include in the order written (``ActionID``, ``Context``,
  ``IncludeContext``, ``Registrar``). A context with nothing in it is not listed;
* ``Event: ShowDialPlanComplete``, ``ActionID``, ``EventList: Complete``, ``ListItems``
  (every ``ListDialplan`` sent), ``ListExtensions``, ``ListPriorities``, ``ListContexts``.

Faults a test can switch on: ``fail_reloads`` (answer the next N reloads with an error),
``tamper`` (the last priority of the file is not loaded, like a line pbx_config skipped),
``transform`` (a function of the file text: what gets loaded instead, like a file another
process wrote between our write and the reload). A wrong secret gets ``Authentication
failed`` and the connection is closed, as in ``ami-failed-login.txt``.

app_queue: ``Reload Module: app_queue.so`` (or ``app_queue``) re-reads the queues of
``queues.conf`` and of the files it ``#include``s (sections that are not templates nor
``[general]``) and answers ``Module Reloaded``, as app_queue does whatever the file holds
(its ``reload()`` returns 0). ``QueueSummary`` answers with one ``QueueSummary`` event per
loaded queue and ``QueueSummaryComplete`` (app_queue.c ``manager_queues_summary``).
Faults: ``fail_queue_reloads`` (answer the next N app_queue reloads with an error),
``drop_queues`` (names app_queue does not load, like sections it could not parse). Any
other module gets ``No such module``, as ``ast_module_reload`` answers for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable
from pathlib import Path

from cti.ami.protocol import AmiFramer, parse_message
from cti.routing.render import FILENAME, parse_entries
from tests.unit.routing.dialplan_model import Dialplan

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


class FakePbx:
    def __init__(self, conf_dir: Path, username: str = "cti_routing", secret: str = "s3cret"):
        self.conf_dir = conf_dir
        self.username = username
        self.secret = secret
        #: What was loaded: the file text, and its priorities.
        self.text = ""
        self.loaded: list = []
        self.actions: list[dict] = []
        self.fail_reloads = 0
        self.tamper = False
        self.transform: Callable[[str], str] | None = None
        self.reloads = 0
        #: app_queue: the queues loaded, reloads answered, and faults.
        self.queues: set[str] = set()
        self.queue_reloads = 0
        self.fail_queue_reloads = 0
        self.drop_queues: set[str] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.load()
        return self.port

    def load(self) -> None:
        path = self.conf_dir / FILENAME
        self.text = path.read_text() if path.exists() else ""
        self.loaded = list(parse_entries(self.text))
        self.load_queues()

    def load_queues(self) -> None:
        names: set[str] = set()
        files = ["queues.conf"]
        while files:
            path = self.conf_dir / files.pop(0)
            if not path.is_file():
                continue
            for raw in path.read_text().splitlines():
                line = raw.split(";", 1)[0].strip()
                if line.startswith("#include "):
                    files.append(line.split(None, 1)[1].strip())
                elif line.startswith("[") and "]" in line:
                    name, _, rest = line[1:].partition("]")
                    if name != "general" and "!" not in rest:
                        names.add(name)
        self.queues = names - self.drop_queues

    def queue_summary(self, action_id: str) -> str:
        head = f"ActionID: {action_id}\r\n"
        out = [
            f"Response: Success\r\n{head}EventList: start\r\nMessage: Queue summary will follow\r\n\r\n"
        ]
        for name in sorted(self.queues):
            out.append(
                f"Event: QueueSummary\r\n{head}Queue: {name}\r\nLoggedIn: 0\r\nAvailable: 0\r\n"
                "Callers: 0\r\nHoldTime: 0\r\nTalkTime: 0\r\nLongestHoldTime: 0\r\n\r\n"
            )
        out.append(
            f"Event: QueueSummaryComplete\r\n{head}EventList: Complete\r\nListItems: {len(out) - 1}\r\n\r\n"
        )
        return "".join(out)

    def _reload(self) -> None:
        self.load()
        if self.tamper:
            lines = self.text.splitlines()
            last = max(
                i for i, line in enumerate(lines) if line.lstrip().startswith(("exten", "same"))
            )
            self.text = "\n".join(lines[:last] + lines[last + 1 :]) + "\n"
        if self.transform is not None:
            self.text = self.transform(self.text)
        self.loaded = list(parse_entries(self.text))

    def show_dialplan(self, action_id: str) -> str:
        """The bytes Asterisk 22 sends for ``ShowDialPlan`` (see the module docstring)."""
        head = f"ActionID: {action_id}\r\n"
        model = Dialplan(self.text)
        names = re.findall(r"^\[([^\]]+)\]$", self.text, re.MULTILINE)
        contexts = [(n, model.contexts.get(n, []), model.includes.get(n, [])) for n in names]
        contexts.reverse()
        contexts.append(("from-trunk", [], ["hotline-routing"]))
        out = [
            f"Response: Success\r\n{head}EventList: start\r\nMessage: DialPlan list will follow\r\n\r\n"
        ]
        extensions = priorities = 0
        for context, extens, includes in contexts:
            for _name, steps in extens:
                extensions += 1
                for e in steps:
                    priorities += 1
                    label = f"ExtensionLabel: {e.label}\r\n" if e.label else ""
                    out.append(
                        f"Event: ListDialplan\r\n{head}Context: {context}\r\nExtension: {e.exten}\r\n"
                        f"{label}Priority: {e.priority}\r\nApplication: {e.app}\r\nAppData: {e.data}\r\n"
                        "Registrar: pbx_config\r\n\r\n"
                    )
            for included in includes:
                out.append(
                    f"Event: ListDialplan\r\n{head}Context: {context}\r\nIncludeContext: {included}\r\n"
                    "Registrar: pbx_config\r\n\r\n"
                )
        out.append(
            f"Event: ShowDialPlanComplete\r\n{head}EventList: Complete\r\nListItems: {len(out) - 1}\r\n"
            f"ListExtensions: {extensions}\r\nListPriorities: {priorities}\r\n"
            f"ListContexts: {len(contexts)}\r\n\r\n"
        )
        return "".join(out)

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
                    elif name == "Reload" and action.get("Module") in ("app_queue", "app_queue.so"):
                        self.queue_reloads += 1
                        if self.fail_queue_reloads:
                            self.fail_queue_reloads -= 1
                            writer.write(
                                f"Response: Error\r\n{head}Message: A reload is in progress\r\n\r\n".encode()
                            )
                        else:
                            self.load_queues()
                            writer.write(
                                f"Response: Success\r\n{head}Message: Module Reloaded\r\n\r\n".encode()
                            )
                    elif name == "Reload" and action.get("Module") != "pbx_config":
                        writer.write(
                            f"Response: Error\r\n{head}Message: No such module\r\n\r\n".encode()
                        )
                    elif name == "QueueSummary":
                        writer.write(self.queue_summary(aid).encode())
                    elif name == "Reload":
                        self.reloads += 1
                        if self.fail_reloads:
                            self.fail_reloads -= 1
                            writer.write(
                                f"Response: Error\r\n{head}Message: A reload is in progress\r\n\r\n".encode()
                            )
                        else:
                            self._reload()
                            writer.write(
                                f"Response: Success\r\n{head}Message: Module Reloaded\r\n\r\n".encode()
                            )
                    elif name == "ShowDialPlan":
                        writer.write(self.show_dialplan(aid).encode())
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
