"""Render a routing ``Table`` into ``extensions_routing.conf`` (pure, deterministic).

The text is built from a list of ``Entry`` (one per dialplan priority). What the apply
compares with the live dialplan read back over AMI is the text itself, read by
``cti.routing.dialplan.from_text``. Every value
written is re-checked against its whitelist here (defence in depth behind
``rules.check``), and the finished text may only contain the characters in ``ALLOWED``;
anything else raises ``RenderError`` and nothing is written.

The contract with ``extensions.conf``: ``[hotline-routing]`` (included by
``[from-trunk]``) has one extension per DID, which sets ``__DID`` from a literal. Then:

* a DID that no prefix rule can apply to (it has none of its own and there is no
  all-DIDs rule) jumps straight to its county, ``Goto(hotline-county-<code>,s,1)``;
* any other DID jumps into a context whose **extensions are caller numbers**:
  ``Goto(<context>,c${FILTER(0123456789+,${CALLERID(num)})},1)``. There Asterisk's own
  matching order picks the rule (see ``decide.py`` for why it is exactly the simulator's
  precedence):

  * ``[hotline-routing-did-<DID>]`` (the DID has rules of its own): ``_c<PREFIX>.``, one
    per DID-specific rule, then ``include =>`` the next step;
  * ``[hotline-routing-shared-<code>]`` (there are all-DIDs rules): ``include =>
    hotline-routing-prefixes`` (``_c<PREFIX>.``, each all-DIDs rule written once), then
    ``include => hotline-routing-fallback-<code>``;
  * ``[hotline-routing-fallback-<code>]``: ``c`` (no number) and ``_c.`` (any number),
    the DID's county or the default county.

Every decision is an extension name, an include or a Goto, so ``ShowDialPlan`` reports
all of it (it never sends a caller-ID match, which is why none is used). The ``c`` before
the number is a literal (pbx.c: only ``N``, ``X``, ``Z`` in either case, ``[``, ``.``,
``!`` and ``-`` are special in a pattern) and keeps the extension non-empty for a caller
without a number: ``Goto`` with an empty extension keeps the current one
(``ast_explicit_goto``). ``FILTER`` leaves digits and ``+`` only, so nothing the caller
sends can add a comma, a ``-`` (skipped by Asterisk's matching) or a ``${``.

Every rule is one priority, ``Goto(hotline-county-<code>,s,1)``; ``[hotline-county-<code>]``
sets ``__COUNTY`` and ``__COUNTY_QUEUE`` from literals, decides opening hours and overflow
if the county has them, and jumps to ``hotline-call,s,1`` (or takes the after-hours
action). So the text grows with DIDs + prefix rules + counties, never with their product.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cti.routing.decide import Table
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
#: The all-DIDs prefix rules, each written once.
PREFIX_CONTEXT = "hotline-routing-prefixes"
#: ``<prefix><DID>``: one DID's own prefix rules.
DID_CONTEXT_PREFIX = "hotline-routing-did-"
#: ``<prefix><code>``: the all-DIDs rules, then county <code>.
SHARED_CONTEXT_PREFIX = "hotline-routing-shared-"
#: ``<prefix><code>``: any caller, with or without a number, to county <code>.
FALLBACK_CONTEXT_PREFIX = "hotline-routing-fallback-"
COUNTY_CONTEXT_PREFIX = "hotline-county-"
#: Written before the caller's number in the extension: a literal in a pattern (not N, X,
#: Z, n, x, z), and what makes the extension of a caller without a number non-empty.
MARKER = "c"
#: The caller's number as the routing sees it: digits and "+" only (func_strings FILTER).
#: The only way the caller ID enters the dialplan (tests/unit/test_asterisk_conf.py).
CALLER_NUMBER = "${FILTER(0123456789+,${CALLERID(num)})}"
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
    """One dialplan priority, as ``ShowDialPlan`` lists it."""

    context: str
    exten: str
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

    def goto(self, exten: str, context: str, target: str) -> None:
        """A one-priority extension ``exten,1,Goto(context,target,1)``."""
        self.extension(exten, [(None, "Goto", f"{context},{target},1")])

    def extension(self, exten: str, steps: list[tuple[str | None, str, str]]) -> None:
        for priority, (label, app, data) in enumerate(steps, 1):
            head = f"exten => {exten},1" if priority == 1 else " same => n"
            if label and priority > 1:
                head += f"({label})"
            self.lines.append(f"{head},{app}({data})")
            self.entries.append(Entry(self._context, exten, priority, label, app, data))


def _has_policy(policy: CountyPolicy | None) -> bool:
    return policy is not None and (bool(policy.hours) or policy.has_overflow)


def _county_context(county: str) -> str:
    return f"{COUNTY_CONTEXT_PREFIX}{safe('code', county)}"


def _shared_context(county: str) -> str:
    return f"{SHARED_CONTEXT_PREFIX}{safe('code', county)}"


def _fallback_context(county: str) -> str:
    return f"{FALLBACK_CONTEXT_PREFIX}{safe('code', county)}"


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
    "     ([hotline-routing-did-DID]);",
    "  2. the longest prefix rule for all DIDs ([hotline-routing-prefixes]);",
    "  3. the county of the DID, or the default county ([hotline-routing-fallback-CODE]).",
    "A prefix matches callers whose number starts with it and is longer. The number is",
    "matched as an extension, c followed by the caller ID filtered to digits and +",
    "(c alone: no number): exten => _cPREFIX. is a prefix rule, c and _c. the fallback.",
    "The extensions of a context are searched before its includes, these in the order",
    "written. A DID that no prefix rule can apply to goes to its county directly.",
    "[hotline-county-CODE] sets, from literals only, COUNTY (counties.code) and",
    "COUNTY_QUEUE (counties.queue_name, in queues.conf); DID is set in [hotline-routing].",
    "The double underscore makes the agent legs inherit them. Then the hours of the county",
    "and overflow, if any, and hotline-call,s,1.",
)


def _did_context(did: str) -> str:
    # Context names stay letters, digits and "-": "+" is spelled out ("+86..." and
    # "86..." are two DIDs, so the names must differ).
    return DID_CONTEXT_PREFIX + safe("number", did).replace("+", "plus")


def render(table: Table) -> Rendered:
    """The include file for ``table``; same table, same bytes. Its size is linear in
    DIDs + prefix rules + counties."""
    out = _Builder()
    out.comment(*HEADER)
    out.blank()
    out.context(ROUTING_CONTEXT)
    dids = sorted(table.dids)
    used: set[str] = set()
    #: Counties some DID falls back to after matching the caller's number.
    fallbacks: set[str] = set()

    def after_own_rules(county: str) -> str:
        """Where a DID's caller goes after its own rules (or when it has none)."""
        return _shared_context(county) if table.prefixes else _fallback_context(county)

    for did in dids:
        entry = table.dids[did]
        fallback = entry.fallback.county
        used.add(fallback)
        if entry.prefixes:
            first = _did_context(did)
        elif table.prefixes:
            first = after_own_rules(fallback)
        else:
            first = ""
        if first:
            fallbacks.add(fallback)
            # The destination extension is not a literal, so asterisklint does not look
            # it up (a literal destination is looked up by scanning every extension of
            # the target context: O(DIDs x rules) when the lint had one per DID).
            jump = f"{first},{MARKER}{CALLER_NUMBER},1"
        else:
            jump = f"{_county_context(fallback)},s,1"
        out.extension(did, [(None, "Set", f"__DID={safe('number', did)}"), (None, "Goto", jump)])

    for did in dids:
        entry = table.dids[did]
        if not entry.prefixes:
            continue
        out.blank()
        out.context(_did_context(did))
        out.include(after_own_rules(entry.fallback.county))
        for prefix in sorted(entry.prefixes):
            target = entry.prefixes[prefix]
            used.add(target.county)
            out.goto(f"_{MARKER}{safe('number', prefix)}.", _county_context(target.county), "s")
    if table.prefixes and fallbacks:
        out.blank()
        out.context(PREFIX_CONTEXT)
        for prefix in sorted(table.prefixes):
            target = table.prefixes[prefix]
            used.add(target.county)
            out.goto(f"_{MARKER}{safe('number', prefix)}.", _county_context(target.county), "s")
        for county in sorted(fallbacks):
            out.blank()
            out.context(_shared_context(county))
            out.include(PREFIX_CONTEXT)
            out.include(_fallback_context(county))
    for county in sorted(fallbacks):
        out.blank()
        out.context(_fallback_context(county))
        out.goto(MARKER, _county_context(county), "s")
        out.goto(f"_{MARKER}.", _county_context(county), "s")
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
        out.extension("s", steps)
    # asterisklint does not check includes, and Asterisk only logs a warning for one of a
    # context that does not exist (ast_context_verify_includes).
    missing = sorted({name for _, name in out.includes} - set(out.contexts))
    if missing:
        raise RenderError(f"included contexts were not rendered: {missing!r}")
    text = "\n".join(out.lines) + "\n"
    bad = set(text) - ALLOWED
    if bad:
        raise RenderError(f"rendered text contains forbidden characters {sorted(bad)!r}")
    return Rendered(text, tuple(out.entries), tuple(out.contexts), tuple(out.includes))


_INCLUDE = re.compile(r"^include => (?P<name>[a-z0-9_-]+)$")
_LINE = re.compile(
    r"^(?:exten => (?P<name>[^,/\s]+),1|\s+same => n(?:\((?P<label>[a-z]+)\))?),"
    r"(?P<app>[A-Za-z]+)\((?P<data>.*)\)$"
)


def parse_entries(text: str) -> tuple[Entry, ...]:
    """Read the entries back from a file ``render`` wrote (used to verify an old version,
    e.g. on rollback, without re-rendering it). Raises ``RenderError`` on other text."""
    entries: list[Entry] = []
    context = ""
    exten, priority = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if not line or line.startswith(";"):
            continue
        if line.startswith("[") and line.endswith("]"):
            context, exten = line[1:-1], ""
            continue
        if _INCLUDE.match(line) and context:
            continue
        match = _LINE.match(line)
        if match is None or not context or (match["name"] is None and not exten):
            raise RenderError(f"line {number} is not routing dialplan: {line[:80]!r}")
        if match["name"] is not None:
            exten, priority = match["name"], 1
        else:
            priority += 1
        entries.append(Entry(context, exten, priority, match["label"], match["app"], match["data"]))
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
