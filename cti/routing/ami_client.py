"""A short-lived AMI session for applying routing: log in, reload, read the dialplan back.

It uses the routing user (``CTI_ROUTING_AMI_URL``, ``[cti_routing]`` in manager.conf),
not the listener's: Asterisk 22 registers ``Reload`` with ``EVENT_FLAG_CONFIG |
EVENT_FLAG_SYSTEM`` (main/manager.c) and ``ShowDialPlan`` with ``EVENT_FLAG_CONFIG |
EVENT_FLAG_REPORTING`` (main/pbx.c); a user needs one of an action's classes. So the
routing user has ``write=system,reporting`` and reads no events; the listener's user
keeps having neither ``system`` nor ``config`` write access.

What real Asterisk answers (``../shared/asterisk-traces/ami-actions.txt``):
``Reload`` -> ``Response: Success / Message: Module Reloaded``; an error is
``Response: Error / Message: ...``. ``ShowDialPlan`` (no capture holds one; this is from
main/pbx.c ``manager_show_dialplan``/``manager_show_dialplan_helper`` and the list
framing of main/manager.c, which the captured ``QueueStatus`` list shows) ->
``Response: Success / EventList: start / Message: DialPlan list will follow``, one
``ListDialplan`` event per priority (``Context``, ``Extension`` without the caller-ID
match, ``ExtensionLabel`` if any, ``Priority``, ``Application``, ``AppData``,
``Registrar``) and per include (``Context``, ``IncludeContext``, ``Registrar``), then
``ShowDialPlanComplete`` with ``ListItems`` (the number of ``ListDialplan`` sent),
``ListExtensions``, ``ListPriorities``, ``ListContexts``.
"""

from __future__ import annotations

import asyncio
import itertools
from types import TracebackType

from cti.ami.protocol import AmiFramer, AmiMessage, first, parse_message
from cti.settings import AmiNode


class AmiError(Exception):
    """The AMI action failed (refused, error response, connection lost, timeout)."""


def _action(name: str, action_id: str, **headers: str) -> bytes:
    lines = [f"Action: {name}", f"ActionID: {action_id}"]
    for key, value in headers.items():
        if "\r" in value or "\n" in value:
            raise AmiError(f"refusing a line break in AMI header {key}")
        lines.append(f"{key}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class RoutingAmi:
    """``async with RoutingAmi(node) as ami: await ami.reload("pbx_config")``."""

    def __init__(self, node: AmiNode, timeout: float = 10.0) -> None:
        self.node = node
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._framer = AmiFramer()
        self._pending: list[AmiMessage] = []
        self._ids = itertools.count(1)

    async def __aenter__(self) -> RoutingAmi:
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.node.host, self.node.port), self.timeout
            )
        except (OSError, TimeoutError) as exc:
            raise AmiError(
                f"cannot reach AMI at {self.node.host}:{self.node.port}: {exc}"
            ) from None
        response = await self._request(
            "Login", Username=self.node.username, Secret=self.node.secret, Events="off"
        )
        if first(response.get("Response")) != "Success":
            await self.close()
            raise AmiError(f"AMI login refused: {first(response.get('Message'))}")
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._writer is not None and not self._writer.is_closing():
            try:
                self._writer.write(_action("Logoff", f"routing-{next(self._ids)}"))
                await asyncio.wait_for(self._writer.drain(), 2)
            except (OSError, TimeoutError):
                pass
        await self.close()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await asyncio.wait_for(self._writer.wait_closed(), 2)
            except (OSError, TimeoutError):
                pass
            self._writer = None

    async def _read(self) -> AmiMessage:
        assert self._reader is not None
        while not self._pending:
            data = await asyncio.wait_for(self._reader.read(65536), self.timeout)
            if not data:
                raise AmiError("AMI connection closed")
            self._pending.extend(m for m in map(parse_message, self._framer.feed(data)) if m)
        return self._pending.pop(0)

    async def _send(self, name: str, **headers: str) -> str:
        if self._writer is None:
            raise AmiError("not connected")
        action_id = f"routing-{next(self._ids)}"
        self._writer.write(_action(name, action_id, **headers))
        await self._writer.drain()
        return action_id

    async def _request(self, name: str, **headers: str) -> AmiMessage:
        action_id = await self._send(name, **headers)
        try:
            while True:
                message = await self._read()
                if "Response" in message and first(message.get("ActionID")) == action_id:
                    return message
        except TimeoutError:
            raise AmiError(f"no answer to {name} within {self.timeout} s") from None

    async def reload(self, module: str) -> None:
        """``Reload Module: <module>``; raises ``AmiError`` unless Asterisk says Success."""
        response = await self._request("Reload", Module=module)
        if first(response.get("Response")) != "Success":
            raise AmiError(f"reload of {module} failed: {first(response.get('Message'))}")

    async def _list(
        self, name: str, item: str, complete: str, **headers: str
    ) -> tuple[list[AmiMessage], AmiMessage]:
        """An AMI list action: ``Response: Success`` (``EventList: start``), one ``item``
        event per entry, then the ``complete`` event. Returns the items and that event;
        raises ``AmiError`` on an error response or when the list does not finish."""
        action_id = await self._send(name, **headers)
        items: list[AmiMessage] = []
        try:
            while True:
                message = await self._read()
                if first(message.get("ActionID")) != action_id:
                    continue
                if "Response" in message:
                    if first(message["Response"]) != "Success":
                        raise AmiError(f"{name} failed: {first(message.get('Message'))}")
                    continue
                event = first(message.get("Event"))
                if event == item:
                    items.append(message)
                elif event == complete:
                    return items, message
        except TimeoutError:
            raise AmiError(f"{name} not complete within {self.timeout} s") from None

    async def queue_summary(self) -> frozenset[str]:
        """The names of the queues app_queue has loaded (``QueueSummary``: one
        ``QueueSummary`` event per queue, then ``QueueSummaryComplete``). app_queue.c
        registers QueueSummary (and QueueStatus) with privilege 0: any logged-in user may
        send it, so the routing user needs no extra class (its read=none only stops
        unsolicited events; the list is the answer to our own action)."""
        items, _ = await self._list("QueueSummary", "QueueSummary", "QueueSummaryComplete")
        return frozenset(first(message.get("Queue")) for message in items)

    async def show_dialplan(self, context: str | None = None) -> list[AmiMessage]:
        """Every ``ListDialplan`` item (of ``context``, or of the whole dialplan)."""
        headers = {"Context": context} if context else {}
        items, done = await self._list(
            "ShowDialPlan", "ListDialplan", "ShowDialPlanComplete", **headers
        )
        count = first(done.get("ListItems"))
        if count.isdigit() and int(count) != len(items):
            raise AmiError(f"ShowDialPlan announced {count} items and sent {len(items)}")
        return items
