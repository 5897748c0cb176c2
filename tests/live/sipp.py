"""SIPp as the phones of a live run: citizens calling the county DIDs through the trunk,
agent phones that register with their digest credentials and answer (or not) what the
queues ring them with, and the citizen's phone a revisit call dials through the trunk.

The scenarios are written here from Python, one file per behaviour, so a test says what
a phone does in its own terms (``Answer(ring_ms=1000, talk_ms=2000)``, ``Ignore()``) and
SIPp does it with real SIP and real G.711 RTP (the sample ``g711a.pcap`` of sip-tester).
"""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.live.pbx import AGENT_HOST, TRUNK_HOST, Site, free_port

SIPP = "sipp"
AUDIO = Path("/usr/share/sip-tester/g711a.pcap")
#: How long that sample plays (236 packets of 20 ms, within 7.05 s).
AUDIO_MS = 7000
CALL_CSV = "SEQUENTIAL\n"

_SDP = """v=0
o=sipp 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
"""

_OK_TO_REQUEST = """SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0
"""


def _send(text: str, retrans: bool = False) -> str:
    attr = ' retrans="500"' if retrans else ""
    return f"  <send{attr}><![CDATA[\n{text.strip()}\n\n]]></send>\n"


def _play() -> str:
    return f'  <nop><action><exec play_pcap_audio="{AUDIO}"/></action></nop>\n'


def _talk(hold_ms: int) -> str:
    """Talk for ``hold_ms`` (the sample replayed back to back, as a caller who keeps
    speaking: VoiceMail stops recording on a line with no audio), waiting for Asterisk's
    BYE (then ``bye``); at the end of it, ``hangup``."""
    starts = range(0, max(hold_ms, 1), AUDIO_MS)
    out = ""
    for n, start in enumerate(starts):
        after = f"talk{n + 1}" if n + 1 < len(starts) else "hangup"
        wait = min(AUDIO_MS, hold_ms - start)
        out += (
            f'  <label id="talk{n}"/>\n'
            + _play()
            + f'  <recv request="BYE" timeout="{max(wait, 1)}" ontimeout="{after}" next="bye"/>\n'
        )
    return out


def _scenario(name: str, body: str) -> str:
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
        '<!DOCTYPE scenario SYSTEM "sipp.dtd">\n'
        f'<scenario name="{name}">\n{body}</scenario>\n'
    )


def citizen_scenario(hold_ms: int) -> str:
    """A citizen on the trunk: INVITE the DID (``[field1]``) as caller ``[field0]``, talk
    (RTP), and hang up after ``hold_ms`` unless Asterisk hangs up first."""
    invite = f"""INVITE sip:[field1]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Citizen [field0]" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[field1]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:[field0]@[local_ip]:[local_port]>
Max-Forwards: 70
User-Agent: SIPp citizen
Content-Type: application/sdp
Content-Length: [len]

{_SDP}"""
    ack = """ACK sip:[field1]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Citizen [field0]" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[field1]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:[field0]@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0
"""
    bye = """BYE sip:[field1]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "Citizen [field0]" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[field1]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Contact: <sip:[field0]@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0
"""
    body = (
        _send(invite, retrans=True)
        + '  <recv response="100" optional="true"/>\n'
        + '  <recv response="180" optional="true"/>\n'
        + '  <recv response="183" optional="true"/>\n'
        + '  <recv response="200" rtd="true"/>\n'
        + _send(ack)
        + _talk(hold_ms)
        + '  <label id="bye"/>\n'
        + _send(_OK_TO_REQUEST)
        + '  <nop next="end"/>\n'
        + '  <label id="hangup"/>\n'
        + _send(bye, retrans=True)
        + '  <recv response="200"/>\n'
        + '  <label id="end"/>\n'
    )
    return _scenario("citizen", body)


@dataclass(frozen=True)
class Answer:
    """Ring ``ring_ms``, answer, talk (RTP), hang up after ``talk_ms`` (the agent ends the
    call) unless the other side hangs up first."""

    ring_ms: int = 1000
    talk_ms: int = 2000


@dataclass(frozen=True)
class Ignore:
    """Ring until the caller (or the queue) gives up: never answer."""


Behaviour = Answer | Ignore


def _answer_path(label: str, answer: Answer) -> str:
    ok = f"""SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
CSeq: [$cseq] INVITE
Contact: <sip:[$user]@[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

{_SDP}"""
    # The branch names the call (Asterisk's Call-ID, a UUID): SIPp's own [branch] is the
    # same for every out-of-call instance of a phone, and Asterisk takes a BYE with the
    # branch of the last call's BYE for that BYE's retransmission (answering it from the
    # ended transaction, for up to 32 s) instead of ending this call.
    bye = """BYE [$contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[$callid]-bye
From: [$to];tag=[pid]SIPpTag01[call_number]
To: [$from]
Call-ID: [call_id]
CSeq: 1 BYE
Contact: <sip:[$user]@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
Content-Length: 0
"""
    return (
        f'  <label id="{label}"/>\n'
        + f'  <recv request="CANCEL" timeout="{answer.ring_ms}" ontimeout="{label}_ok"'
        + ' next="cancelled"/>\n'
        + f'  <label id="{label}_ok"/>\n'
        + _send(ok, retrans=True)
        + '  <recv request="ACK"/>\n'
        + _play()
        + f'  <recv request="BYE" timeout="{answer.talk_ms}" ontimeout="{label}_bye"/>\n'
        + _send(_OK_TO_REQUEST)
        + '  <nop next="end"/>\n'
        + f'  <label id="{label}_bye"/>\n'
        + _send(bye, retrans=True)
        + '  <recv response="200"/>\n'
        + '  <nop next="end"/>\n'
    )


def phone_scenario(rules: list[tuple[str, Behaviour]], default: Behaviour) -> str:
    """What a phone does with an INVITE: the first rule whose caller prefix the INVITE's
    From number starts with decides, else ``default``. Out-of-call scenario (``-oocsf``):
    one instance per INVITE."""
    ringing = """SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[$user]@[local_ip]:[local_port];transport=[transport]>
Content-Length: 0
"""
    cancel_ok = _OK_TO_REQUEST
    terminated = """SIP/2.0 487 Request Terminated
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
CSeq: [$cseq] INVITE
Content-Length: 0
"""
    body = (
        '  <recv request="INVITE">\n    <action>\n'
        '      <ereg regexp="^INVITE sip:([^@;>]+)" search_in="msg" check_it="true"'
        ' assign_to="dummy0,user"/>\n'
        '      <ereg regexp="([0-9]+) INVITE" search_in="hdr" header="CSeq:" check_it="true"'
        ' assign_to="dummy1,cseq"/>\n'
        '      <ereg regexp="&lt;(sip:[^&gt;]+)&gt;" search_in="hdr" header="Contact:"'
        ' check_it="true" assign_to="dummy2,contact"/>\n'
        '      <ereg regexp=".*" search_in="hdr" header="From:" check_it="true"'
        ' assign_to="from"/>\n'
        '      <ereg regexp=".*" search_in="hdr" header="To:" check_it="true"'
        ' assign_to="to"/>\n'
        '      <ereg regexp="[A-Za-z0-9.!%*_+`~-]+" search_in="hdr" header="Call-ID:"'
        ' check_it="true" assign_to="callid"/>\n'
    )
    for n, (prefix, _) in enumerate(rules):
        if not re.fullmatch(r"[0-9]{1,20}", prefix):
            raise ValueError(f"a caller prefix is digits: {prefix!r}")
        body += (
            f'      <ereg regexp="sip:{prefix}[0-9]*@" search_in="hdr" header="From:"'
            f' check_it="false" assign_to="rule{n}"/>\n'
        )
    body += "    </action>\n  </recv>\n" + _send(ringing)
    for n, _ in enumerate(rules):
        body += f'  <nop next="rule{n}_go" test="rule{n}"/>\n'
    body += '  <nop next="default_go"/>\n'
    for label, behaviour in [
        *((f"rule{n}_go", b) for n, (_, b) in enumerate(rules)),
        ("default_go", default),
    ]:
        if isinstance(behaviour, Answer):
            body += _answer_path(label, behaviour)
        else:
            body += f'  <label id="{label}"/>\n  <recv request="CANCEL" next="cancelled"/>\n'
    body += (
        '  <label id="cancelled"/>\n'
        + _send(cancel_ok)
        + _send(terminated)
        + '  <recv request="ACK"/>\n'
        + '  <label id="end"/>\n'
    )
    # Dummy variables silence SIPp's "variable used only once" check.
    body += (
        '  <nop><action><assignstr assign_to="dummy0"'
        ' value="[$dummy0][$dummy1][$dummy2][$callid]"/></action></nop>\n'
    )
    return _scenario("phone", body)


def register_scenario(user: str, password: str) -> str:
    """REGISTER with digest authentication, as a real phone does, then stay up (the
    phone's answers run in the out-of-call scenario of the same SIPp)."""
    register = f"""REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{user}@[remote_ip]:[remote_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:{user}@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: CSEQ REGISTER
Contact: <sip:{user}@[local_ip]:[local_port]>
Expires: 3600
Max-Forwards: 70
User-Agent: SIPp agent phone
AUTH
Content-Length: 0
"""
    body = (
        _send(register.replace("CSEQ", "1").replace("AUTH\n", ""), retrans=True)
        + '  <recv response="401" auth="true"/>\n'
        + _send(
            register.replace("CSEQ", "2").replace(
                "AUTH", f"[authentication username={user} password={password}]"
            ),
            retrans=True,
        )
        + '  <recv response="200"/>\n'
        + '  <pause milliseconds="86400000"/>\n'
    )
    return _scenario("register", body)


def _free_media_port(host: str) -> int:
    """A port p with p and p+2 free (SIPp binds audio and video)."""
    for _ in range(50):
        port = free_port(host, socket.SOCK_DGRAM)
        if port % 2:
            continue
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.bind((host, port + 2))
            return port
        except OSError:
            continue
    raise RuntimeError("no free media port pair")


class Phone:
    """A long-running SIPp: an agent phone (registers, then answers by its rules) or the
    trunk's far end (the citizen's phone that revisit calls reach)."""

    def __init__(
        self,
        site: Site,
        folder: Path,
        name: str,
        *,
        host: str,
        port: int | None = None,
        password: str | None = None,
        rules: list[tuple[str, Behaviour]] | None = None,
        default: Behaviour = Answer(),
    ) -> None:
        self.site, self.name, self.host = site, name, host
        self.folder = folder / f"phone-{name}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port(host, socket.SOCK_DGRAM)
        self.password = password
        self.rules, self.default = rules or [], default
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        answer = self.folder / "answer.xml"
        answer.write_text(phone_scenario(self.rules, self.default))
        common = [
            "-i", self.host, "-p", str(self.port), "-mp", str(_free_media_port(self.host)),
            "-aa", "-nostdin", "-trace_err", "-error_file", str(self.folder / "errors.log"),
            "-trace_msg", "-message_file", str(self.folder / "messages.log"),
        ]  # fmt: skip
        if self.password is None:  # the trunk's far end: a plain UAS
            argv = [SIPP, "-sf", str(answer), *common]
        else:
            register = self.folder / "register.xml"
            register.write_text(register_scenario(self.name, self.password))
            argv = [
                SIPP, f"{AGENT_HOST}:{self.site.sip_port}", "-sf", str(register),
                "-oocsf", str(answer), "-m", "1", *common,
            ]  # fmt: skip
        self.process = subprocess.Popen(  # noqa: S603
            argv,
            cwd=self.folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / "stderr.log").open("wb"),
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def restart(self, rules: list[tuple[str, Behaviour]], default: Behaviour = Answer()) -> None:
        self.stop()
        self.rules, self.default = rules, default
        self.start()


@dataclass
class CallResult:
    returncode: int
    stats: str
    errors: str


async def place_calls(
    site: Site,
    folder: Path,
    calls: list[tuple[str, str]],
    *,
    hold_ms: int,
    rate_per_s: int = 1,
    tag: str = "calls",
) -> CallResult:
    """Citizens on the trunk: one INVITE per ``(caller number, DID)``, ``rate_per_s`` new
    calls a second, each hanging up after ``hold_ms`` unless Asterisk ends it first.
    Returns when every call is over."""
    work = folder / f"citizens-{tag}-{time.monotonic_ns()}"
    work.mkdir(parents=True)
    (work / "citizen.xml").write_text(citizen_scenario(hold_ms))
    (work / "calls.csv").write_text(
        CALL_CSV + "".join(f"{caller};{did};\n" for caller, did in calls)
    )
    argv = [
        SIPP, f"127.0.0.1:{site.sip_port}", "-sf", "citizen.xml", "-inf", "calls.csv",
        "-i", TRUNK_HOST, "-p", str(free_port(TRUNK_HOST, socket.SOCK_DGRAM)),
        "-mp", str(_free_media_port(TRUNK_HOST)), "-m", str(len(calls)),
        "-r", str(rate_per_s), "-l", str(len(calls)), "-nostdin", "-aa",
        "-trace_err", "-error_file", "errors.log", "-trace_msg", "-message_file",
        "messages.log", "-trace_stat", "-stf", "stats.csv", "-timeout", "180s",
        "-timeout_error",
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=work,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    errors = (work / "errors.log").read_text() if (work / "errors.log").exists() else ""
    stats = (work / "stats.csv").read_text() if (work / "stats.csv").exists() else ""
    return CallResult(process.returncode or 0, stats, errors + stderr.decode(errors="replace"))
