"""Shared helpers of the AMI tests: where the captures are, slicing real streams at
message boundaries, and compact constructors for expected domain events (every field is
still spelled out by the caller: the expected lists are exact)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cti.ami.protocol import AmiFramer, AmiMessage, parse_message
from cti.ami.replay import StreamClock, read_stream, replay
from cti.ami.tracker import CallTracker
from tests.conftest import TRACES_DIR

TRACES = TRACES_DIR
CAPTURE2 = TRACES_DIR / "capture2"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ami"


def trace(name: str) -> bytes:
    """A capture (``capture2/...`` allowed) or, failing that, a synthesized fixture."""
    for base in (TRACES, FIXTURES):
        path = base / name
        if path.exists():
            return read_stream(path)
    raise FileNotFoundError(name)


def blocks_of(data: bytes) -> tuple[str | None, list[str]]:
    framer = AmiFramer()
    blocks = framer.feed(data)
    framer.close()
    return framer.banner, blocks


def join(banner: str | None, blocks: list[str]) -> bytes:
    head = (banner + "\r\n") if banner else ""
    return (head + "".join(b + "\r\n\r\n" for b in blocks)).encode()


def split_after(
    data: bytes, predicate: Callable[[AmiMessage], bool], nth: int = 1
) -> tuple[bytes, bytes]:
    """Cut a stream just after the ``nth`` message matching ``predicate``; the second
    part has no banner (it is the continuation of the same connection)."""
    banner, blocks = blocks_of(data)
    seen = 0
    for i, block in enumerate(blocks):
        if predicate(parse_message(block)):
            seen += 1
            if seen == nth:
                return join(banner, blocks[: i + 1]), join(None, blocks[i + 1 :])
    raise AssertionError("cut point not found")


def without_login(data: bytes) -> bytes:
    """A stream minus its banner and the messages before the first channel event
    (Login response, FullyBooted, SuccessfulAuth): what follows a resync."""
    _, blocks = blocks_of(data)
    for i, block in enumerate(blocks):
        if block.startswith("Event: Newchannel"):
            return join(None, blocks[i:])
    return b""


def is_event(name: str, **headers: str) -> Callable[[AmiMessage], bool]:
    def match(message: AmiMessage) -> bool:
        return message.get("Event") == name and all(message.get(k) == v for k, v in headers.items())

    return match


def run(*parts: bytes, node: str = "asterisk", tracker: CallTracker | None = None) -> list[dict]:
    """Replay the parts through one tracker (a reconnect between parts keeps state);
    return the events as dicts, asserting they all carry ``node`` and dropping it."""
    tracker = tracker or stream_tracker()
    out: list[dict[str, Any]] = []
    for part in parts:
        for event in replay(part, node, tracker=tracker):
            data = event.to_dict()
            assert data.pop("node") == node
            out.append(data)
    return out


def stream_tracker() -> CallTracker:
    """A tracker whose clock is the replayed stream's last Timestamp."""
    return CallTracker(clock=StreamClock())


# --- expected domain events ---------------------------------------------------------------


def offered(
    linkedid: str,
    number: str,
    name: str | None,
    did: str | None,
    county: str | None,
    queue: str | None,
    iface: str,
    at: str,
    uniqueid: str | None = None,
) -> dict:
    return {
        "type": "call_offered",
        "linkedid": linkedid,
        "uniqueid": uniqueid or linkedid,
        "caller_number": number,
        "caller_name": name,
        "did": did,
        "county": county,
        "queue": queue,
        "agent_interface": iface,
        "at": at,
    }


def withdrawn(linkedid: str, iface: str, reason: str) -> dict:
    return {
        "type": "call_offer_withdrawn",
        "linkedid": linkedid,
        "agent_interface": iface,
        "reason": reason,
    }


def answered(linkedid: str, iface: str, wait: int | None) -> dict:
    return {"type": "call_answered", "linkedid": linkedid, "agent_interface": iface, "wait_s": wait}


def abandoned(linkedid: str, queue: str, wait: int, position: int) -> dict:
    return {
        "type": "call_abandoned",
        "linkedid": linkedid,
        "queue": queue,
        "wait_s": wait,
        "position": position,
    }


def ended(linkedid: str, disposition: str, wait: int | None, talk: int | None) -> dict:
    return {
        "type": "call_ended",
        "linkedid": linkedid,
        "disposition": disposition,
        "wait_s": wait,
        "talk_s": talk,
    }


def agent(iface: str, state: str) -> dict:
    return {"type": "agent_state", "agent_interface": iface, "state": state}
