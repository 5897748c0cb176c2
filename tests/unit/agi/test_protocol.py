"""cti.agi.protocol against the bytes a real Asterisk 22 sent (shared/asterisk-traces)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.agi import protocol
from cti.agi.protocol import (
    AgiProtocolError,
    MalformedRequest,
    ResponseParser,
    parse_environment,
    parse_target,
)
from tests.unit.agi.traces import TRACES, all_sessions, parse_transcript


def _lines(env_bytes: bytes) -> list[bytes]:
    return env_bytes.split(b"\n\n", 1)[0].split(b"\n")


def _feed_all(raw: bytes) -> tuple[list[protocol.AgiResponse], ResponseParser]:
    parser = ResponseParser()
    responses = []
    for line in raw.split(b"\n")[:-1]:
        if (response := parser.feed(line)) is not None:
            responses.append(response)
    return responses, parser


@pytest.mark.parametrize("session", all_sessions(), ids=lambda s: s.name)
def test_every_captured_environment_parses_to_what_asterisk_sent(session):
    env = parse_environment(_lines(session.env_bytes))
    assert env.duplicates == () and env.continuations == 0
    assert {f"agi_{k}": v for k, v in env.values.items()} == session.env
    assert env.get("accountcode") == ""  # "agi_accountcode: " (trailing space, empty value)
    assert env.get("version") == "22.10.1"


def test_environment_split_across_two_reads_is_one_environment():
    session = parse_transcript(TRACES / "agi-route-request.transcript")
    assert [len(c) for c in session.env_chunks] == [478, 136]
    assert session.env_chunks[0].endswith(b"agi_context: hotline\n")
    env = parse_environment(_lines(session.env_bytes))
    assert env.args == ["north", "9615601"]
    assert parse_target(env.get("network_script")) == protocol.RequestTarget(
        "route", {"county": "north", "did": "9615601", "caller": "13800138000"}
    )


def test_the_520_usage_block_is_one_response_despite_its_200_line():
    raw = (TRACES / "agi-route-request.in.raw").read_bytes()
    responses, parser = _feed_all(raw.split(b"\n\n", 1)[1])
    codes = [r.code for r in responses]
    # GET VARIABLE x2, GET FULL VARIABLE, VERBOSE, SET VARIABLE x2, CHANNEL STATUS,
    # DATABASE PUT, NOOP, FOO BAR (510), GET VARIABLE without a name (520 block)
    assert codes == [200] * 9 + [510, 520]
    usage = responses[-1]
    assert "Example return code: 200 result=1 (testvariable)" in usage.text
    assert usage.text.endswith("End of proper usage.")
    assert usage.result is None and parser.stray == 0
    assert responses[0] == protocol.AgiResponse(200, "result=1 (north)", 1, "north")
    assert responses[1].result == 0 and responses[1].data is None
    assert responses[2].data == "13800138000|PJSIP/pstn-gw-00000000|1795710920.0|1795710920.0"
    assert responses[6].result == 6  # CHANNEL STATUS: Up


def test_hangup_line_between_commands_is_noted_and_skipped():
    raw = (TRACES / "agi-caller-hangup-mid-agi.in.raw").read_bytes()
    responses, parser = _feed_all(raw.split(b"\n\n", 1)[1])
    assert parser.hangup_seen
    assert [(r.code, r.result) for r in responses] == [
        (200, 1),  # SET VARIABLE
        (200, -1),  # WAIT FOR DIGIT, cut by the caller's BYE
        (200, 1),  # GET VARIABLE COUNTY, after the HANGUP line
        (200, 1),  # VERBOSE
        (511, None),  # STREAM FILE on a dead channel
        (511, None),  # WAIT FOR DIGIT
        (200, 1),  # SET VARIABLE
        (511, None),  # CHANNEL STATUS
    ]
    assert responses[4].text == "Command Not Permitted on a dead channel or intercept routine"


def test_single_line_520_and_endpos_and_parentheses_in_data():
    parser = ResponseParser()
    response = parser.feed(b"520 Invalid command syntax.  Proper usage not available.")
    assert response is not None and response.code == 520
    assert parser.feed(b"200 result=0 endpos=8000") == protocol.AgiResponse(
        200, "result=0 endpos=8000", 0, None, 8000
    )
    assert parser.feed(b"200 result=1 (Citizen (North) x)").data == "Citizen (North) x"


def test_too_many_stray_lines_is_a_protocol_error():
    parser = ResponseParser()
    for _ in range(protocol.MAX_STRAY_LINES):
        assert parser.feed(b"agi_callingpres: 0") is None
    with pytest.raises(AgiProtocolError):
        parser.feed(b"garbage")


def test_caller_name_with_a_newline_continues_the_value():
    lines = [
        b"agi_network_script: call-start",
        b"agi_uniqueid: 1795711939.2",
        b"agi_callerid: 13800138041",
        b"agi_calleridname: Robert'); DROP TABLE calls;--",
        b"second line <b>html</b>",
        b"agi_callingpres: 0",
    ]
    env = parse_environment(lines)
    assert env.get("calleridname") == "Robert'); DROP TABLE calls;--\nsecond line <b>html</b>"
    assert env.continuations == 1 and env.get("callingpres") == "0"


def test_duplicated_variable_keeps_the_first_and_drops_what_follows_it():
    # A caller name smuggling "\nagi_uniqueid: 1" cannot replace the real Uniqueid.
    lines = [
        b"agi_uniqueid: 1795711939.2",
        b"agi_calleridname: Eve",
        b"agi_uniqueid: 1",
        b"tail of the smuggled line",
        b"agi_dnid: 9615601",
    ]
    env = parse_environment(lines)
    assert env.get("uniqueid") == "1795711939.2"
    assert env.get("calleridname") == "Eve"
    assert env.duplicates == ("uniqueid",)
    assert env.get("dnid") == "9615601"


def test_invalid_utf8_is_replaced_and_values_are_kept_verbatim():
    env = parse_environment([b"agi_calleridname:  two spaces \xff\xfe end ", b"agi_x:"])
    assert env.get("calleridname") == " two spaces \ufffd\ufffd end "
    assert env.get("x") == ""


@pytest.mark.parametrize("lines", [[b"hello"], [], [b"GET VARIABLE X"]])
def test_environment_that_does_not_start_with_a_variable_is_malformed(lines):
    with pytest.raises(MalformedRequest):
        parse_environment(lines)


def test_target_parsing():
    assert parse_target("call-end?linkedid=1.2&member=PJSIP%2F1001&queued=&x=1&x=2") == (
        protocol.RequestTarget(
            "call-end", {"linkedid": "1.2", "member": "PJSIP/1001", "queued": "", "x": "1"}
        )
    )
    assert parse_target("/call-start").params == {}
    assert parse_target("call-start?name=%FF").params == {"name": "\ufffd"}
    for bad in (None, "", "../etc/passwd?x", "a b", "?x=1"):
        with pytest.raises(MalformedRequest):
            parse_target(bad)
    with pytest.raises(MalformedRequest):
        parse_target("call-start?" + "&".join(f"k{i}=v" for i in range(100)))


def test_quoting_round_trips_through_asterisks_argument_rules():
    assert protocol.quote('say "hi" \\o/') == '"say \\"hi\\" \\\\o/"'
    assert protocol.set_variable("CTI_AGI_STATUS", "OK") == b'SET VARIABLE CTI_AGI_STATUS "OK"\n'
    assert protocol.get_variable("CHANNEL(linkedid)") == b"GET VARIABLE CHANNEL(linkedid)\n"
    assert protocol.verbose("a\nb") == b'VERBOSE "a b" 1\n'
    for bad in ("a\nb", "a\rb", "a\0b"):
        with pytest.raises(ValueError):
            protocol.quote(bad)
    for bad in ("A B", "X\n", 'X"', "${SHELL(id)}"):
        with pytest.raises(ValueError):
            protocol.get_variable(bad)


def test_format_environment_is_parsed_back():
    raw = protocol.format_environment(
        {"uniqueid": "1.2", "network_script": "call-start", "calleridname": "Ann"}, ["a"]
    )
    assert raw.endswith(b"\n\n")
    env = parse_environment(_lines(raw))
    assert env.values == {
        "network_script": "call-start",
        "uniqueid": "1.2",
        "calleridname": "Ann",
        "arg_1": "a",
    }


_LINE_PIECES = st.sampled_from(
    [
        "agi_",
        "agi_network",
        "agi_arg_1",
        "agi_" + "k" * 64,
        "agi_" + "k" * 65,
        ":",
        ": ",
        "  ",
        "x",
        "é",
        "\r",
        "\0",
        "agi_uniqueid",
        "-",
        "agi_x y",
        "",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(_LINE_PIECES, max_size=5).map("".join), min_size=1, max_size=8))
def test_the_fast_path_parses_like_the_line_by_line_rules(lines):
    """parse_environment's one-regex path and the general loop agree on every input."""
    raw = "\n".join(lines).encode()
    try:
        expected = protocol.parse_environment_lines(protocol.decode(raw))
    except MalformedRequest:
        with pytest.raises(MalformedRequest):
            protocol.parse_environment(raw)
        return
    assert protocol.parse_environment(raw) == expected
