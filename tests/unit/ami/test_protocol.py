"""AMI framing and parsing against the real captures, including TCP reads cut anywhere."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from panoramisk.ami_protocol import AMIProtocol

from cti.ami.protocol import (
    AmiFramer,
    AmiProtocol,
    AmiProtocolError,
    parse_message,
    parse_stream,
)
from tests.unit.ami.support import trace

ANSWERED = "capture2/ami-events-call-agent-user.txt"


def test_banner_is_glued_to_the_first_message() -> None:
    framer = AmiFramer()
    blocks = framer.feed(trace(ANSWERED))
    assert framer.banner == "Asterisk Call Manager/11.0.0"
    assert framer.version == "11.0.0"
    assert parse_message(blocks[0]) == {
        "Response": "Success",
        "ActionID": "login-1",
        "Message": "Authentication accepted",
    }
    assert framer.close() == ""


def test_whole_capture_parses_into_every_message() -> None:
    data = trace("capture2/ami-events-call-agent-user.txt")
    messages = parse_stream(data)
    # 1 login response + 47 events (README) + Goodbye
    assert len(messages) == 49
    assert sum(1 for m in messages if "Event" in m) == 47
    assert messages[-1]["Response"] == "Goodbye"


def test_repeated_keys_and_empty_values() -> None:
    messages = parse_stream(trace("ami-actions.txt"))
    show = next(m for m in messages if m.get("ActionID") == "cmd-queueshow")
    assert isinstance(show["Output"], list) and len(show["Output"]) > 3
    assert show["Output"][0].startswith("county-south has 1 call")
    channel = next(m for m in messages if m.get("Event") == "CoreShowChannel")
    assert channel["AccountCode"] == ""
    assert channel["BridgeId"] == ""


def test_value_is_kept_verbatim_and_first_colon_splits() -> None:
    assert parse_message("Event: X\r\nCallerIDName:  two spaces \r\nKey:no-space\r\nbanner") == {
        "Event": "X",
        "CallerIDName": " two spaces ",
        "Key": "no-space",
    }


def test_wanted_skips_other_events_but_keeps_responses() -> None:
    messages = parse_stream(trace(ANSWERED), wanted={"Hangup"})
    assert [m.get("Event") or m["Response"] for m in messages] == [
        "Success",
        "Hangup",
        "Hangup",
        "Goodbye",
    ]


def _chunked(data: bytes, cuts: list[int]) -> list[dict]:
    framer = AmiFramer()
    out = []
    start = 0
    for cut in sorted(set(cuts)) + [len(data)]:
        out.extend(parse_message(b) for b in framer.feed(data[start:cut]))
        start = cut
    return [m for m in out if m]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=19_000), max_size=40))
def test_any_tcp_read_boundaries_give_the_same_messages(cuts: list[int]) -> None:
    data = trace(ANSWERED)
    assert _chunked(data, cuts) == parse_stream(data)


def _with_utf8_name() -> tuple[bytes, int]:
    data = trace(ANSWERED).replace(b"Citizen Filtered", "José 张伟".encode())
    at = data.index("é".encode()) + 1  # between the two bytes of é
    return data, at


def test_utf8_character_split_across_reads_survives() -> None:
    data, at = _with_utf8_name()
    messages = _chunked(data, [at])
    assert messages[1]["CallerIDName"] == "José 张伟"
    assert messages == parse_stream(data)


def test_panoramisk_alone_loses_the_split_character() -> None:
    """Why AmiProtocol exists: stock panoramisk decodes each read on its own."""
    data, at = _with_utf8_name()
    seen = []

    class Factory:
        def dispatch(self, message):
            seen.append(message)

    proto = AMIProtocol()
    proto.connection_made(transport=None)
    proto.factory = Factory()
    proto.encoding = "utf8"
    proto.data_received(data[:at])
    proto.data_received(data[at:])
    assert seen[0]["CallerIDName"] == "Jos 张伟"


def test_invalid_utf8_becomes_replacement_characters() -> None:
    data = trace(ANSWERED).replace(b"Citizen Filtered", b"Bad \xff\xfe name")
    assert parse_stream(data)[1]["CallerIDName"] == "Bad \ufffd\ufffd name"


def test_stream_without_banner_and_banner_split() -> None:
    data = trace(ANSWERED)
    body = data[data.index(b"\r\n") + 2 :]
    assert parse_stream(body) == parse_stream(data)
    framer = AmiFramer()
    assert framer.feed(data[:5]) == []
    assert framer.feed(data[5:20]) == []
    assert framer.banner is None
    blocks = framer.feed(data[20:])
    assert framer.banner == "Asterisk Call Manager/11.0.0"
    assert [parse_message(b) for b in blocks] == parse_stream(data)


def test_oversized_message_is_a_protocol_error() -> None:
    framer = AmiFramer(max_chars=1000)
    framer.feed(b"Asterisk Call Manager/11.0.0\r\n")
    with pytest.raises(AmiProtocolError):
        framer.feed(b"Event: X\r\nJunk: " + b"a" * 2000)


class _Transport:
    def __init__(self) -> None:
        self.written = b""
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.written += data

    def abort(self) -> None:
        self.aborted = True

    def close(self) -> None:
        pass


async def test_protocol_keeps_stream_order_and_resolves_actions() -> None:
    """List items and live events reach on_event in stream order; the action future
    gets the whole list; a lost connection fails pending actions."""
    events: list[dict] = []
    lost: list[object] = []
    proto = AmiProtocol(events.append, lost.append)
    transport = _Transport()
    proto.connection_made(transport)
    future = proto.send({"Action": "CoreShowChannels", "ActionID": "csc"}, as_list=True)
    assert b"Action: CoreShowChannels\r\nActionID: csc\r\n\r\n" == transport.written
    proto.data_received(
        b"Asterisk Call Manager/11.0.0\r\n"
        b"Response: Success\r\nActionID: csc\r\nEventList: start\r\n"
        b"Message: Channels will follow\r\n\r\n"
        b"Event: CoreShowChannel\r\nActionID: csc\r\nUniqueid: 1.0\r\n\r\n"
        b"Event: CoreShowChannelsComplete\r\nActionID: csc\r\nEventList: Complete\r\n"
        b"ListItems: 1\r\n\r\n"
        b"Event: Hangup\r\nUniqueid: 1.0\r\n\r\n"
    )
    assert [e["Event"] for e in events] == [
        "CoreShowChannel",
        "CoreShowChannelsComplete",
        "Hangup",
    ]
    result = await future
    assert [m.event for m in result] == ["", "CoreShowChannel", "CoreShowChannelsComplete"]
    pending = proto.send({"Action": "Ping", "ActionID": "p"})
    proto.connection_lost(None)
    with pytest.raises(ConnectionError):
        await pending
    assert lost == [None]
    assert proto.version == "11.0.0"
    await asyncio.sleep(0)


async def test_unwanted_list_items_still_complete_their_action() -> None:
    """With a ``wanted`` filter, an unwanted live event is skipped unparsed, but the items
    of our own list response (they carry our ActionID) are parsed, so ``StatusComplete``
    resolves the action even though the tracker never reads it."""
    events: list[dict] = []
    proto = AmiProtocol(events.append, lambda exc: None, wanted={"Hangup"})
    proto.connection_made(_Transport())
    future = proto.send({"Action": "Status", "ActionID": "st"}, as_list=True)
    proto.data_received(
        b"Response: Success\r\nActionID: st\r\nEventList: start\r\n"
        b"Message: Channel status will follow\r\n\r\n"
        b"Event: VarSet\r\nVariable: X\r\n\r\n"
        b"Event: StatusComplete\r\nActionID: st\r\nEventList: Complete\r\nListItems: 0\r\n\r\n"
    )
    result = await future
    assert [m.event for m in result] == ["", "StatusComplete"]
    assert [e["Event"] for e in events] == ["StatusComplete"]
