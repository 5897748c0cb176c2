"""call-start and call-end: from an AGI request to a journal record. Pure.

Where each value comes from:

* Caller number and name: the AGI environment (``agi_callerid``, ``agi_calleridname``),
  never a parameter. A name passed as an AGI argument is split at its commas.
* Everything the dialplan knows (Linkedid, county, queue, DID, the queue variables at the
  end): the request's parameters (the query string of ``agi://host/call-end?...``, or the
  classic script's first argument). The dialplan in asterisk_conf/ passes all of them, so
  the server answers without a single round trip.
* A parameter that is absent is read from the channel (``GET VARIABLE``), so another
  dialplan (the capture's, for one) is logged correctly too. Present but empty means
  "unset" and is not read again.

What call-end derives, from what Asterisk 22 really sets in a hangup handler
(shared/asterisk-traces/capture2): MEMBERINTERFACE (setinterfacevar) is set once an agent
answered; QEHOLDTIME is the wait until then; DIALEDTIME is the time spent in Queue();
QUEUESTATUS is set only when Queue() returned on its own (TIMEOUT, JOINEMPTY, ...), never
when the caller hung up inside it; DIALSTATUS is not set by Queue and CDR() reads a fresh
empty record, so neither is used for a citizen's call.

A call the hotline placed ([revisit], ``direction=outbound``) is the agent's channel
dialling the citizen: its number is the dialled one (``number``, digits only), its agent
the channel's endpoint, and its end what ``Dial()`` set: DIALSTATUS, ANSWEREDTIME,
DIALEDTIME (``derive_outbound_end``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cti.agi.protocol import AgiEnvironment
from cti.agi.records import LIMITS, NODE, OUTBOUND, CallRecord, RecordRejected, clean_text
from cti.numbers import NumberPlan, normalise

#: Same patterns as cti.store.counties (kept here so the classic scripts need no ORM).
COUNTY_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
QUEUE_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
INTERFACE = re.compile(r"^[A-Za-z0-9]{1,16}/[A-Za-z0-9_.@:-]{1,63}$")
#: A channel of an endpoint: ``<tech>/<endpoint>-<sequence in hex>``; the endpoint part
#: is an ``INTERFACE`` (the same characters, less the ``-`` that ends it).
CHANNEL_OF_ENDPOINT = re.compile(r"([A-Za-z0-9]{1,16}/[A-Za-z0-9_.@:]{1,63})-[0-9a-f]{1,16}")
#: The number a revisit call dialled ([revisit] in extensions.conf lets digits only pass).
DIALLED_NUMBER = re.compile(r"^[0-9]{1,32}$")
#: What Asterisk prints in the environment when a caller field is empty.
UNKNOWN = "unknown"
#: Epochs outside 2000-01-01 .. 2100-01-01 are not times a PBX produced.
EPOCH_RANGE = (946_684_800.0, 4_102_444_800.0)
#: QUEUESTATUS values that mean "Queue() gave up": the call timed out / found no agent.
#: After-hours actions that end a call without a queue (CTI_AFTER_HOURS, extensions.conf);
#: each is also the call's disposition.
AFTER_HOURS_ACTIONS = frozenset({"voicemail", "callback"})
AFTER_HOURS = re.compile(r"^(voicemail|callback)$")
QUEUE_GAVE_UP = frozenset(
    {"TIMEOUT", "FULL", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL"}
)


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """What the handlers need from the deployment: this node's name and the number plan."""

    node: str
    plan: NumberPlan = field(default_factory=NumberPlan)


@dataclass(frozen=True, slots=True)
class AgiRequest:
    """One request: which script, its parameters, its environment, when it arrived."""

    script: str
    params: Mapping[str, str]
    env: AgiEnvironment
    received_at: float


@dataclass(frozen=True, slots=True)
class Outcome:
    """The record to journal, and remarks worth a log line (cuts, bad values, ...)."""

    record: CallRecord
    notes: tuple[str, ...] = ()


Builder = Callable[[AgiRequest, Mapping[str, str | None], HandlerContext], Outcome]


@dataclass(frozen=True, slots=True)
class Handler:
    """A request the dialplan can make. ``pulls`` maps each parameter to the channel
    variable to read when the request does not carry the parameter."""

    name: str
    pulls: Mapping[str, str]
    build: Builder

    def missing(self, params: Mapping[str, str]) -> dict[str, str]:
        """The parameters to read from the channel: ``{param: variable}``."""
        return {p: var for p, var in self.pulls.items() if p not in params}


class _Values:
    """Parameter lookup (request first, then what was read from the channel) that
    collects notes about values it had to drop or cut."""

    def __init__(self, request: AgiRequest, pulled: Mapping[str, str | None]) -> None:
        self.request = request
        self.pulled = pulled
        self.notes: list[str] = []

    def text(self, name: str) -> str | None:
        """The parameter as text; empty or missing -> None."""
        value = self.request.params.get(name)
        if value is None:
            value = self.pulled.get(name)
        return value or None

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        value = value.strip()
        if re.fullmatch(r"-?\d{1,9}", value):
            return int(value)
        self.notes.append(f"{name}: not an integer: {value[:40]!r}")
        return None

    def epoch(self, name: str) -> float | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            number = float(value.strip())
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and EPOCH_RANGE[0] <= number <= EPOCH_RANGE[1]):
            self.notes.append(f"{name}: not a time: {value[:40]!r}")
            return None
        return number

    def matching(self, name: str, pattern: re.Pattern[str]) -> str | None:
        value = self.text(name)
        if value is None or pattern.fullmatch(value):
            return value
        self.notes.append(f"{name}: dropped malformed value {value[:40]!r}")
        return None

    def cleaned(self, field_name: str, value: str | None) -> str | None:
        text, cut = clean_text(value, LIMITS[field_name])
        if cut and value is not None:
            self.notes.append(f"{field_name}: cut from {len(value)} to {LIMITS[field_name]} chars")
        return text


def _env_caller_field(env: AgiEnvironment, key: str) -> str | None:
    value = env.get(key)
    if value is None or value == UNKNOWN or value == "":
        return None
    return value


def _common(request: AgiRequest, values: _Values, ctx: HandlerContext) -> dict[str, object]:
    """Key and start fields shared by both handlers."""
    env = request.env
    if env.duplicates:
        values.notes.append(f"duplicate AGI variables ignored: {', '.join(env.duplicates)}")
    if env.continuations:
        values.notes.append(f"{env.continuations} continuation line(s) joined into values")
    uniqueid = env.get("uniqueid")
    if not uniqueid:
        raise RecordRejected("the environment has no agi_uniqueid")
    linkedid = values.text("linkedid")
    if linkedid is None:
        values.notes.append("linkedid unknown: using the Uniqueid")
        linkedid = uniqueid
    node = values.text("node")
    if node is not None and not NODE.fullmatch(node):
        values.notes.append(f"node: dropped malformed value {node[:40]!r}")
        node = None
    outbound = _outbound(values)
    if outbound:
        # A call the hotline placed ([revisit]): the channel is the agent's, its caller
        # ID is the hotline's. The citizen's number is the dialled one (digits only: the
        # dialplan refuses anything else), and there is no caller name or DID.
        raw_number = values.matching("number", DIALLED_NUMBER)
        name = None
        did = values.text("did")
    else:
        raw_number = _env_caller_field(env, "callerid")
        name = _env_caller_field(env, "calleridname")
        did = values.text("did") or _env_caller_field(env, "dnid")
    return {
        "node": node or ctx.node,
        "linkedid": linkedid,
        "uniqueid": uniqueid,
        "received_at": request.received_at,
        "channel": values.cleaned("channel", env.get("channel") or None),
        "caller_number": normalise(raw_number, ctx.plan).key or None,
        "caller_number_raw": values.cleaned("caller_number_raw", raw_number),
        "caller_name": values.cleaned("caller_name", name),
        "did": values.cleaned("did", did),
        "county": values.matching("county", COUNTY_CODE),
        "queue": values.matching("queue", QUEUE_NAME),
        "direction": OUTBOUND if outbound else None,
    }


def _outbound(values: _Values) -> bool:
    """Whether the request is about a call the hotline placed (``direction=outbound``).
    Never read from the channel: a citizen's call does not pass it."""
    direction = values.text("direction")
    if direction is None or direction == "inbound":
        return False
    if direction == OUTBOUND:
        return True
    values.notes.append(f"direction: unknown value {direction[:40]!r}; taken as inbound")
    return False


def _channel_interface(channel: str | None) -> str | None:
    """``PJSIP/1001`` for the channel ``PJSIP/1001-00000006`` (the endpoint, as queue
    members and ``users.interface`` name it); None for anything else."""
    match = CHANNEL_OF_ENDPOINT.fullmatch(channel or "")
    return match.group(1) if match else None


_COMMON_PULLS = {
    "linkedid": "CHANNEL(linkedid)",
    "county": "COUNTY",
    "queue": "COUNTY_QUEUE",
    "did": "DID",
    "t": "EPOCH",
}


def build_call_start(
    request: AgiRequest, pulled: Mapping[str, str | None], ctx: HandlerContext
) -> Outcome:
    """The start of a call: who called which number, for which county and queue.

    Promises: raises ``RecordRejected`` only when the request names no channel Uniqueid;
    every other missing or malformed value becomes None and a note.
    """
    values = _Values(request, pulled)
    fields_ = _common(request, values, ctx)
    started = values.epoch("t") or request.received_at
    record = CallRecord(kind="call-start", started_at=started, **fields_)  # type: ignore[arg-type]
    return Outcome(record, tuple(values.notes))


@dataclass(frozen=True, slots=True)
class EndFacts:
    """What Asterisk reports at the end of a call (seconds, epochs)."""

    ended_at: float
    queued_at: float | None = None
    dialed: int | None = None  # DIALEDTIME: time spent in Queue()
    hold: int | None = None  # QEHOLDTIME: wait until an agent answered
    answered_time: int | None = None  # ANSWEREDTIME
    member: str | None = None  # MEMBERINTERFACE
    queue_status: str | None = None  # QUEUESTATUS
    transferred: bool = False  # BLINDTRANSFER / ATTENDEDTRANSFER set
    after_hours: str | None = None  # CTI_AFTER_HOURS: "voicemail" or "callback"
    #: A call the hotline placed: ``Dial()``'s DIALSTATUS decides, not a queue.
    outbound: bool = False
    dial_status: str | None = None  # DIALSTATUS


@dataclass(frozen=True, slots=True)
class EndOutcome:
    disposition: str
    wait_s: int | None
    talk_s: int | None
    queued_at: float | None
    answered_at: float | None


def derive_end(facts: EndFacts) -> EndOutcome:
    """Disposition, wait and talk time of a call from what its hangup handler saw.

    * answered: an agent's interface is set (MEMBERINTERFACE); transferred if the caller
      was also transferred on (BLINDTRANSFER/ATTENDEDTRANSFER).
    * timeout: Queue() returned on its own (QUEUESTATUS TIMEOUT, JOINEMPTY, ...).
    * abandoned: the call was in the queue (queued time or DIALEDTIME) and left it.
    * voicemail / callback: the county was closed and the call went to the county's
      after-hours action ([hotline-after-hours] in extensions.conf), never to a queue.
    * failed: it never reached the queue.

    Talk time is DIALEDTIME - QEHOLDTIME, which is what AgentComplete reports as TalkTime:
    in capture2's n-answered call ANSWEREDTIME was 9 while TalkTime was 10 = 12 - 2.
    ANSWEREDTIME is the fallback when either is missing.
    """
    if facts.outbound:
        return derive_outbound_end(facts)
    answered = facts.member is not None
    queued_at = facts.queued_at
    if queued_at is None and facts.dialed is not None:
        queued_at = facts.ended_at - facts.dialed
    in_queue = queued_at is not None or facts.dialed is not None

    if facts.after_hours in AFTER_HOURS_ACTIONS:
        return EndOutcome(facts.after_hours, None, None, None, None)
    if answered:
        disposition = "transferred" if facts.transferred else "answered"
    elif facts.queue_status in QUEUE_GAVE_UP:
        disposition = "timeout"
    elif in_queue:
        disposition = "abandoned"
    else:
        disposition = "failed"

    wait: int | None = None
    talk: int | None = None
    answered_at: float | None = None
    if answered:
        wait = facts.hold
        if facts.dialed is not None and facts.hold is not None and facts.dialed >= facts.hold:
            talk = facts.dialed - facts.hold
        else:
            talk = facts.answered_time
        if talk is not None:
            answered_at = facts.ended_at - talk
    elif in_queue:
        if facts.dialed is not None:
            wait = facts.dialed
        elif queued_at is not None:
            wait = max(0, round(facts.ended_at - queued_at))
        talk = 0
    return EndOutcome(disposition, wait, talk, queued_at, answered_at)


DIAL_STATUS = re.compile(r"^[A-Z]{1,16}$")
#: DIALSTATUS of an unanswered Dial() -> disposition; any other status (BUSY, CONGESTION,
#: CHANUNAVAIL, ..., or none) is "failed".
DIAL_UNANSWERED = {"NOANSWER": "timeout", "CANCEL": "abandoned"}


def derive_outbound_end(facts: EndFacts) -> EndOutcome:
    """Disposition, wait and talk time of a call the hotline placed ([revisit]).

    ``Dial()`` sets DIALSTATUS, ANSWEREDTIME and DIALEDTIME before the hangup handler
    runs (the capture's Originate follow-up: ANSWER, 4 and 6):

    * answered: DIALSTATUS ANSWER; talk is ANSWEREDTIME, the wait the ringing before it
      (DIALEDTIME - ANSWEREDTIME);
    * timeout: NOANSWER, nobody picked up before Dial's timeout;
    * abandoned: CANCEL, the agent hung up while the citizen's phone rang;
    * failed: busy, congestion, unavailable, or Dial never ran (no DIALSTATUS).
    """
    status = facts.dial_status
    if status == "ANSWER":
        talk = facts.answered_time
        wait = None
        if facts.dialed is not None and talk is not None and facts.dialed >= talk:
            wait = facts.dialed - talk
        answered_at = facts.ended_at - talk if talk is not None else None
        return EndOutcome("answered", wait, talk, None, answered_at)
    disposition = DIAL_UNANSWERED.get(status or "", "failed")
    talk_s = 0 if facts.dialed is not None else None
    return EndOutcome(disposition, facts.dialed, talk_s, None, None)


def build_call_end(
    request: AgiRequest, pulled: Mapping[str, str | None], ctx: HandlerContext
) -> Outcome:
    """The end of a call: disposition, wait, talk, hangup cause, the agent who answered.

    Promises: raises ``RecordRejected`` only when the request names no channel Uniqueid.
    The start fields it carries (caller, county, ...) only fill gaps in the row.
    """
    values = _Values(request, pulled)
    fields_ = _common(request, values, ctx)
    ended_at = values.epoch("t") or request.received_at
    member = values.matching("member", INTERFACE)
    outbound = fields_["direction"] == OUTBOUND
    if outbound and member is None:
        # The agent who placed the call: the endpoint of the channel that runs [revisit].
        member = _channel_interface(request.env.get("channel"))
    facts = EndFacts(
        ended_at=ended_at,
        queued_at=values.epoch("queued"),
        dialed=values.integer("dialed"),
        hold=values.integer("hold"),
        answered_time=values.integer("answered"),
        member=member,
        queue_status=values.text("queuestatus"),
        transferred=bool(values.text("blindxfer") or values.text("attxfer")),
        after_hours=values.matching("afterhours", AFTER_HOURS),
        outbound=outbound,
        dial_status=values.matching("dialstatus", DIAL_STATUS),
    )
    end = derive_end(facts)
    record = CallRecord(
        kind="call-end",
        started_at=values.epoch("started"),
        ended_at=ended_at,
        queued_at=end.queued_at,
        answered_at=end.answered_at,
        wait_s=end.wait_s,
        talk_s=end.talk_s,
        disposition=end.disposition,
        hangup_cause=values.integer("cause"),
        agent_interface=values.cleaned("agent_interface", member),
        **fields_,  # type: ignore[arg-type]
    )
    return Outcome(record, tuple(values.notes))


CALL_START = Handler("call-start", dict(_COMMON_PULLS), build_call_start)
CALL_END = Handler(
    "call-end",
    {
        **_COMMON_PULLS,
        "started": "CTI_STARTED",
        "queued": "CTI_QUEUED",
        "cause": "HANGUPCAUSE",
        "answered": "ANSWEREDTIME",
        "dialed": "DIALEDTIME",
        "hold": "QEHOLDTIME",
        "member": "MEMBERINTERFACE",
        "queuestatus": "QUEUESTATUS",
        "blindxfer": "BLINDTRANSFER",
        "attxfer": "ATTENDEDTRANSFER",
        "afterhours": "CTI_AFTER_HOURS",
    },
    build_call_end,
)
#: The requests this server answers, by script name (``agi://host/<name>``).
HANDLERS: Mapping[str, Handler] = {h.name: h for h in (CALL_START, CALL_END)}
