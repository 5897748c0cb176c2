"""Caller ID and every other header are hostile input: the tracker must never raise and
must never pop a call twice, whatever arrives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cti.ami.replay import messages
from cti.ami.tracker import CallTracker, device_of
from tests.unit.ami.support import trace

_TRACKER = CallTracker()
KEYS = [
    "Uniqueid",
    "Linkedid",
    "DestUniqueid",
    "DestLinkedid",
    "Channel",
    "DestChannel",
    "CallerIDNum",
    "CallerIDName",
    "Interface",
    "Location",
    "Queue",
    "Status",
    "Paused",
    "HoldTime",
    "TalkTime",
    "Position",
    "DialStatus",
    "Cause",
    "Timestamp",
    "Exten",
    "ChannelState",
    "Application",
    "ApplicationData",
    "UserEvent",
    "DID",
    "County",
    "Wait",
    "DNID",
    "Result",
    "Reason",
    "TransfererLinkedid",
]
VALUES = st.one_of(
    st.sampled_from(
        [
            "1.0",
            "1.1",
            "2.0",
            "",
            "6",
            "1",
            "0",
            "PJSIP/1001",
            "Queue",
            "AppQueue",
            "ANSWER",
            "CANCEL",
            "NOANSWER",
            "4",
            "26",
            "HotlineCall",
            "county-north",
            "nan",
            "1e400",
            "-1",
        ]
    ),
    st.text(max_size=30),
    st.lists(st.text(max_size=5), max_size=3),
)
EVENT = st.fixed_dictionaries(
    {"Event": st.sampled_from(sorted(_TRACKER.wanted_events))},
    optional={key: VALUES for key in KEYS},
)


@settings(max_examples=300, deadline=None)
@given(st.lists(EVENT, max_size=40))
def test_arbitrary_events_never_raise_nor_double_pop(events: list[dict]) -> None:
    tracker = CallTracker(clock=lambda: 1795712000.0)
    ringing: set[tuple[str, str]] = set()
    for event in events:
        for out in tracker.feed(event, "n"):
            key = (getattr(out, "linkedid", ""), getattr(out, "agent_interface", ""))
            if out.type == "call_offered":
                assert key not in ringing
                ringing.add(key)
            elif out.type in ("call_offer_withdrawn", "call_answered"):
                ringing.discard(key)
            elif out.type == "call_ended":
                ringing = {k for k in ringing if k[0] != key[0]}
            out.to_dict()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=200), max_size=8))
def test_dropped_events_never_raise(drop: list[int]) -> None:
    """A real stream with random events missing (a lossy, buggy peer)."""
    stream = list(messages(trace("capture2/ami-hh-answered.txt")))
    kept = [m for i, m in enumerate(stream) if i not in set(drop)]
    CallTracker(clock=lambda: 0.0).feed_all(kept)


def test_device_of() -> None:
    assert device_of("PJSIP/1001-00000006") == "PJSIP/1001"
    assert device_of("PJSIP/pstn-gw-0000002f") == "PJSIP/pstn-gw"
    assert device_of("Local/1002@xfer-00000000;2") == "Local/1002@xfer"
    assert device_of("PJSIP/odd-name") == "PJSIP/odd-name"
    assert device_of("") == ""


def test_absurd_timestamps_fall_back_to_the_clock() -> None:
    data = trace("capture2/ami-events-call-agent-user.txt")
    for bad in (b"nan", b"inf", b"1e400", b"-5", b"99999999999999", b"x"):
        stream = data.replace(b"Timestamp: 1795711974.583501", b"Timestamp: " + bad)
        tracker = CallTracker(clock=lambda: 1795712000.0)
        offer = tracker.feed_all(messages(stream))[0]
        assert offer.type == "call_offered"
        assert offer.to_dict()["at"] == "2026-11-26T16:53:20+00:00"
