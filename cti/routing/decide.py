"""The route decision: one pure function of (rules, caller, DID, time) -> where the call goes.

``compile_table`` turns a checked ``RuleSet`` into a ``Table``: per DID, its own caller
prefixes and its fallback county; once, the all-DIDs prefixes. ``decide`` answers the
simulator from the table and ``render.py`` writes the dialplan from the same table, so the
two cannot disagree.

Precedence, for a call to a known DID (the same in the simulator and in the dialplan):

1. the longest of **this DID's own** prefixes that the caller's number extends;
2. else the longest **all-DIDs** prefix that the caller's number extends;
3. else the DID's county; 4. else the default county.

A DID-specific prefix always beats an all-DIDs prefix, even a longer one: a rule written
for one DID is the more specific rule. (Before, the longest prefix of both kinds won; that
needed every all-DIDs rule written once per DID, DIDs x prefixes lines.)

The caller's number is what the dialplan matches: ``CALLERID(num)`` filtered down to
digits and ``+`` (``FILTER(0123456789+,...)``); anything else in it (``-``, spaces, the
letters of "anonymous") is dropped, so a caller with nothing left has no number.

How the dialplan implements it (Asterisk 22, main/pbx.c ``pbx_find_extension`` with the
default ``extenpatternmatchnew=no``: the context's own extensions in ``ext_cmp`` order,
first match that has the priority wins, then its ``include =>`` contexts in order,
depth first, each context at most once):

* ``[hotline-routing]`` (included by ``[from-trunk]``): one extension per DID; it sets
  ``__DID``. A DID without one is unknown and the call is refused (the trunk answers 404),
  as before routing rules existed. A DID that no prefix rule can apply to jumps to its
  county; any other jumps to ``c<number>`` (``c`` alone without a number: ``Goto`` with an
  empty extension would keep the DID's) in its first routing context:
* ``[hotline-routing-did-<DID>]``: the DID-specific rules ``exten => _c<PREFIX>.``, then
  ``include =>`` the rest. ``[hotline-routing-shared-<code>]``: ``include =>
  hotline-routing-prefixes`` (the all-DIDs rules ``exten => _c<PREFIX>.``, each written
  once), then ``include => hotline-routing-fallback-<code>`` (``c`` and ``_c.``: any
  caller, to the DID's county or the default). Includes are searched only when no own
  extension matched, and in the order written: that is steps 1 to 4;
* ``.`` needs at least one more character, so a prefix matches callers *longer* than
  itself; between the patterns of one context the one with more literal characters sorts
  first (``ext_cmp_pattern``: a literal sorts before ``.``), so the longest prefix wins.
  ``c`` is a literal in a pattern (only ``N``, ``X``, ``Z`` in either case are digit
  classes). The extension keeps at most 79 characters (``AST_MAX_EXTENSION``), which
  cuts only numbers far longer than any prefix (20 digits at most);
* every target is ``Goto(hotline-county-<code>,s,1)``, which sets ``__COUNTY`` and
  ``__COUNTY_QUEUE`` and then decides the county's hours and overflow;
* opening hours are ``GotoIfTime(<start>-<end-1min>,<days>,*,*,<zone>)``, so a window
  ``08:00-18:00`` is open from 08:00:00 to 17:59:59 local time; a holiday compares the
  local date ``STRFTIME(${EPOCH},<zone>,%Y%m%d)``; both in the county's time zone;
* "no logged-in agent" overflow reads ``QUEUE_MEMBER(<queue>,logged)`` when the call
  arrives; the wait-limit overflow is carried by ``CTI_QUEUE_WAIT``/``CTI_OVERFLOW_QUEUE``
  and done by ``[hotline-call]`` when ``Queue()`` times out.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from cti.routing.rules import WEEKDAYS, Catalog, CountyPolicy, RuleSet

#: Everything ``FILTER(0123456789+,...)`` drops (a class of ASCII code points only).
_NOT_NUMBER = re.compile(r"[^0-9+]+")


@dataclass(frozen=True, slots=True)
class Target:
    """Where one matching entry sends a call: a county and the rule that said so."""

    county: str
    rule: str  # "dids.0", "prefixes.3", "default_county"


@dataclass(frozen=True, slots=True)
class DidEntry:
    did: str
    #: The plain extension: the DID's county or the default county.
    fallback: Target
    #: prefix -> target: this DID's own prefix rules only (they beat all-DIDs rules).
    prefixes: Mapping[str, Target]
    max_prefix: int


@dataclass(frozen=True, slots=True)
class Table:
    dids: Mapping[str, DidEntry]
    policies: Mapping[str, CountyPolicy]
    queues: Mapping[str, str]  # county -> queue
    #: prefix -> target: the all-DIDs prefix rules (after a DID's own, before its county).
    prefixes: Mapping[str, Target] = field(default_factory=dict)
    max_prefix: int = 0


Action = Literal["queue", "voicemail", "callback", "reject"]


@dataclass(frozen=True, slots=True)
class Decision:
    did: str
    caller: str
    action: Action
    county: str | None = None
    queue: str | None = None
    rule: str | None = None
    reason: str = ""
    mailbox: str | None = None
    #: Wait-limit overflow: after this many seconds in ``queue``, go to ``overflow_queue``.
    overflow_after_s: int | None = None
    overflow_queue: str | None = None
    steps: tuple[str, ...] = field(default=())

    def as_data(self) -> dict[str, Any]:
        return {
            "did": self.did,
            "caller": self.caller,
            "action": self.action,
            "county": self.county,
            "queue": self.queue,
            "matched_rule": self.rule,
            "reason": self.reason,
            "mailbox": self.mailbox,
            "overflow_after_s": self.overflow_after_s,
            "overflow_queue": self.overflow_queue,
            "steps": list(self.steps),
        }


def compile_table(rules: RuleSet, catalog: Catalog) -> Table:
    """The per-DID view of a *checked* rule set (``rules.check`` first)."""
    global_prefixes: dict[str, Target] = {}
    own_prefixes: dict[str, dict[str, Target]] = {}
    for i, rule in enumerate(rules.prefixes):
        target = Target(rule.county, f"prefixes.{i}")
        if rule.did is None:
            global_prefixes[rule.prefix] = target
        else:
            own_prefixes.setdefault(rule.did, {})[rule.prefix] = target
    dids: dict[str, DidEntry] = {}
    for i, rule in enumerate(rules.dids):
        if rule.county is not None:
            fallback = Target(rule.county, f"dids.{i}")
        else:
            assert rules.default_county is not None  # rules.check guarantees it
            fallback = Target(rules.default_county, "default_county")
        prefixes = own_prefixes.get(rule.did, {})
        dids[rule.did] = DidEntry(
            did=rule.did,
            fallback=fallback,
            prefixes=prefixes,
            max_prefix=max(map(len, prefixes), default=0),
        )
    return Table(
        dids=dids,
        policies={policy.county: policy for policy in rules.counties},
        queues=dict(catalog.counties),
        prefixes=global_prefixes,
        max_prefix=max(map(len, global_prefixes), default=0),
    )


def _longest(prefixes: Mapping[str, Target], max_prefix: int, caller: str) -> Target | None:
    """The target of the longest prefix in ``prefixes`` that ``caller`` extends."""
    for length in range(min(len(caller) - 1, max_prefix), 0, -1):
        target = prefixes.get(caller[:length])
        if target is not None:
            return target
    return None


def caller_number(caller: str) -> str:
    """The caller's number as the dialplan matches it: ``FILTER(0123456789+,...)``."""
    return _NOT_NUMBER.sub("", caller)


def match(table: Table, entry: DidEntry, caller: str) -> Target:
    """The target for this caller and DID: the DID's own longest prefix, else the longest
    all-DIDs prefix, else the DID's fallback (its county or the default)."""
    caller = caller_number(caller)
    if caller:
        if entry.prefixes:
            target = _longest(entry.prefixes, entry.max_prefix, caller)
            if target is not None:
                return target
        if table.prefixes:
            target = _longest(table.prefixes, table.max_prefix, caller)
            if target is not None:
                return target
    return entry.fallback


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def is_open(policy: CountyPolicy, at: datetime) -> tuple[bool, str]:
    """Whether the county is open at ``at`` (an aware datetime), and why."""
    if not policy.hours:
        return True, "no opening hours set"
    assert policy.timezone is not None
    local = at.astimezone(_zone(policy.timezone))
    today: date = local.date()
    if today in policy.holidays:
        return False, f"holiday {today.isoformat()} in {policy.timezone}"
    weekday = WEEKDAYS[local.weekday()]
    minute = local.hour * 60 + local.minute
    for window in policy.hours:
        if weekday in window.days and window.start_minute <= minute < window.end_minute:
            return True, f"open {weekday} {window.start}-{window.end} {policy.timezone}"
    return False, f"closed at {local:%a %H:%M} {policy.timezone}"


def decide(
    table: Table,
    *,
    caller: str,
    did: str,
    at: datetime | None = None,
    empty_queues: Collection[str] = (),
) -> Decision:
    """Where a call from ``caller`` to ``did`` at ``at`` goes.

    ``empty_queues``: queues with no logged-in agent at that moment (the simulator's
    stand-in for ``QUEUE_MEMBER(queue,logged)``). Pure: same input, same answer.
    """
    at = at or datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError("the time must carry a UTC offset")
    entry = table.dids.get(did)
    if entry is None:
        return Decision(did, caller, "reject", reason=f"no rule for DID {did}: refused (404)")
    target = match(table, entry, caller)
    county = target.county
    queue = table.queues[county]
    steps = [f"{target.rule} -> county {county}, queue {queue}"]
    policy = table.policies.get(county)
    if policy is None:
        return Decision(
            did, caller, "queue", county, queue, target.rule, steps[0], steps=tuple(steps)
        )
    open_now, why = is_open(policy, at)
    steps.append(why)
    if not open_now:
        after = policy.after_hours
        assert after is not None
        if after.action == "queue":
            steps.append(f"after hours -> queue {after.queue}")
            return Decision(
                did, caller, "queue", county, after.queue, target.rule, "; ".join(steps),
                steps=tuple(steps),
            )  # fmt: skip
        steps.append(f"after hours -> {after.action}")
        return Decision(
            did, caller, after.action, county, None, target.rule, "; ".join(steps),
            mailbox=after.mailbox, steps=tuple(steps),
        )  # fmt: skip
    if policy.overflow_queue is not None and policy.overflow_when_empty and queue in empty_queues:
        steps.append(f"no agent logged in to {queue} -> overflow to {policy.overflow_queue}")
        return Decision(
            did, caller, "queue", county, policy.overflow_queue, target.rule, "; ".join(steps),
            steps=tuple(steps),
        )  # fmt: skip
    overflow_after = overflow_queue = None
    if policy.overflow_queue is not None and policy.overflow_after_s is not None:
        overflow_after, overflow_queue = policy.overflow_after_s, policy.overflow_queue
        steps.append(f"after {overflow_after} s waiting -> {overflow_queue}")
    return Decision(
        did, caller, "queue", county, queue, target.rule, "; ".join(steps),
        overflow_after_s=overflow_after, overflow_queue=overflow_queue, steps=tuple(steps),
    )  # fmt: skip
