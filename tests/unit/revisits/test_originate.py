"""The click-to-call Originate, built from data and compared with the one a real Asterisk 22
accepted (``ami-originate-followup.sent.txt``); hostile numbers and interfaces refused; the
answers of the same capture read into call states."""

from __future__ import annotations

import pytest
from panoramisk.actions import Action

from cti.ami.protocol import AmiFramer, parse_message
from cti.numbers import NumberPlan
from cti.revisits.originate import (
    CHANNEL_ID,
    OriginateRefused,
    Outcome,
    dialable,
    format_caller_id,
    new_channel_id,
    originate_action,
    queued_outcome,
    response_outcome,
)
from cti.revisits.results import next_action
from cti.store.revisits import OutboundStatus
from cti.tickets.lifecycle import Action as TicketAction
from tests.unit.ami.support import TRACES

CHANNEL_ID_OK = "1795710973.1234567890"


def _sent(action_id: str) -> dict:
    """One action of the capture's client side, parsed."""
    framer = AmiFramer()
    blocks = framer.feed((TRACES / "ami-originate-followup.sent.txt").read_bytes())
    for message in map(parse_message, blocks):
        if message.get("ActionID") == action_id:
            return message
    raise LookupError(action_id)


def _received(event: str, action_id: str) -> dict:
    framer = AmiFramer()
    for message in map(
        parse_message, framer.feed((TRACES / "ami-originate-followup.txt").read_bytes())
    ):
        if message.get("ActionID") == action_id and (
            message.get("Event") == event
            or (event == "" and "Response" in message and "Event" not in message)
        ):
            return message
    raise LookupError((event, action_id))


def _build(**overrides):
    args = {
        "interface": "PJSIP/1001",
        "number": "13800138000",
        "node": "pbx1",
        "channel_id": CHANNEL_ID_OK,
        "action_id": "revisit-1795710973.1234567890",
        "ticket_number": "T2026-000042",
        "caller_id": format_caller_id("Hotline follow-up", "9615601"),
        "timeout_ms": 20000,
    }
    args.update(overrides)
    return originate_action(**args)


def test_the_action_matches_the_captured_originate_field_by_field():
    """Same headers and values as the Originate Asterisk accepted, but for what is ours on
    purpose: our context, our ActionID, our ChannelId and our channel variable."""
    real = _sent("followup-1")
    ours = _build()
    assert ours["Action"] == real["Action"] == "Originate"
    assert ours["Channel"] == real["Channel"] == "PJSIP/1001"
    assert ours["Exten"] == real["Exten"] == "13800138000"
    assert ours["Priority"] == real["Priority"] == "1"
    assert ours["CallerID"] == real["CallerID"] == '"Hotline follow-up" <9615601>'
    assert ours["Timeout"] == real["Timeout"] == "20000"
    assert ours["Async"] == real["Async"] == "true"
    assert real["Context"] == "followup" and ours["Context"] == "revisit"
    assert real["Variable"] == ["CASE_ID=C-1732-0042", "AGENT=1001"]
    assert ours["Variable"] == ["CTI_TICKET=T2026-000042"]
    assert ours["ActionID"] == "revisit-1795710973.1234567890"
    assert ours["ChannelId"] == CHANNEL_ID_OK
    assert set(ours) == set(real) | {"ChannelId"}


async def test_the_action_on_the_wire_parses_back_to_itself():
    """panoramisk's serialisation (the one the live connection uses) keeps every header,
    the repeated Variable included. (Async: panoramisk's Action makes a Future, which needs
    a running loop once another test has closed the default one.)"""
    ours = _build()
    wire = str(Action(dict(ours))).encode()
    assert wire.endswith(b"\r\n\r\n")
    back = parse_message(wire.decode().removesuffix("\r\n\r\n"))
    assert back == {k: v if k != "Variable" else v[0] for k, v in ours.items()}


def test_a_callback_carries_its_request_id():
    action = _build(ticket_number=None, callback_id=17, action_id="callback-1")
    assert action["Variable"] == ["CTI_CALLBACK=17"]
    with pytest.raises(OriginateRefused):
        _build(callback_id=17)  # a ticket and a callback at once
    with pytest.raises(OriginateRefused):
        _build(ticket_number=None)  # neither


def test_a_number_is_normalised_to_digits():
    assert _build(number="+86 138-0013-8000")["Exten"] == "13800138000"
    assert _build(number="0086 13800138000")["Exten"] == "13800138000"
    assert _build(number="(0551) 555-0123")["Exten"] == "5515550123"
    assert _build(number="110")["Exten"] == "110"


@pytest.mark.parametrize(
    "number",
    [
        "123;Dial(PJSIP/999@trunk)",
        "1001@trunk",
        "13800138000&PJSIP/9999",
        "13800138000\r\nAction: Command",
        "abc",
        "1380013800O",  # a letter O
        "",
        None,
        "anonymous",
        "1" * 25,
        "12",
        "١٢٣٤٥٦٧",  # Arabic-Indic digits: str.isdigit() says yes, Asterisk would not
        "１３８００１３８０００",  # fullwidth digits
        "+44 20 7946 0958",  # international: not digits only, refused rather than guessed
        "*67 13800138000",
        "_X.",
        "s",
    ],
)
def test_a_hostile_or_undialable_number_is_refused(number):
    """Dial strings, header injection, letters, empty, too long, unicode digits, patterns."""
    with pytest.raises(OriginateRefused) as refused:
        _build(number=number)
    assert refused.value.field == "number"
    with pytest.raises(OriginateRefused):
        dialable(number, NumberPlan())


@pytest.mark.parametrize(
    "interface",
    [
        None,
        "",
        "1001",
        "PJSIP/1001&PJSIP/1002",
        "PJSIP/1001\r\nAction: Command",
        "DAHDI/1",
        "Local/1001@default/n,ttr",
        "PJSIP/" + "a" * 65,
        "PJSIP/１００１",
    ],
)
def test_a_hostile_interface_is_refused(interface):
    """Forked dial strings, header injection, unknown technologies, options, unicode."""
    with pytest.raises(OriginateRefused) as refused:
        _build(interface=interface)
    assert refused.value.field == "interface"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("channel_id", "1795710973.6"),  # Asterisk's own form: could collide with its counter
        ("channel_id", "../../etc/passwd"),
        ("channel_id", "1795710973.1234567890\r\nX: y"),
        ("action_id", "a b"),
        ("action_id", "x\r\nAction: Command"),
        ("ticket_number", "T1;Dial()"),
        ("ticket_number", "T1\nX"),
        ("node", ""),
        ("caller_id", '"x" <1>\r\nAction: Command'),
    ],
)
def test_other_hostile_values_are_refused(field, value):
    with pytest.raises(OriginateRefused):
        _build(**{field: value})


def test_the_caller_name_cannot_break_out_of_its_quotes():
    """A county name typed by an admin: quotes, angle brackets and line breaks are cut."""
    assert format_caller_id('North "x" <9> \r\nAction: y', "9615601") == (
        '"North x 9 Action y" <9615601>'
    )
    assert format_caller_id("", None) == '"Hotline" <>'
    assert format_caller_id("Hotline", "96156;01") == '"Hotline" <>'


def test_channel_ids_are_recording_file_names_and_not_asterisk_ones():
    ids = {new_channel_id(lambda: 1795710973.9, lambda n: n - 1 - i) for i in range(3)}
    assert ids == {"1795710973.9999999999", "1795710973.9999999998", "1795710973.9999999997"}
    assert new_channel_id(lambda: 1795710973.0, lambda n: 0) == "1795710973.1000000000"
    assert all(CHANNEL_ID.fullmatch(i) for i in ids)
    from cti.recordings.names import parse_name

    assert parse_name("20261126/1795710973.1000000000.wav").uniqueid == "1795710973.1000000000"


def test_the_captured_answers_become_call_states():
    """Queued (no outcome yet), answered (Reason 4), rang out (Reason 3), refused."""
    assert queued_outcome(_received("", "followup-1")) is None
    assert response_outcome(_received("OriginateResponse", "followup-1")) == Outcome(
        OutboundStatus.CONNECTED
    )
    assert response_outcome(_received("OriginateResponse", "followup-2-fail")) == Outcome(
        OutboundStatus.FAILED, "Reason 3: the phone rang out (no answer)"
    )
    assert queued_outcome(_received("", "followup-3-bad-endpoint")) == Outcome(
        OutboundStatus.FAILED, "Asterisk: Originate failed"
    )
    assert response_outcome({"Response": "Success", "Reason": "x"}).status is OutboundStatus.FAILED


@pytest.mark.parametrize(
    ("service_done", "complaint", "action"),
    [
        (True, False, TicketAction.CLOSE),
        (True, True, TicketAction.COMPLAIN),
        (False, False, TicketAction.COMPLAIN),
        (False, True, TicketAction.COMPLAIN),
    ],
)
def test_after_the_revisit_the_ticket_closes_or_reopens(service_done, complaint, action):
    assert next_action(service_done, complaint) is action
