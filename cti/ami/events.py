"""Domain events: what the call tracker tells the rest of the backend.

Each is a frozen dataclass with a ``type`` tag and a ``node`` (the Asterisk node it comes
from: Uniqueids and Linkedids repeat across nodes and restarts, so ``(node, linkedid)``
is the identity of a call). ``to_dict()`` gives the JSON-able form with exactly the
issue's field names plus ``type`` and ``node``; times are ISO 8601 in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar


class AgentState(StrEnum):
    IDLE = "idle"
    RINGING = "ringing"
    IN_CALL = "in_call"
    PAUSED = "paused"
    UNAVAILABLE = "unavailable"


class WithdrawReason(StrEnum):
    """Why an agent's phone stopped ringing without that agent taking the call."""

    RING_TIMEOUT = "ring_timeout"  # the queue's ``timeout`` ran out (AgentRingNoAnswer)
    REJECTED = "rejected"  # the phone answered busy / was unreachable
    ANSWERED_ELSEWHERE = "answered_elsewhere"  # ring-all: another agent took it
    CALLER_HANGUP = "caller_hangup"  # the caller hung up while the phone rang
    SHUTDOWN = "shutdown"  # Asterisk was stopping or restarting
    CANCELLED = "cancelled"  # the queue gave up ringing for another reason
    VANISHED = "vanished"  # gone while we were disconnected (found at resync)


class Disposition(StrEnum):
    """How a call ended, as far as the AMI stream shows it. The first six mirror
    ``cti.store.calls.Disposition``; ``unknown`` is for a call that ended while the
    listener was disconnected, so its end was never seen."""

    ANSWERED = "answered"
    ABANDONED = "abandoned"
    TIMEOUT = "timeout"
    TRANSFERRED = "transferred"
    FAILED = "failed"
    UNKNOWN = "unknown"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True, slots=True)
class DomainEvent:
    type: ClassVar[str] = ""
    node: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict: ``type``, ``node`` and the event's own fields, in order."""
        out: dict[str, Any] = {"type": self.type}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = _iso(value) if isinstance(value, datetime) else value
        return out


@dataclass(frozen=True, slots=True)
class CallOffered(DomainEvent):
    """A queue (or a transfer) rings an agent's phone: pop the caller on that agent."""

    type: ClassVar[str] = "call_offered"
    linkedid: str
    #: The caller's channel Uniqueid (equal to the Linkedid for an inbound call).
    uniqueid: str
    #: ``cti.numbers.normalise_key`` form; "" when withheld or not a number.
    caller_number: str
    #: As Asterisk holds it (AMI escaping undone); None when there is none.
    caller_name: str | None
    did: str | None
    county: str | None
    queue: str | None
    agent_interface: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CallOfferWithdrawn(DomainEvent):
    type: ClassVar[str] = "call_offer_withdrawn"
    linkedid: str
    agent_interface: str
    reason: str


@dataclass(frozen=True, slots=True)
class CallAnswered(DomainEvent):
    type: ClassVar[str] = "call_answered"
    linkedid: str
    agent_interface: str
    #: Seconds the caller waited in the queue (Asterisk's HoldTime); None if unknown.
    wait_s: int | None


@dataclass(frozen=True, slots=True)
class CallAbandoned(DomainEvent):
    type: ClassVar[str] = "call_abandoned"
    linkedid: str
    queue: str | None
    wait_s: int | None
    position: int | None


@dataclass(frozen=True, slots=True)
class CallEnded(DomainEvent):
    type: ClassVar[str] = "call_ended"
    linkedid: str
    disposition: str
    wait_s: int | None
    talk_s: int | None


@dataclass(frozen=True, slots=True)
class AgentStateChanged(DomainEvent):
    type: ClassVar[str] = "agent_state"
    agent_interface: str
    state: str


@dataclass(frozen=True, slots=True)
class NodeResynced(DomainEvent):
    """The tracker has rebuilt ``node``'s calls from Asterisk's answers after a login
    (``CoreShowChannelsComplete``). ``live`` is every ``(linkedid, agent_interface,
    state)`` ringing (``ringing``) or in call (``answered``) on the node now: a pop made
    before a restart of this process that is not in it ended while we were away."""

    type: ClassVar[str] = "node_resynced"
    live: tuple[tuple[str, str, str], ...]


#: Every domain event type by its ``type`` tag.
EVENT_TYPES: dict[str, type[DomainEvent]] = {
    cls.type: cls
    for cls in (
        CallOffered,
        CallOfferWithdrawn,
        CallAnswered,
        CallAbandoned,
        CallEnded,
        AgentStateChanged,
        NodeResynced,
    )
}
