"""A small model of how Asterisk 22 runs the rendered routing include, for tests.

It reads the *text* that ``render`` wrote (not the renderer's data) and follows it the way
main/pbx.c does with the default ``extenpatternmatchnew=no``:

* each context's extensions are kept in ``ext_cmp`` order (``ast_add_extension2_lockopt``:
  plain extensions before patterns; for the same extension, caller-ID extensions before
  the plain one, and between caller-ID patterns ``ext_cmp`` again, where a literal
  character sorts before a set, a set before ``.``, ``.`` before ``!``, and those before
  the end of the pattern);
* every lookup of (context, extension, priority or label, caller number) walks that list
  and takes the first extension whose name matches (``_extension_match_core``, E_MATCH),
  whose caller-ID pattern matches (``matchcid``: no number never matches a pattern) and
  which has the priority or label; then the ``include =>`` contexts in the order written,
  recursively, each context at most once (``pbx_find_extension``);
* a call from the trunk is refused when priority 1 of the DID is not found in
  ``[hotline-routing]`` (``[from-trunk]`` only includes it);
* ``Set``, ``Goto``/``GotoIf`` on labels, ``GotoIfTime(<hh:mm>-<hh:mm>,<d&d>,*,*,<zone>)``
  with an inclusive end minute, the ``STRFTIME(${EPOCH},zone,%Y%m%d)`` holiday test and
  ``QUEUE_MEMBER(queue,logged)``. Anything else raises, so the model cannot silently skip
  a construct the renderer starts to emit.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from cti.routing.render import Entry, parse_entries, parse_includes

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass
class Outcome:
    action: str  # queue, voicemail, callback, reject
    variables: dict[str, str] = field(default_factory=dict)
    mailbox: str | None = None


# --- pbx.c: ext_cmp_pattern_pos / ext_cmp_pattern / ext_cmp ------------------------------


def _pattern_pos(pattern: str, i: int) -> tuple[int, bytes, int | None]:
    """(score, character set bitmap, next index or None at the end) of the position at
    ``i``, as ``ext_cmp_pattern_pos`` scores it."""
    bits = bytearray(32)
    while True:
        while i < len(pattern) and pattern[i] == "-":
            i += 1
        if i >= len(pattern):
            return 0x30000, bytes(bits), None
        c = pattern[i]
        i += 1
        upper = c.upper()
        if upper in "NXZ":
            low = {"N": "2", "X": "0", "Z": "1"}[upper]
            for o in range(ord(low), ord("9") + 1):
                bits[o // 8] |= 1 << (7 - o % 8)
            return (10 - int(low) if upper != "X" else 10) << 8 | ord(low), bytes(bits), i
        if c == ".":
            return 0x18000, bytes(bits), i
        if c == "!":
            return 0x28000, bytes(bits), i
        if c != "[":
            bits[ord(c) // 8] = 1 << (7 - ord(c) % 8)
            return 0x0100 | ord(c), bytes(bits), i
        end = pattern.index("]", i)
        count, cmin = 0, 0xFF
        while i < end:
            c1 = c2 = ord(pattern[i])
            if i + 2 < end and pattern[i + 1] == "-":
                c2 = ord(pattern[i + 2])
                i += 2
            cmin = min(cmin, c1)
            for o in range(c1, c2 + 1):
                mask = 1 << (7 - o % 8)
                if not bits[o // 8] & mask:
                    bits[o // 8] |= mask
                    count += 0x100
            i += 1
        i += 1  # past "]"
        if count:
            return count | cmin, bytes(bits), i


def ext_cmp_pattern(left: str, right: str) -> int:
    li, ri = 0, 0
    while True:
        lscore, lbits, li = _pattern_pos(left, li)
        rscore, rbits, ri = _pattern_pos(right, ri)
        cmp = lscore - rscore
        if not cmp:
            cmp = (rbits > lbits) - (rbits < lbits)  # memcmp(right, left)
        if cmp or li is None:
            return cmp


def ext_cmp(left: str, right: str) -> int:
    if not left.startswith("_"):
        if right.startswith("_"):
            return -1
        a, b = left.replace("-", ""), right.replace("-", "")
        return (a > b) - (a < b)
    if not right.startswith("_"):
        return 1
    return ext_cmp_pattern(left[1:], right[1:])


def exten_cmp(a: tuple[str, str | None], b: tuple[str, str | None]) -> int:
    """The order ``ast_add_extension2_lockopt`` keeps: by name, then caller-ID
    extensions before the plain one, then by caller-ID pattern."""
    cmp = ext_cmp(a[0], b[0])
    if cmp:
        return cmp
    if a[1] is None or b[1] is None:
        return (a[1] is None) - (b[1] is None)
    return ext_cmp(a[1], b[1])


# --- pbx.c: _extension_match_core (E_MATCH) and matchcid ----------------------------------


def extension_match(pattern: str, data: str) -> bool:
    if not pattern.startswith("_"):
        return pattern.replace("-", "") == data.replace("-", "")
    p, d = pattern[1:], data
    pi = di = 0
    while True:
        while di < len(d) and d[di] == "-":
            di += 1
        while pi < len(p) and p[pi] == "-":
            pi += 1
        if di >= len(d) or pi >= len(p) or p[pi] == "/":
            break
        c, ch = p[pi], d[di]
        if c == "[":
            end = p.index("]", pi)
            members = p[pi + 1 : end]
            j, found = 0, False
            while j < len(members):
                if j + 2 < len(members) and members[j + 1] == "-":
                    found = members[j] <= ch <= members[j + 2]
                    j += 3
                else:
                    found = ch == members[j]
                    j += 1
                if found:
                    break
            if not found:
                return False
            pi = end
        elif c in "nN":
            if not "2" <= ch <= "9":
                return False
        elif c in "xX":
            if not "0" <= ch <= "9":
                return False
        elif c in "zZ":
            if not "1" <= ch <= "9":
                return False
        elif c == ".":
            return True
        elif c == "!":
            return True
        elif ch != c:
            return False
        di += 1
        pi += 1
    if di < len(d):
        return False
    return pi >= len(p) or p[pi] in "/!"


def matchcid(pattern: str, caller: str) -> bool:
    if not caller:
        return not pattern
    return extension_match(pattern, caller)


def _expand(data: str, variables: dict[str, str]) -> str:
    def value(m: re.Match[str]) -> str:
        return variables.get("__" + m[1], variables.get(m[1], ""))

    return re.sub(r"\$\{([A-Z_]+)\}", value, data)


class Dialplan:
    def __init__(self, text: str) -> None:
        self.contexts: dict[str, list[tuple[str, str | None, list[Entry]]]] = {}
        grouped: dict[str, dict[tuple[str, str | None], list[Entry]]] = {}
        for e in parse_entries(text):
            grouped.setdefault(e.context, {}).setdefault((e.exten, e.cid), []).append(e)
        for context, extens in grouped.items():
            keys = sorted(extens, key=functools.cmp_to_key(exten_cmp))
            for a, b in zip(keys, keys[1:], strict=False):
                assert exten_cmp(a, b) < 0, f"Asterisk would merge {a} and {b}"
            self.contexts[context] = [(k[0], k[1], extens[k]) for k in keys]
        self.includes: dict[str, list[str]] = {}
        for context, included in parse_includes(text):
            self.includes.setdefault(context, []).append(included)

    def find(
        self, context: str, exten: str, caller: str, priority: int = 0, label: str = "",
        _stack: list[str] | None = None,
    ) -> Entry | None:  # fmt: skip
        """``pbx_find_extension``: own extensions in order, then the includes."""
        stack = [] if _stack is None else _stack
        if context in stack:
            return None
        for name, cid, steps in self.contexts.get(context, []):
            if not extension_match(name, exten):
                continue
            if cid is not None and not matchcid(cid, caller):
                continue
            for e in steps:
                if (label and e.label == label) or (not label and e.priority == priority):
                    return e
        stack.append(context)
        for included in self.includes.get(context, []):
            found = self.find(included, exten, caller, priority, label, stack)
            if found is not None:
                return found
        return None

    def run(
        self, *, caller: str, did: str, at: datetime, empty_queues: Collection[str] = ()
    ) -> Outcome:
        """A call from the trunk: ``[from-trunk]`` includes ``[hotline-routing]``."""
        context, exten, priority = "hotline-routing", did, 1
        if self.find(context, exten, caller, priority) is None:
            return Outcome("reject")
        variables: dict[str, str] = {}

        def done(action: str, mailbox: str | None = None) -> Outcome:
            return Outcome(action, {k.lstrip("_"): v for k, v in variables.items()}, mailbox)

        for _ in range(1000):
            e = self.find(context, exten, caller, priority)
            assert e is not None, f"fell off the dialplan at {context},{exten},{priority}"
            data = e.data if e.app == "GotoIf" else _expand(e.data, variables)
            jump: str | None = None
            if e.app == "Set":
                name, _, value = data.partition("=")
                variables[name] = value
            elif e.app in ("NoOp", "Answer"):
                pass
            elif e.app == "Goto":
                parts = data.split(",")
                assert len(parts) == 3 and parts[2] == "1", data
                if parts[:2] == ["hotline-call", "s"]:
                    return done("queue")
                if parts[0] == "hotline-after-hours":
                    # extensions.conf: <action>,1 logs the call, then VoiceMail(${CTI_MAILBOX})
                    # or the callback request.
                    if parts[1] == "voicemail":
                        return done("voicemail", variables["CTI_MAILBOX"].split("@")[0])
                    assert parts[1] == "callback", data
                    return done("callback")
                context, exten, priority = parts[0], parts[1], 1
                continue
            elif e.app == "GotoIf":
                cond, _, label = e.data.rpartition("?")
                if self._condition(cond, at, empty_queues):
                    jump = label
            elif e.app == "GotoIfTime":
                spec, _, label = data.rpartition("?")
                times, days, mdays, months, zone = spec.split(",")
                assert (mdays, months) == ("*", "*")
                local = at.astimezone(ZoneInfo(zone))
                start, end = (int(t[:2]) * 60 + int(t[3:]) for t in times.split("-"))
                minute = local.hour * 60 + local.minute
                if DAYS[local.weekday()] in days.split("&") and start <= minute <= end:
                    jump = label
            else:
                raise AssertionError(f"the model does not know {e.app}({e.data})")
            if jump is not None:
                target = self.find(context, exten, caller, label=jump)
                assert target is not None, f"no label {jump}"
                priority = target.priority
            else:
                priority += 1
        raise AssertionError("dialplan loop")

    @staticmethod
    def _condition(cond: str, at: datetime, empty: Collection[str]) -> bool:
        m = re.fullmatch(
            r'\$\["\$\{STRFTIME\(\$\{EPOCH\},([A-Za-z_/]+),%Y%m%d\)\}" = "([0-9]{8})"\]', cond
        )
        if m:
            return at.astimezone(ZoneInfo(m[1])).strftime("%Y%m%d") == m[2]
        m = re.fullmatch(r"\$\[\$\{QUEUE_MEMBER\(([a-z0-9_-]+),logged\)\} > 0\]", cond)
        if m:
            return m[1] not in empty
        raise AssertionError(f"the model does not know the condition {cond}")
