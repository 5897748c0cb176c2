"""Hostile and broken peers against the FastAGI server over real TCP: each gets a clean
outcome (stored verbatim where it is data, refused where it is malformed), a log line,
and no crash, hang or lost record."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

import pytest

from cti.agi.groupcommit import GroupCommitter
from cti.agi.handlers import HandlerContext
from cti.agi.journal import Journal, Position
from cti.agi.protocol import format_environment
from cti.agi.server import AgiServer
from cti.agi.session import SessionHandler, SessionLimits
from tests.integration.agi.conftest import rows_for, wait_for
from tests.integration.agi.fake_asterisk import play

LIMITS = SessionLimits(
    env_timeout=0.5, command_timeout=0.5, max_line_bytes=32 * 1024, max_env_bytes=64 * 1024
)


@dataclass
class Stack:
    server: AgiServer
    sessions: SessionHandler
    journal: Journal

    @property
    def port(self) -> int:
        return self.server.bound_port

    def records(self) -> list[dict]:
        result = self.journal.read(Position(1, 0))
        return [json.loads(e.payload) for e in result.entries]


@pytest.fixture
async def stack(tmp_path):
    journal = Journal(tmp_path / "journal")
    committer = GroupCommitter(journal)
    sessions = SessionHandler(committer.append, HandlerContext(node="hostile"), limits=LIMITS)
    server = AgiServer("127.0.0.1", 0, sessions, max_sessions=8, stream_limit=64 * 1024)
    await committer.start()
    await server.start()
    yield Stack(server, sessions, journal)
    await server.stop(grace=1)
    await committer.stop()
    journal.close()


def env(
    script: str = "call-start?linkedid=1795711939.2&county=north&queue=county-north"
    "&did=9615601&t=1795711939",
    **overrides: str,
) -> bytes:
    values = {
        "network": "yes",
        "network_script": script,
        "channel": "PJSIP/trunk-00000002",
        "uniqueid": "1795711939.2",
        "callerid": "13800138041",
        "calleridname": "Citizen",
        "dnid": "9615601",
    }
    values.update(overrides)
    return format_environment(values)


async def _raw(port: int, data: bytes, *, close: bool = False, read: bool = True) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    if close:
        writer.close()
        return b""
    received = await asyncio.wait_for(reader.read(), 5) if read else b""
    writer.close()
    return received


async def _settled(stack: Stack) -> None:
    await wait_for(lambda: stack.server.active == 0, timeout=5)


async def test_a_peer_that_sends_half_a_request_and_waits_is_closed(stack, caplog):
    with caplog.at_level(logging.WARNING, logger="cti.agi"):
        received = await _raw(stack.port, b"agi_network: yes\nagi_network_script: call-")
    assert received == b""  # closed by the server after env_timeout, nothing sent
    await _settled(stack)
    assert stack.sessions.stats.timeouts == 1 and stack.records() == []
    assert "too slow" in caplog.text


async def test_early_disconnect_ends_the_session_without_spinning(stack, caplog):
    with caplog.at_level(logging.WARNING, logger="cti.agi"):
        await _raw(stack.port, b"agi_network: yes\nagi_uniq", close=True)
        await _settled(stack)  # a handler looping on b"" would never finish
    assert stack.sessions.stats.early_disconnects == 1
    assert "disconnected early" in caplog.text


@pytest.mark.parametrize(
    ("data", "what"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not an environment"),
        (b"\n", "empty environment"),
        (b"agi_calleridname: " + b"x" * 40_000 + b"\n\n", "line over the limit"),
        (b"".join(b"agi_k%d: v\n" % i for i in range(2000)) + b"\n", "too many lines"),
        (b"agi_x: " + b"y" * 70_000 + b"\n", "more than the stream limit, no end"),
    ],
)
async def test_malformed_requests_are_closed(stack, caplog, data, what):
    with caplog.at_level(logging.WARNING, logger="cti.agi"):
        received = await _raw(stack.port, data)
    assert received == b"", what
    await _settled(stack)
    assert stack.sessions.stats.malformed == 1 and stack.records() == []
    assert "malformed AGI request" in caplog.text


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (env().replace(b"agi_uniqueid: 1795711939.2\n", b""), "REJECTED"),
        (env().replace(b"agi_network_script: ", b"agi_not_script: "), "REJECTED"),
        (env(script="../../etc/passwd"), "REJECTED"),
        (env(script="route?county=north"), "UNKNOWN"),
    ],
)
async def test_requests_that_cannot_be_logged_are_refused_not_retried(stack, caplog, raw, status):
    with caplog.at_level(logging.WARNING, logger="cti.agi"):
        exchange = await play(stack.port, [raw])
    assert exchange.status == status and exchange.closed_by_server
    assert stack.records() == []
    assert "refused" in caplog.text


async def test_duplicated_and_smuggled_variables_keep_the_real_ones(stack, caplog):
    raw = env(calleridname="Eve\nagi_uniqueid: 666\nagi_network_script: call-end")
    with caplog.at_level(logging.WARNING, logger="cti.agi"):
        exchange = await play(stack.port, [raw])
    assert exchange.status == "OK"
    [record] = stack.records()
    assert (record["kind"], record["uniqueid"], record["caller_name"]) == (
        "call-start",
        "1795711939.2",
        "Eve",
    )
    notes = [n for r in caplog.records for n in getattr(r, "notes", ())]
    assert "duplicate AGI variables ignored: uniqueid, network_script" in notes


async def test_missing_parameters_are_read_from_the_channel(stack):
    variables = {"CHANNEL(linkedid)": "1795711939.2", "COUNTY": "south", "EPOCH": "1795711940"}
    exchange = await play(stack.port, [env(script="call-start")], variables.get)
    assert exchange.commands[:-1] == [
        "GET VARIABLE CHANNEL(linkedid)",
        "GET VARIABLE COUNTY",
        "GET VARIABLE COUNTY_QUEUE",
        "GET VARIABLE DID",
        "GET VARIABLE EPOCH",
    ]
    [record] = stack.records()
    assert (record["county"], record["started_at"], record["did"]) == (
        "south",
        1795711940.0,
        "9615601",
    )


async def test_hangup_line_before_the_acknowledgement_is_handled(stack):
    exchange = await play(stack.port, [env()], hangup_before_command=1)
    assert exchange.status == "OK" and exchange.closed_by_server
    assert len(stack.records()) == 1


async def test_a_peer_that_never_answers_the_acknowledgement_still_has_its_record(stack):
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.port)
    writer.write(env())
    await writer.drain()
    assert await reader.readline() == b'SET VARIABLE CTI_AGI_STATUS "OK"\n'
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed after command_timeout
    writer.close()
    await _settled(stack)
    assert stack.sessions.stats.ack_failed == 1 and len(stack.records()) == 1


async def test_connections_beyond_the_bound_are_refused_at_once(stack):
    idle = [await asyncio.open_connection("127.0.0.1", stack.port) for _ in range(8)]
    await wait_for(lambda: stack.server.active == 8, timeout=5)
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.port)
    try:
        data = await asyncio.wait_for(reader.read(), 5)
    except ConnectionResetError:  # refused with an abort (RST) rather than a FIN
        data = b""
    assert data == b""
    writer.close()
    assert stack.server.refused_busy == 1
    for _, w in idle:
        w.close()
    await _settled(stack)
    exchange = await play(stack.port, [env()])  # served again once the flood is gone
    assert exchange.status == "OK"


HOSTILE = {
    "quotes": ('"O\'Brien" \\"x\\"', "+8613800138000"),
    "newline": ("line one\nline two", "13800138000"),
    "semicolon-sql": ("x'; DROP TABLE calls; --", "1380013800'; DELETE FROM calls;--"),
    "html": ("<img src=x onerror=alert(1)>", "<b>13800138000</b>"),
    "utf8": ("José 张伟", "05515550123"),
}


async def test_hostile_caller_ids_are_stored_verbatim_in_postgres(
    make_service, session_factory, seeded, node
):
    service = await make_service()
    expected = {}
    for n, (case, (name, number)) in enumerate(HOSTILE.items()):
        linkedid = f"1795711939.{100 + n}"
        raw = env(
            script=f"call-start?linkedid={linkedid}&county=north&t=1795711939",
            uniqueid=linkedid,
            calleridname=name,
            callerid=number,
        )
        assert (await play(service.port, [raw])).status == "OK", case
        expected[linkedid] = (name, number)
    # invalid UTF-8, NUL and 10 kB strings
    raw = env(script="call-start?linkedid=1795711939.200", uniqueid="1795711939.200")
    raw = raw.replace(b"agi_calleridname: Citizen", b"agi_calleridname: a\0b\xff\xfec")
    raw = raw.replace(b"agi_callerid: 13800138041", b"agi_callerid: " + b"9" * 10_240)
    assert (await play(service.port, [raw], {"EPOCH": "1795711939"}.get)).status == "OK"
    await wait_for(lambda: service.writer.stats.committed >= len(HOSTILE) + 1)
    rows = await rows_for(session_factory, node)
    for linkedid, (name, number) in expected.items():
        assert (rows[linkedid].caller_name, rows[linkedid].caller_number_raw) == (name, number)
    odd = rows["1795711939.200"]
    assert odd.caller_name == "a\ufffdb\ufffd\ufffdc"
    assert odd.caller_number_raw == "9" * 255 and odd.caller_number == ""
    assert rows["1795711939.100"].caller_number == "13800138000"
    assert rows["1795711939.102"].caller_number == ""  # not a phone number: no key
