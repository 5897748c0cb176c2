"""AMI wire format: framing, parsing, and the panoramisk protocol that uses them.

What real Asterisk 22 sends (``../shared/asterisk-traces/README.md``, "Things an
integrator must know", 1-2):

* the banner ``Asterisk Call Manager/11.0.0\\r\\n`` is one line with **no** blank line
  after it, so it is glued to the first message;
* every later message ends with ``\\r\\n\\r\\n``; lines are ``Key: value``;
* keys can repeat (``Output:`` once per line in a Command response), values can be
  empty (``AccountCode: ``);
* TCP cuts the stream anywhere, including inside a UTF-8 character. panoramisk 1.4
  decodes each read on its own with ``errors="ignore"``, so ``José`` split after ``Jos``
  and ``\\xc3`` arrives as ``Jos``. The framer below keeps an incremental UTF-8 decoder
  across reads; bytes that are not UTF-8 at all become U+FFFD, never an exception.

The parser is pure (``AmiFramer`` + ``parse_message``) and is used by the replay CLI, the
tests and the live protocol alike, so what is tested is what runs.
"""

from __future__ import annotations

import codecs
import logging
from collections.abc import Callable, Collection, Iterator
from typing import Any

from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

log = logging.getLogger(__name__)

EOL = "\r\n"
EOM = "\r\n\r\n"
BANNER_PREFIX = "Asterisk Call Manager/"
#: A message longer than this is not AMI (a CoreShowChannel event is ~600 bytes, a full
#: ``Status`` ~1.5 kB); refusing it keeps a hostile or broken peer from growing the buffer.
MAX_MESSAGE_CHARS = 1 << 20

#: A parsed AMI message. A key that appears more than once maps to the list of its values.
AmiMessage = dict[str, Any]


class AmiProtocolError(Exception):
    """The peer does not speak AMI (oversized message...); the connection must be dropped."""


class AmiFramer:
    """Cuts an AMI byte stream into message blocks, whatever the TCP read boundaries.

    ``feed(bytes)`` returns the complete blocks (text without the terminating blank
    line) in order; a partial block is kept for the next call. ``banner`` holds the
    ``Asterisk Call Manager/...`` line once it has been seen at the start of the stream.
    """

    __slots__ = ("_decoder", "_buffer", "_at_start", "banner", "max_chars")

    def __init__(self, max_chars: int = MAX_MESSAGE_CHARS) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buffer = ""
        self._at_start = True
        self.banner: str | None = None
        self.max_chars = max_chars

    def feed(self, data: bytes) -> list[str]:
        text = self._decoder.decode(data)
        if self._buffer:
            text = self._buffer + text
        if self._at_start:
            text = self._take_banner(text)
            if self._at_start:  # still waiting for the whole banner line
                self._buffer = text
                return []
        blocks = text.split(EOM)
        rest = blocks.pop()
        if len(rest) > self.max_chars:
            raise AmiProtocolError(f"AMI message longer than {self.max_chars} characters")
        self._buffer = rest
        return blocks

    def _take_banner(self, text: str) -> str:
        # The banner is only possible as the very first bytes of a connection.
        if text.startswith(BANNER_PREFIX):
            end = text.find(EOL)
            if end < 0:
                if len(text) > 256:
                    raise AmiProtocolError("AMI banner line too long")
                return text  # wait for the end of the line
            self.banner = text[:end]
            self._at_start = False
            return text[end + len(EOL) :]
        if BANNER_PREFIX.startswith(text):  # too short to tell yet ("" or "Asteri")
            return text
        self._at_start = False  # a stream captured without its banner
        return text

    def close(self) -> str:
        """End of stream: return what was left over (an incomplete message), and reset."""
        rest = self._buffer + self._decoder.decode(b"", final=True)
        self._buffer = ""
        return rest

    @property
    def version(self) -> str | None:
        """The manager protocol version from the banner (``11.0.0``), if seen."""
        if self.banner is None:
            return None
        return self.banner.partition("/")[2].strip()


def parse_message(block: str) -> AmiMessage:
    """Parse one message block into a dict.

    Promises: never raises; keys keep Asterisk's spelling; the value is everything after
    the first ``": "`` (or ``":"``), kept verbatim (no stripping: a caller name may end
    in spaces); a repeated key maps to the list of its values in order; a line without
    a colon (the banner, stray text) is ignored. Returns ``{}`` for an empty block.
    """
    message: AmiMessage = {}
    for line in block.split(EOL):
        key, sep, value = line.partition(": ")
        if not sep:
            key, sep, value = line.partition(":")
            if not sep or not key:
                continue
        if key in message:
            previous = message[key]
            if type(previous) is list:
                previous.append(value)
            else:
                message[key] = [previous, value]
        else:
            message[key] = value
    return message


def first(value: Any) -> str:
    """The first value of a header that may have been repeated ("" when absent).

    The tracker reads every header through this: a UserEvent built from dialplan
    variables can repeat a key if a caller-supplied value smuggles in ``,Key: value``;
    the header Asterisk wrote first is the genuine one.
    """
    if value is None:
        return ""
    if type(value) is list:
        return value[0] if value else ""
    return value


def event_name(block: str) -> str | None:
    """The event name of a block without parsing it (None for responses)."""
    if block.startswith("Event: "):
        end = block.find(EOL)
        return block[7:] if end < 0 else block[7:end]
    return None


def iter_messages(
    blocks: Collection[str] | Iterator[str], wanted: Collection[str] | None = None
) -> Iterator[AmiMessage]:
    """Parse blocks; with ``wanted``, events whose name is not in it are skipped unparsed
    (responses are always parsed). Empty blocks are skipped."""
    for block in blocks:
        if wanted is not None:
            name = event_name(block)
            if name is not None and name not in wanted:
                continue
        message = parse_message(block)
        if message:
            yield message


def parse_stream(data: bytes, wanted: Collection[str] | None = None) -> list[AmiMessage]:
    """Parse a whole captured stream (Asterisk to client). An incomplete last message
    (a connection cut mid-message) is dropped, as a live client would never see it."""
    framer = AmiFramer()
    blocks = framer.feed(data)
    framer.close()
    return list(iter_messages(blocks, wanted))


class AmiProtocol(AMIProtocol):
    """panoramisk's AMI protocol with our framer and parser, for one connection.

    Differences from ``panoramisk.ami_protocol.AMIProtocol``, each for a reason:

    * decoding is incremental UTF-8 (``José`` split across reads survives);
    * every event, including the items of an action's list response
      (``CoreShowChannel``, ``QueueMember``...), goes to ``on_event`` in stream order,
      synchronously. panoramisk routes list items to the action's future and live events
      to callbacks, which reorders them: a ``DialEnd`` that follows the
      ``CoreShowChannelsComplete`` in the stream would reach the tracker before the
      snapshot. The tracker needs the stream order;
    * a ``Shutdown`` event is just an event (panoramisk closes the socket on it); the
      server closes the connection itself a moment later;
    * a lost connection fails the pending action futures instead of queueing them for
      re-sending: after a reconnect the client resynchronises from fresh state.

    ``wanted``: event names worth parsing; others are skipped unparsed (None: all).
    """

    def __init__(
        self,
        on_event: Callable[[AmiMessage], None],
        on_lost: Callable[[BaseException | None], None],
        wanted: Collection[str] | None = None,
    ) -> None:
        super().__init__()
        self._on_event = on_event
        self._on_lost = on_lost
        self._wanted = wanted
        self.framer = AmiFramer()
        self.encoding = "utf-8"  # panoramisk's send() encodes actions with this

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self.log = log

    def data_received(self, data: bytes) -> None:
        try:
            blocks = self.framer.feed(data)
        except AmiProtocolError as exc:
            log.error("AMI protocol error, dropping the connection: %s", exc)
            self.transport.abort()
            return
        if self.version is None and self.framer.banner is not None:
            self.version = self.framer.version
        wanted = self._wanted
        for block in blocks:
            if wanted is not None:
                name = event_name(block)
                # Items of our own list responses (they carry our ActionID) are always
                # parsed: their ``...Complete`` resolves the action even if unwanted.
                if name is not None and name not in wanted and "\r\nActionID: " not in block:
                    continue
            message = parse_message(block)
            if message:
                self.handle_parsed(message)

    def handle_parsed(self, message: AmiMessage) -> None:
        if "Event" in message:
            self._on_event(message)
        action_id = first(message.get("ActionID"))
        if not action_id:
            return
        action = self.responses.get(action_id)
        if action is None:
            return
        if action.add_message(Message(message)):
            self.responses.pop(action_id, None)

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.closed:
            return
        self.closed = True
        for action in list(self.responses.values()):
            if not action.future.done():
                action.future.set_exception(ConnectionError("AMI connection lost"))
        self.responses.clear()
        self._on_lost(exc)
