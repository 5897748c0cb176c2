"""Replay a captured AMI byte stream (Asterisk to client) through the parser and the
tracker: what ``cti ami replay`` and the scenario tests run.

Fixture files synthesized for scenarios that were not captured may start with a header
of ``#`` comment lines explaining their source; real AMI never starts with ``#`` (it
starts with the banner), so that header is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from cti.ami.events import DomainEvent
from cti.ami.protocol import AmiFramer, AmiMessage, iter_messages
from cti.ami.tracker import CallTracker


def strip_comment_header(data: bytes) -> bytes:
    """Drop leading ``#`` lines (a synthesized fixture's provenance note)."""
    while data.startswith(b"#"):
        end = data.find(b"\n")
        if end < 0:
            return b""
        data = data[end + 1 :]
    return data


def read_stream(path: str | Path) -> bytes:
    """The AMI bytes of a capture file, without a fixture's comment header."""
    return strip_comment_header(Path(path).read_bytes())


def messages(data: bytes, wanted: frozenset[str] | None = None) -> Iterator[AmiMessage]:
    """Parse a whole stream; an incomplete trailing message is dropped."""
    framer = AmiFramer()
    blocks = framer.feed(data)
    framer.close()
    yield from iter_messages(blocks, wanted)


def replay(
    data: bytes,
    node: str = "asterisk",
    tracker: CallTracker | None = None,
) -> list[DomainEvent]:
    """Every domain event the stream causes, in order. With no ``tracker`` a fresh one is
    used whose clock is the stream's own last ``Timestamp`` (so events that carry none,
    such as action responses, get a reproducible time)."""
    if tracker is None:
        tracker = CallTracker(clock=StreamClock())
    clock = tracker.clock if isinstance(tracker.clock, StreamClock) else None
    out: list[DomainEvent] = []
    for message in messages(data, tracker.wanted_events):
        if clock is not None:
            clock.observe(message)
        out.extend(tracker.feed(message, node))
    return out


class StreamClock:
    """A clock that reads the last ``Timestamp`` seen in the stream (0.0 before any)."""

    def __init__(self) -> None:
        self.now = 0.0

    def observe(self, message: AmiMessage) -> None:
        stamp = message.get("Timestamp")
        if type(stamp) is str:
            try:
                value = float(stamp)
            except ValueError:
                return
            if 0.0 <= value < 253402300799.0:  # finite, and a representable datetime
                self.now = value

    def __call__(self) -> float:
        return self.now


def write_json_lines(events: list[DomainEvent], out: IO[str]) -> None:
    for event in events:
        out.write(json.dumps(event.to_dict(), ensure_ascii=False) + "\n")


def replay_file(
    path: str | Path,
    node: str = "asterisk",
    out: IO[str] | None = None,
    on_event: Callable[[DomainEvent], None] | None = None,
) -> list[DomainEvent]:
    events = replay(read_stream(path), node)
    if out is not None:
        write_json_lines(events, out)
    if on_event is not None:
        for event in events:
            on_event(event)
    return events
