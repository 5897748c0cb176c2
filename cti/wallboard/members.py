"""Queue members of one county, found by their key or by their device, in O(1).

A county's members are keyed ``(node, interface, queue)``; the board also asks for all
the members of one device (``node``, ``interface``) over the county's queues at every
member event (one agent's state is its phone's, in every queue it sits in). Scanning the
whole county for that made each ``QueueMemberStatus`` cost as many steps as the county has
members (2,000 agents: a quarter of the backend's CPU at 100 calls/s). ``Members`` keeps
a second index by device beside the main one, in the order the members were added, so
every answer is the one the scan gave.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from types import MappingProxyType

#: (node, interface, queue)
Key = tuple[str, str, str]


@dataclass(slots=True)
class Member:
    name: str = ""
    status: int = 1
    paused: bool = False
    reason: str = ""
    wrapup_s: int = 0
    wrapup_until: float = 0.0
    since: float = 0.0
    shown: tuple[str, str] | None = None


_NONE: Mapping[str, Member] = MappingProxyType({})


class Members(MutableMapping[Key, Member]):
    """A dict of ``(node, interface, queue) -> Member`` with ``of_device`` in O(1)."""

    __slots__ = ("_by_key", "_by_device")

    def __init__(self) -> None:
        self._by_key: dict[Key, Member] = {}
        #: (node, interface) -> queue -> member, in the order they were added
        self._by_device: dict[tuple[str, str], dict[str, Member]] = {}

    def __getitem__(self, key: Key) -> Member:
        return self._by_key[key]

    def __setitem__(self, key: Key, member: Member) -> None:
        node, interface, queue = key
        self._by_key[key] = member
        self._by_device.setdefault((node, interface), {})[queue] = member

    def __delitem__(self, key: Key) -> None:
        del self._by_key[key]
        node, interface, queue = key
        device = self._by_device[(node, interface)]
        del device[queue]
        if not device:
            del self._by_device[(node, interface)]

    def __iter__(self) -> Iterator[Key]:
        return iter(self._by_key)

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def get(self, key: Key, default: Member | None = None) -> Member | None:  # type: ignore[override]
        return self._by_key.get(key, default)

    def of_device(self, node: str, interface: str) -> Mapping[str, Member]:
        """``queue -> member`` of one device, oldest first (read it, do not change it)."""
        return self._by_device.get((node, interface), _NONE)

    def devices(self) -> Iterator[tuple[str, str]]:
        """Each (node, interface) once, in the order its first member was added."""
        return iter(self._by_device)
