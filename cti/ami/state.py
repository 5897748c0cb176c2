"""What the call tracker remembers per Asterisk node, and how it reads AMI headers.

Channels are keyed by Uniqueid and calls by Linkedid, within a node; never by channel
name: after an Asterisk restart ``PJSIP/pstn-gw-00000000`` names a new channel
(capture2, scenario l). Shared by ``tracker``, ``agents`` and ``resync``; pure data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cti.ami.events import AgentState
from cti.store.counties import CODE_PATTERN, QUEUE_PATTERN

DID_RE = re.compile(r"^[0-9*#+]{1,32}$")
COUNTY_RE = re.compile(CODE_PATTERN)
QUEUE_RE = re.compile(QUEUE_PATTERN)
_HEX_SUFFIX = re.compile(r"^[0-9a-fA-F]{8}$")
#: Longest text kept from a header that names something (queue, interface...).
MAX_FIELD = 255
#: 9999-12-31T23:59:59Z: the last moment a ``datetime`` can hold.
MAX_EPOCH = 253402300799.0

# Device states (ast_device_state) as QueueMember*/QueueMember report them in ``Status``.
_RINGING_STATUS = frozenset({6, 7})  # RINGING, RINGINUSE
_IN_CALL_STATUS = frozenset({2, 3, 8})  # INUSE, BUSY, ONHOLD
_UNAVAILABLE_STATUS = frozenset({4, 5})  # INVALID, UNAVAILABLE


def header(event: Mapping[str, Any], key: str) -> str:
    """Header value as text ("" when absent); the first one when it was repeated.

    A UserEvent built from dialplan variables repeats a key when a caller-supplied value
    smuggles in ``,Key: value``; the header Asterisk wrote first is the genuine one.
    """
    value = event.get(key)
    if value is None:
        return ""
    if type(value) is str:
        return value
    if isinstance(value, list):
        return value[0] if value else ""
    return str(value)


def to_int(value: str) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def device_of(channel: str) -> str:
    """The device (queue member interface) behind a channel name.

    ``PJSIP/1001-00000006`` -> ``PJSIP/1001``; ``PJSIP/pstn-gw-00000000`` ->
    ``PJSIP/pstn-gw``; ``Local/1002@xfer-00000001;2`` -> ``Local/1002@xfer``. Only used to
    name the phone that rings; state is never keyed on channel names.
    """
    name = channel.split(";", 1)[0]
    base, sep, suffix = name.rpartition("-")
    if sep and base and _HEX_SUFFIX.match(suffix):
        return base
    return name


def default_county_of_queue(queue: str) -> str | None:
    """``county-<code>`` -> ``<code>``: the naming convention of ``asterisk_conf``."""
    if queue.startswith("county-"):
        code = queue[7:]
        if COUNTY_RE.match(code):
            return code
    return None


def valid_did(value: str) -> str | None:
    return value if value and DID_RE.match(value) else None


@dataclass(slots=True)
class Channel:
    uniqueid: str
    linkedid: str
    device: str
    #: The agent interface whose offer this leg carries, if it is a ringing agent leg.
    offer: str | None = None


@dataclass(slots=True)
class Offer:
    interface: str
    leg: str | None
    open: bool = True
    transfer: bool = False


@dataclass(slots=True)
class Call:
    linkedid: str
    uniqueid: str = ""
    caller_raw: str = ""
    caller_name_raw: str = ""
    exten_did: str | None = None
    did: str | None = None
    county: str | None = None
    queue: str | None = None
    #: Reached the hotline: raised the HotlineCall UserEvent or entered a queue.
    hotline: bool = False
    joined_at: float | None = None
    left_at: float | None = None
    channels: set[str] = field(default_factory=set)
    offers: dict[str, Offer] = field(default_factory=dict)
    answered_by: str | None = None
    #: A leg answered (DialEnd ANSWER); the queue's AgentConnect has not come yet.
    answer_pending: str | None = None
    answered_at: float | None = None
    wait_s: int | None = None
    talk_s: int | None = None
    abandon_wait_s: int | None = None
    abandoned: bool = False
    transferred: bool = False
    caller_hangup: bool = False
    shutdown: bool = False


@dataclass(slots=True)
class Agent:
    status: int = 0
    #: queue -> paused in that queue
    queues: dict[str, bool] = field(default_factory=dict)
    emitted: str | None = None

    def state(self) -> AgentState:
        if not self.queues:
            return AgentState.UNAVAILABLE
        if self.status in _UNAVAILABLE_STATUS:
            return AgentState.UNAVAILABLE
        if self.status in _RINGING_STATUS:
            return AgentState.RINGING
        if self.status in _IN_CALL_STATUS:
            return AgentState.IN_CALL
        if all(self.queues.values()):
            return AgentState.PAUSED
        return AgentState.IDLE


@dataclass(slots=True)
class QueueSnapshot:
    queues: list[str] = field(default_factory=list)
    members: list[Mapping[str, Any]] = field(default_factory=list)
    entries: list[Mapping[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class NodeState:
    name: str
    channels: dict[str, Channel] = field(default_factory=dict)
    calls: dict[str, Call] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    channel_snapshot: list[Mapping[str, Any]] | None = None
    queue_snapshot: QueueSnapshot | None = None
    #: From resync responses, waiting for the CoreShowChannels commit point.
    dnid: dict[str, str] = field(default_factory=dict)
    entries: dict[str, tuple[str, int | None]] = field(default_factory=dict)
