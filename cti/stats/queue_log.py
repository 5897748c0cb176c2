"""Asterisk's own account of its queue calls: a parser of ``queue_log`` and the call report
computed from it alone. Pure: no I/O. Used to hold the project's figures
(``cti.stats.calls``) to what Asterisk wrote.

A line is ``epoch|callid|queue|agent|event|data1|data2|...`` (``callid`` is the caller
channel's Uniqueid, ``NONE``/``MANAGER`` for lines about no call, e.g. ``PAUSE``,
``ADDMEMBER``, ``QUEUESTART``). The agent is the member name (``Agent 1001``, spaces and
all, with ``log_membername_as_agent=yes``). The events that end a call in a queue, and
where their figures are (Asterisk 22, ``apps/app_queue.c``):

* ``CONNECT|holdtime|bridged uniqueid|ringtime`` then ``COMPLETEAGENT`` or
  ``COMPLETECALLER|holdtime|talktime|origpos``: answered.
* ``BLINDTRANSFER|exten|context|holdtime|talktime|origpos``,
  ``ATTENDEDTRANSFER|method|...|holdtime|talktime|origpos`` (the method decides how many
  fields come first, so the figures are read from the end): answered, then transferred.
* ``ABANDON|pos|origpos|waittime``: the caller hung up (waiting, or while an agent rang).
* ``EXITWITHTIMEOUT|pos|origpos|waittime``, ``EXITEMPTY|pos|origpos|waittime``,
  ``EXITWITHKEY|key|pos|origpos|waittime``: Queue() returned on its own (timeout,
  overflow): ``timeout`` in the project's words.

The file is written by Asterisk but holds caller-supplied text (the caller ID of
``ENTERQUEUE``): a line that is not of this shape is kept aside as *bad*, never guessed at.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

NO_CALL = frozenset({"NONE", "MANAGER", ""})
EXITS = frozenset({"EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY"})
TRANSFERS = frozenset({"BLINDTRANSFER", "ATTENDEDTRANSFER"})
COMPLETES = frozenset({"COMPLETEAGENT", "COMPLETECALLER"})


@dataclass(frozen=True, slots=True)
class Entry:
    at: int
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Parsed:
    entries: list[Entry]
    #: (line number, line) of the lines that are not queue_log lines.
    bad: list[tuple[int, str]]


def parse(text: str) -> Parsed:
    """Every line of a queue_log file, in order; blank lines skipped, others kept as bad."""
    entries: list[Entry] = []
    bad: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) < 5 or not parts[0].isdigit() or not parts[4].isupper():
            bad.append((number, line))
            continue
        entries.append(
            Entry(int(parts[0]), parts[1], parts[2], parts[3], parts[4], tuple(parts[5:]))
        )
    return Parsed(entries, bad)


@dataclass(slots=True)
class QueueCall:
    """One caller's stay in one queue, as queue_log tells it."""

    callid: str
    queue: str
    entered_at: int | None = None
    caller: str = ""
    #: answered, transferred, abandoned, timeout; ``in_queue`` while no end was logged.
    outcome: str = "in_queue"
    wait_s: int | None = None
    talk_s: int | None = None
    agent: str = ""
    #: RINGNOANSWER lines: agents that rang and did not answer.
    ring_no_answer: int = 0
    #: Lines of this call whose figures were not numbers.
    bad: list[Entry] = field(default_factory=list)


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def calls(entries: Iterable[Entry]) -> dict[tuple[str, str], QueueCall]:
    """The calls of ``entries`` by (callid, queue), in the order they entered."""
    out: dict[tuple[str, str], QueueCall] = {}
    for e in entries:
        if e.callid in NO_CALL:
            continue
        call = out.get((e.callid, e.queue))
        if call is None:
            call = out[(e.callid, e.queue)] = QueueCall(e.callid, e.queue)
        d = e.data
        if e.event == "ENTERQUEUE":
            call.entered_at = e.at
            call.caller = d[1] if len(d) > 1 else ""
        elif e.event == "RINGNOANSWER":
            call.ring_no_answer += 1
        elif e.event == "CONNECT" and d:
            call.outcome, call.wait_s, call.agent = "answered", _int(d[0]), e.agent
        elif e.event in COMPLETES and len(d) >= 2:
            call.outcome, call.wait_s, call.talk_s = "answered", _int(d[0]), _int(d[1])
            call.agent = e.agent
        elif e.event in TRANSFERS and len(d) >= 3:
            call.outcome, call.wait_s, call.talk_s = "transferred", _int(d[-3]), _int(d[-2])
            call.agent = e.agent
        elif e.event == "ABANDON" and len(d) >= 3:
            call.outcome, call.wait_s, call.talk_s = "abandoned", _int(d[2]), 0
        elif e.event in EXITS and len(d) >= 3:
            call.outcome, call.wait_s, call.talk_s = "timeout", _int(d[-1]), 0
        else:
            continue
        if e.event != "ENTERQUEUE" and e.event != "RINGNOANSWER" and call.wait_s is None:
            call.bad.append(e)
    return out


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """The report's call figures, counted from queue_log alone (same definitions as
    ``cti.stats.calls``: short abandons apart, waits of answered calls)."""

    offered: int
    answered: int
    transferred: int
    abandoned: int
    short_abandoned: int
    timeout: int
    avg_wait_s: float | None
    p90_wait_s: int | None
    max_wait_s: int | None
    avg_talk_s: float | None
    #: Calls still in the queue when the log ends: not offered yet, in no figure.
    in_queue: int


def figures(queue_calls: Iterable[QueueCall], short_abandon_s: int = 5) -> QueueFigures:
    """The figures of ``queue_calls`` (answered includes transferred)."""
    ended = [c for c in queue_calls]
    waiting = sum(c.outcome == "in_queue" for c in ended)
    ended = [c for c in ended if c.outcome != "in_queue"]
    answered = [c for c in ended if c.outcome in ("answered", "transferred")]
    abandoned = [c for c in ended if c.outcome == "abandoned"]
    short = [c for c in abandoned if (c.wait_s or 0) < short_abandon_s]
    waits = sorted(c.wait_s or 0 for c in answered)
    talks = [c.talk_s or 0 for c in answered]
    return QueueFigures(
        offered=len(ended),
        answered=len(answered),
        transferred=sum(c.outcome == "transferred" for c in ended),
        abandoned=len(abandoned) - len(short),
        short_abandoned=len(short),
        timeout=sum(c.outcome == "timeout" for c in ended),
        avg_wait_s=sum(waits) / len(waits) if waits else None,
        p90_wait_s=waits[math.ceil(0.9 * len(waits)) - 1] if waits else None,
        max_wait_s=waits[-1] if waits else None,
        avg_talk_s=sum(talks) / len(talks) if talks else None,
        in_queue=waiting,
    )


def by_queue(queue_calls: Iterable[QueueCall], short_abandon_s: int = 5) -> dict[str, QueueFigures]:
    """``figures`` per queue, queues in name order."""
    groups: dict[str, list[QueueCall]] = {}
    for c in queue_calls:
        groups.setdefault(c.queue, []).append(c)
    return {q: figures(groups[q], short_abandon_s) for q in sorted(groups)}
