"""The AMI ``Originate`` of a click-to-call, and what Asterisk answers to it. Pure.

The real exchange (``../shared/asterisk-traces/ami-originate-followup.*``): an async
Originate is answered at once by ``Response: Success / Message: Originate successfully
queued`` (or ``Response: Error / Message: Originate failed`` for an endpoint that does not
exist); the outcome comes later as an ``OriginateResponse`` event with the same ActionID,
``Reason: 4`` when the agent's phone answered, ``3`` when it rang out (``Response:
Failure``, ``Uniqueid: <unknown>``). Events of the originated channel do not carry the
ActionID, so we pass ``ChannelId``: the agent's channel gets that Uniqueid, and as the
first channel of the call it is also the call's Linkedid, which is what the FastAGI side
logs the call under and what MixMonitor names the recording by (``[revisit]``).

Only what this module lets through reaches the socket: the number is the citizen's,
normalised with :mod:`cti.numbers` and then required to be 3-20 ASCII digits (the
``[revisit]`` dialplan refuses anything else too, but a dial string must never get that
far); the interface is the agent's account's, matched against the users' pattern; every
header value is refused if it holds a line break (AMI is ``Key: value\\r\\n`` lines).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from cti.numbers import NumberPlan, normalise
from cti.store.revisits import OutboundStatus
from cti.store.users import INTERFACE_PATTERN

#: The only context the backend originates into (asterisk_conf/extensions.conf).
CONTEXT = "revisit"
#: How long the agent's phone rings before Asterisk gives up (``Timeout``, milliseconds).
RING_TIMEOUT_MS = 30000
_DIGITS = re.compile(r"^[0-9]{3,20}$")
#: What Asterisk accepts as ChannelId is any text shorter than AST_MAX_UNIQUEID (150) that no
#: live channel uses; ours must also be a file name MixMonitor can use and that
#: ``cti.recordings.names`` reads back (``<epoch>.<seq>``), so: epoch seconds, a dot and ten
#: random digits. Asterisk's own ``<epoch>.<counter>`` ids count up from 0 and never meet it.
CHANNEL_ID = re.compile(r"^[0-9]{9,11}\.[1-9][0-9]{9}$")
_ACTION_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_TICKET = re.compile(r"^[A-Za-z0-9-]{1,24}$")
#: What may appear in the caller name we show on the citizen's phone (the county's name).
_NAME_UNSAFE = re.compile(r"[^\w .'-]", re.UNICODE)


class OriginateRefused(ValueError):
    """A value that must not reach Originate; ``field`` says which (number, interface...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def dialable(number: str | None, plan: NumberPlan = NumberPlan()) -> str:  # noqa: B008
    """The digits-only number to dial for ``number``, or :class:`OriginateRefused`.

    Normalised first (``+86 138-0013-8000`` -> ``13800138000``), then it must be 3-20 ASCII
    digits: a withheld, international (``+44...``), malformed or hostile value is refused."""
    key = normalise(number, plan).key
    if not _DIGITS.fullmatch(key):
        raise OriginateRefused("number", "not a number that can be dialled (3-20 digits)")
    return key


def check_interface(interface: str | None) -> str:
    if not interface or not re.fullmatch(INTERFACE_PATTERN, interface):
        raise OriginateRefused("interface", "the account has no phone that can be called")
    return interface


def new_channel_id(
    clock: Callable[[], float] = time.time,
    rand: Callable[[int], int] = secrets.randbelow,
) -> str:
    """A fresh ChannelId (see :data:`CHANNEL_ID`)."""
    return f"{int(clock())}.{10**9 + rand(9 * 10**9)}"


def format_caller_id(name: str, number: str | None) -> str:
    """``"Name" <number>`` as Asterisk's CallerID header takes it; the name is cut to safe
    characters (no quote, angle bracket or line break can end it early) and 40 characters."""
    clean = " ".join(_NAME_UNSAFE.sub(" ", name).split())[:40] or "Hotline"
    digits = number if number and _DIGITS.fullmatch(number) else ""
    return f'"{clean}" <{digits}>'


def _header(field: str, value: str) -> str:
    if "\r" in value or "\n" in value or "\x00" in value:
        raise OriginateRefused(field, "a line break cannot go into an AMI header")
    return value


def originate_action(
    interface: str | None,
    number: str | None,
    node: str,
    channel_id: str,
    action_id: str,
    ticket_number: str | None,
    caller_id: str,
    *,
    callback_id: int | None = None,
    plan: NumberPlan = NumberPlan(),  # noqa: B008
    timeout_ms: int = RING_TIMEOUT_MS,
) -> dict[str, str | list[str]]:
    """The Originate action that rings ``interface`` (the agent's own phone, from the
    account) and, once answered, runs ``[revisit]`` with the citizen's ``number`` as Exten.

    ``node`` is the Asterisk node it is for (checked only as a name: the caller sends it on
    that node's connection). The ticket (``CTI_TICKET``) or the callback request
    (``CTI_CALLBACK``) travels as a channel variable. Raises :class:`OriginateRefused`
    for a number that is not 3-20 digits after normalisation, an interface not of the
    users' pattern, a malformed ChannelId/ActionID/ticket number, or a line break anywhere.
    """
    exten = dialable(number, plan)
    channel = check_interface(interface)
    if not node or not _ACTION_ID.fullmatch(node):
        raise OriginateRefused("node", "unknown Asterisk node")
    if not CHANNEL_ID.fullmatch(channel_id):
        raise OriginateRefused("channel_id", "not a ChannelId of ours")
    if not _ACTION_ID.fullmatch(action_id):
        raise OriginateRefused("action_id", "not an ActionID of ours")
    if (ticket_number is None) == (callback_id is None):
        raise OriginateRefused("purpose", "a call is for one ticket or one callback request")
    if ticket_number is not None:
        if not _TICKET.fullmatch(ticket_number):
            raise OriginateRefused("ticket", "not a ticket number")
        variables = [f"CTI_TICKET={ticket_number}"]
    else:
        assert callback_id is not None
        if not isinstance(callback_id, int) or isinstance(callback_id, bool) or callback_id < 1:
            raise OriginateRefused("callback", "not a callback request id")
        variables = [f"CTI_CALLBACK={callback_id}"]
    if not 1000 <= timeout_ms <= 120000:
        raise OriginateRefused("timeout", "ring the agent's phone 1-120 s")
    return {
        "Action": "Originate",
        "ActionID": action_id,
        "Channel": channel,
        "Context": CONTEXT,
        "Exten": exten,
        "Priority": "1",
        "CallerID": _header("caller_id", caller_id),
        "Timeout": str(timeout_ms),
        "Async": "true",
        "ChannelId": channel_id,
        "Variable": variables,
    }


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an answer of Asterisk's does to an outbound call: its new status, and why it
    failed (as Asterisk said it) when it did."""

    status: OutboundStatus
    failure: str | None = None


#: ``OriginateResponse`` reasons (main/manager.c, ``enum ast_control_frame_type``).
REASONS = {
    0: "the phone could not be rung",
    1: "hung up",
    3: "the phone rang out (no answer)",
    4: "answered",
    5: "busy",
    8: "congested",
}


def queued_outcome(response: dict) -> Outcome | None:
    """The immediate answer to the Originate: None when it was queued (the outcome comes
    later), else the failure (``Response: Error / Message: Originate failed``)."""
    if _first(response.get("Response")) == "Success":
        return None
    message = _first(response.get("Message")) or "refused"
    return Outcome(OutboundStatus.FAILED, f"Asterisk: {message[:200]}")


def response_outcome(event: dict) -> Outcome:
    """The ``OriginateResponse`` event: ``Reason: 4`` connected, anything else failed."""
    reason_text = _first(event.get("Reason"))
    try:
        reason = int(reason_text)
    except ValueError:
        reason = -1
    if reason == 4 and _first(event.get("Response")) == "Success":
        return Outcome(OutboundStatus.CONNECTED)
    said = REASONS.get(reason, "failed")
    return Outcome(OutboundStatus.FAILED, f"Reason {reason_text[:8] or '?'}: {said}")


def _first(value: object) -> str:
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return "" if value is None else str(value)
