"""Render a routing ``Table`` into ``extensions_routing.conf`` (pure, deterministic).

The text is built from a list of ``Entry`` (one per dialplan priority), and the same list
is what ``verify.py`` compares with the live dialplan read back over AMI. Every value
written is re-checked against its whitelist here (defence in depth behind
``rules.check``), and the finished text may only contain the characters in ``ALLOWED``;
anything else raises ``RenderError`` and nothing is written.

The contract with ``extensions.conf``: ``[hotline-routing]`` (included by
``[from-trunk]``) has one extension per DID, plus one caller-ID extension per prefix that
applies to the DID; each sets ``__COUNTY``, ``__COUNTY_QUEUE`` and ``__DID`` from literals
and jumps to ``hotline-call,s,1`` -- or, for a county with opening hours or overflow, to
``[hotline-county-<code>]``, which decides those and then jumps to ``hotline-call,s,1``
(or takes the after-hours action).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cti.routing.decide import DidEntry, Table, Target
from cti.routing.rules import (
    CODE_PATTERN,
    MAILBOX_PATTERN,
    NUMBER_PATTERN,
    QUEUE_PATTERN,
    TIMEZONE_PATTERN,
    CountyPolicy,
    minutes,
)

ROUTING_CONTEXT = "hotline-routing"
COUNTY_CONTEXT_PREFIX = "hotline-county-"
#: Voicemail context of after-hours mailboxes (voicemail.conf).
VOICEMAIL_CONTEXT = "hotline"
FILENAME = "extensions_routing.conf"

#: Every character the rendered file may contain.
ALLOWED = frozenset(
    'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n_-+=,.;:/()[]${}"&?%>*@'
)

_CHECKS = {
    "number": re.compile(NUMBER_PATTERN),
    "code": re.compile(CODE_PATTERN),
    "queue": re.compile(QUEUE_PATTERN),
    "mailbox": re.compile(MAILBOX_PATTERN),
    "zone": re.compile(TIMEZONE_PATTERN),
    "time": re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$"),
    "seconds": re.compile(r"^[0-9]{1,5}$"),
    "date": re.compile(r"^[0-9]{8}$"),
}


class RenderError(ValueError):
    """A value or the finished text failed the whitelist: a bug upstream, never written."""


def safe(kind: str, value: object) -> str:
    text = str(value)
    if not _CHECKS[kind].fullmatch(text):
        raise RenderError(f"refusing to render {kind} {text!r}")
    return text


@dataclass(frozen=True, slots=True)
class Entry:
    """One dialplan priority, as ``ShowDialPlan`` lists it (plus the caller-ID match,
    which ``ShowDialPlan`` does not show)."""

    context: str
    exten: str
    cid: str | None
    priority: int
    label: str | None
    app: str
    data: str


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    entries: tuple[Entry, ...]
    contexts: tuple[str, ...]


class _Builder:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.entries: list[Entry] = []
        self.contexts: list[str] = []
        self._context = ""

    def comment(self, *lines: str) -> None:
        self.lines.extend(f"; {line}".rstrip() for line in lines)

    def blank(self) -> None:
        self.lines.append("")

    def context(self, name: str) -> None:
        self._context = name
        self.contexts.append(name)
        self.lines.append(f"[{name}]")

    def extension(
        self, exten: str, cid: str | None, steps: list[tuple[str | None, str, str]]
    ) -> None:
        name = exten if cid is None else f"{exten}/{cid}"
        for priority, (label, app, data) in enumerate(steps, 1):
            head = f"exten => {name},1" if priority == 1 else " same => n"
            if label and priority > 1:
                head += f"({label})"
            self.lines.append(f"{head},{app}({data})")
            self.entries.append(Entry(self._context, exten, cid, priority, label, app, data))


def _route_steps(table: Table, did: str, target: Target) -> list[tuple[str | None, str, str]]:
    county = safe("code", target.county)
    queue = safe("queue", table.queues[target.county])
    policy = table.policies.get(target.county)
    jump = f"{COUNTY_CONTEXT_PREFIX}{county},s,1" if _has_policy(policy) else "hotline-call,s,1"
    return [
        (None, "Set", f"__COUNTY={county}"),
        (None, "Set", f"__COUNTY_QUEUE={queue}"),
        (None, "Set", f"__DID={safe('number', did)}"),
        (None, "Goto", jump),
    ]


def _has_policy(policy: CountyPolicy | None) -> bool:
    return policy is not None and (bool(policy.hours) or policy.has_overflow)


def _did_extensions(out: _Builder, table: Table, entry: DidEntry) -> None:
    did = safe("number", entry.did)
    out.extension(did, None, _route_steps(table, did, entry.fallback))
    for prefix in sorted(entry.prefixes):
        out.blank()
        cid = f"_{safe('number', prefix)}."
        out.extension(did, cid, _route_steps(table, did, entry.prefixes[prefix]))


def _policy_steps(table: Table, policy: CountyPolicy) -> list[tuple[str | None, str, str]]:
    county = safe("code", policy.county)
    queue = safe("queue", table.queues[policy.county])
    steps: list[tuple[str | None, str, str]] = [(None, "NoOp", f"county {county}")]
    if policy.hours:
        zone = safe("zone", policy.timezone)
        for day in policy.holidays:
            ymd = safe("date", day.strftime("%Y%m%d"))
            steps.append(
                (None, "GotoIf", f'$["${{STRFTIME(${{EPOCH}},{zone},%Y%m%d)}}" = "{ymd}"]?closed')
            )
        for window in policy.hours:
            start = safe("time", window.start)
            last = minutes(window.end) - 1  # GotoIfTime's end minute is inclusive
            end = safe("time", f"{last // 60:02d}:{last % 60:02d}")
            days = "&".join(window.days)
            steps.append((None, "GotoIfTime", f"{start}-{end},{days},*,*,{zone}?open"))
        after = policy.after_hours
        assert after is not None
        if after.action == "voicemail":
            box = safe("mailbox", after.mailbox)
            steps += [
                ("closed", "Answer", ""),
                (None, "VoiceMail", f"{box}@{VOICEMAIL_CONTEXT},u"),
                (None, "Hangup", ""),
            ]
        elif after.action == "callback":
            steps += [
                ("closed", "Answer", ""),
                (None, "UserEvent", f"HotlineCallbackRequest,County: {county},DID: ${{DID}}"),
                (None, "Playback", "vm-goodbye"),
                (None, "Hangup", ""),
            ]
        else:
            steps += [
                ("closed", "Set", f"__COUNTY_QUEUE={safe('queue', after.queue)}"),
                (None, "Goto", "hotline-call,s,1"),
            ]
    open_label: str | None = "open" if policy.hours else None
    if policy.overflow_queue is not None and policy.overflow_when_empty:
        overflow = safe("queue", policy.overflow_queue)
        steps += [
            (open_label, "GotoIf", f"$[${{QUEUE_MEMBER({queue},logged)}} > 0]?staffed"),
            (None, "Set", f"__COUNTY_QUEUE={overflow}"),
            (None, "Goto", "hotline-call,s,1"),
        ]
        open_label = "staffed"
    if policy.overflow_queue is not None and policy.overflow_after_s is not None:
        steps += [
            (open_label, "Set", f"__CTI_QUEUE_WAIT={safe('seconds', policy.overflow_after_s)}"),
            (None, "Set", f"__CTI_OVERFLOW_QUEUE={safe('queue', policy.overflow_queue)}"),
        ]
        open_label = None
    steps.append((open_label, "Goto", "hotline-call,s,1"))
    return steps


HEADER = (
    "County routing: which DID and caller prefix go to which county queue.",
    "",
    "GENERATED by cti.routing from the rules in the database (validated values only:",
    "digits, known county codes, known queue names, time zone names). Do not edit by",
    "hand: change the rules in the admin pages or with: cti routing import, then apply.",
    "Each entry sets, from literals only:",
    "  COUNTY        the county code (counties.code)",
    "  COUNTY_QUEUE  the queue of the county (counties.queue_name, in queues.conf)",
    "  DID           the number the citizen dialled",
    "and jumps to hotline-call,s,1 (or first to the hours and overflow of the county).",
    "The double underscore makes the agent legs inherit them. A caller-ID extension",
    "DID/_PREFIX. matches callers whose number starts with PREFIX (and is longer); it",
    "wins over the plain DID extension, and the longest prefix wins.",
)


def render(table: Table) -> Rendered:
    """The include file for ``table``; same table, same bytes."""
    out = _Builder()
    out.comment(*HEADER)
    out.blank()
    out.context(ROUTING_CONTEXT)
    for i, did in enumerate(sorted(table.dids)):
        if i:
            out.blank()
        _did_extensions(out, table, table.dids[did])
    for code in sorted(table.policies):
        policy = table.policies[code]
        if not _has_policy(policy):
            continue
        out.blank()
        out.comment(f"County {safe('code', code)}: opening hours and overflow.")
        out.context(f"{COUNTY_CONTEXT_PREFIX}{code}")
        out.extension("s", None, _policy_steps(table, policy))
    text = "\n".join(out.lines) + "\n"
    bad = set(text) - ALLOWED
    if bad:
        raise RenderError(f"rendered text contains forbidden characters {sorted(bad)!r}")
    return Rendered(text, tuple(out.entries), tuple(out.contexts))


_LINE = re.compile(
    r"^(?:exten => (?P<name>[^,]+),1|\s+same => n(?:\((?P<label>[a-z]+)\))?),"
    r"(?P<app>[A-Za-z]+)\((?P<data>.*)\)$"
)


def parse_entries(text: str) -> tuple[Entry, ...]:
    """Read the entries back from a file ``render`` wrote (used to verify an old version,
    e.g. on rollback, without re-rendering it). Raises ``RenderError`` on other text."""
    entries: list[Entry] = []
    context = ""
    exten, cid, priority = "", None, 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line or line.startswith(";"):
            continue
        if line.startswith("[") and line.endswith("]"):
            context = line[1:-1]
            continue
        match = _LINE.match(line)
        if match is None or not context:
            raise RenderError(f"line {number} is not routing dialplan: {line[:80]!r}")
        if match["name"] is not None:
            exten, _, cid_text = match["name"].partition("/")
            cid = cid_text or None
            priority = 1
        else:
            priority += 1
        entries.append(
            Entry(context, exten, cid, priority, match["label"], match["app"], match["data"])
        )
    return tuple(entries)
