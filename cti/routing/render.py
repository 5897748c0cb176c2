"""Render a routing ``Table`` into ``extensions_routing.conf`` (pure, deterministic).

The text is built from a list of ``Entry`` (one per dialplan priority). What the apply
compares with the live dialplan read back over AMI is the text itself, read by
``cti.routing.dialplan.from_text``. Every value
written is re-checked against its whitelist here (defence in depth behind
``rules.check``), and the finished text may only contain the characters in ``ALLOWED``;
anything else raises ``RenderError`` and nothing is written.

The contract with ``extensions.conf``: ``[hotline-routing]`` (included by
``[from-trunk]``) has one extension per DID, which sets ``__DID`` from a literal and jumps
to ``[hotline-routing-match]``. There, Asterisk's own matching order picks the rule (see
``decide.py`` for why it is exactly the simulator's precedence):

* own extensions ``<DID>/_<PREFIX>.``: the DID-specific prefix rules;
* ``include => hotline-routing-prefixes``: ``_[0-9+]./_<PREFIX>.``, the all-DIDs rules,
  each written once whatever the number of DIDs;
* ``include => hotline-routing-dids``: ``<DID>``, the DID's county or the default county.

Every rule is one priority, ``Goto(hotline-county-<code>,s,1)``; ``[hotline-county-<code>]``
sets ``__COUNTY`` and ``__COUNTY_QUEUE`` from literals, decides opening hours and overflow
if the county has them, and jumps to ``hotline-call,s,1`` (or takes the after-hours
action). So the text grows with DIDs + prefix rules + counties, never with their product.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cti.routing.decide import Table, Target
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
MATCH_CONTEXT = "hotline-routing-match"
PREFIX_CONTEXT = "hotline-routing-prefixes"
DID_CONTEXT = "hotline-routing-dids"
COUNTY_CONTEXT_PREFIX = "hotline-county-"
#: The extension of an all-DIDs rule: any DID (digits, or "+" and digits).
ANY_DID = "_[0-9+]."
#: Voicemail context of after-hours mailboxes (voicemail.conf).
VOICEMAIL_CONTEXT = "hotline"
#: Where a closed county sends voicemail and callback calls (extensions.conf).
AFTER_HOURS_CONTEXT = "hotline-after-hours"
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
    #: (context, included context), in the order they are searched.
    includes: tuple[tuple[str, str], ...] = ()


class _Builder:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.entries: list[Entry] = []
        self.contexts: list[str] = []
        self.includes: list[tuple[str, str]] = []
        self._context = ""

    def comment(self, *lines: str) -> None:
        self.lines.extend(f"; {line}".rstrip() for line in lines)

    def blank(self) -> None:
        self.lines.append("")

    def context(self, name: str) -> None:
        self._context = name
        self.contexts.append(name)
        self.lines.append(f"[{name}]")

    def include(self, name: str) -> None:
        self.includes.append((self._context, name))
        self.lines.append(f"include => {name}")

    def goto(self, exten: str, cid: str | None, context: str, target: str) -> None:
        """A one-priority extension ``exten[/cid],1,Goto(context,target,1)``."""
        name = exten if cid is None else f"{exten}/{cid}"
        data = f"{context},{target},1"
        self.lines.append(f"exten => {name},1,Goto({data})")
        self.entries.append(Entry(self._context, exten, cid, 1, None, "Goto", data))

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


def _has_policy(policy: CountyPolicy | None) -> bool:
    return policy is not None and (bool(policy.hours) or policy.has_overflow)


def _county_context(target: Target) -> str:
    return f"{COUNTY_CONTEXT_PREFIX}{safe('code', target.county)}"


def _policy_steps(table: Table, policy: CountyPolicy) -> list[tuple[str | None, str, str]]:
    county = safe("code", policy.county)
    queue = safe("queue", table.queues[policy.county])
    steps: list[tuple[str | None, str, str]] = [
        (None, "Set", f"__COUNTY={county}"),
        (None, "Set", f"__COUNTY_QUEUE={queue}"),
    ]
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
        # Voicemail and callback requests are calls too: [hotline-after-hours] in
        # extensions.conf logs them (call-start, and call-end from the hangup handler).
        if after.action == "voicemail":
            box = safe("mailbox", after.mailbox)
            steps += [
                ("closed", "Set", f"CTI_MAILBOX={box}@{VOICEMAIL_CONTEXT}"),
                (None, "Goto", f"{AFTER_HOURS_CONTEXT},voicemail,1"),
            ]
        elif after.action == "callback":
            steps.append(("closed", "Goto", f"{AFTER_HOURS_CONTEXT},callback,1"))
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
    "",
    "For a call to a known DID the first of these that matches decides the county:",
    "  1. the longest prefix rule for this DID that the calling number starts with",
    "     ([hotline-routing-match], DID/_PREFIX.);",
    "  2. the longest prefix rule for all DIDs ([hotline-routing-prefixes], included);",
    "  3. the county of the DID, or the default county ([hotline-routing-dids], included).",
    "A prefix matches callers whose number starts with it and is longer. Includes are",
    "searched after the own extensions of a context, in the order written.",
    "[hotline-county-CODE] sets, from literals only, COUNTY (counties.code) and",
    "COUNTY_QUEUE (counties.queue_name, in queues.conf); DID is set in [hotline-routing].",
    "The double underscore makes the agent legs inherit them. Then the hours of the county",
    "and overflow, if any, and hotline-call,s,1.",
)


def render(table: Table) -> Rendered:
    """The include file for ``table``; same table, same bytes. Its size is linear in
    DIDs + prefix rules + counties."""
    out = _Builder()
    out.comment(*HEADER)
    out.blank()
    out.context(ROUTING_CONTEXT)
    dids = sorted(table.dids)
    for did in dids:
        # ${DID}, not the literal: the same value (set on the line before), but asterisklint
        # looks a literal Goto destination up by scanning every extension of the target
        # context, which made the lint O(DIDs x DID-specific rules): 30 s for 5,000 rules.
        safe("number", did)
        out.extension(
            did,
            None,
            [(None, "Set", f"__DID={did}"), (None, "Goto", f"{MATCH_CONTEXT},${{DID}},1")],
        )
    used: set[str] = set()
    if dids:
        out.blank()
        out.context(MATCH_CONTEXT)
        if table.prefixes:
            out.include(PREFIX_CONTEXT)
        out.include(DID_CONTEXT)
        for did in dids:
            entry = table.dids[did]
            for prefix in sorted(entry.prefixes):
                target = entry.prefixes[prefix]
                used.add(target.county)
                out.goto(did, f"_{safe('number', prefix)}.", _county_context(target), "s")
        if table.prefixes:
            out.blank()
            out.context(PREFIX_CONTEXT)
            for prefix in sorted(table.prefixes):
                target = table.prefixes[prefix]
                used.add(target.county)
                out.goto(ANY_DID, f"_{safe('number', prefix)}.", _county_context(target), "s")
        out.blank()
        out.context(DID_CONTEXT)
        for did in dids:
            target = table.dids[did].fallback
            used.add(target.county)
            out.goto(did, None, _county_context(target), "s")
    used.update(code for code, policy in table.policies.items() if _has_policy(policy))
    for code in sorted(used):
        policy = table.policies.get(code)
        out.blank()
        if _has_policy(policy):
            assert policy is not None
            out.comment(f"County {safe('code', code)}: opening hours and overflow.")
            steps = _policy_steps(table, policy)
        else:
            steps = [
                (None, "Set", f"__COUNTY={safe('code', code)}"),
                (None, "Set", f"__COUNTY_QUEUE={safe('queue', table.queues[code])}"),
                (None, "Goto", "hotline-call,s,1"),
            ]
        out.context(f"{COUNTY_CONTEXT_PREFIX}{code}")
        out.extension("s", None, steps)
    text = "\n".join(out.lines) + "\n"
    bad = set(text) - ALLOWED
    if bad:
        raise RenderError(f"rendered text contains forbidden characters {sorted(bad)!r}")
    return Rendered(text, tuple(out.entries), tuple(out.contexts), tuple(out.includes))


_INCLUDE = re.compile(r"^include => (?P<name>[a-z0-9_-]+)$")
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
        if _INCLUDE.match(line) and context:
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


def parse_includes(text: str) -> tuple[tuple[str, str], ...]:
    """The ``include =>`` lines of a file ``render`` wrote: (context, included context)."""
    includes: list[tuple[str, str]] = []
    context = ""
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            context = line[1:-1]
        elif match := _INCLUDE.match(line):
            includes.append((context, match["name"]))
    return tuple(includes)
