"""A small model of how Asterisk 22 runs the rendered routing include, for tests.

It reads the *text* that ``render`` wrote (with its own parser, not the renderer's data
or ``render.parse_entries``) and follows it the way main/pbx.c does with the default
``extenpatternmatchnew=no``:

* each context's extensions are kept in ``ext_cmp`` order (``ast_add_extension2_lockopt``:
  plain extensions before patterns, patterns position by position, where a literal
  character sorts before a set, a set before ``.``, ``.`` before ``!``, and those before
  the end of the pattern; ``n``/``N``, ``x``/``X``, ``z``/``Z`` are digit sets in either
  case, every other letter is a literal);
* every lookup of (context, extension, priority or label) walks that list and takes the
  first extension whose name matches (``_extension_match_core``, E_MATCH: ``.`` needs one
  more character, ``!`` none, ``-`` is skipped on both sides, a literal compares
  case-sensitively) and which has the priority or label; then the ``include =>`` contexts
  in the order written, recursively, each context at most once in one lookup
  (``pbx_find_extension``'s ``incstack``);
* a call from the trunk is refused when priority 1 of the DID is not found in
  ``[hotline-routing]`` (``[from-trunk]`` only includes it);
* the caller's number enters only as ``${FILTER(<chars>,${CALLERID(num)})}``
  (func_strings: keep the listed characters); ``Goto(context,exten,priority)`` keeps the
  channel's extension when ``exten`` is empty (``ast_explicit_goto``) and cuts a longer
  one to 79 characters (the channel's ``exten[AST_MAX_EXTENSION]``); a ``Goto`` to an
  extension that does not exist fails the test (Asterisk would hang the call up);
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

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: include/asterisk/channel.h AST_MAX_EXTENSION: the channel's exten buffer, NUL included.
AST_MAX_EXTENSION = 80


@dataclass(frozen=True)
class Entry:
    """One priority of the text."""

    context: str
    exten: str
    priority: int
    label: str | None
    app: str
    data: str


_CONTEXT = re.compile(r"\[([^\]]+)\]")
_INCLUDE = re.compile(r"include\s*=>\s*(\S+)")
_EXTEN = re.compile(r"exten\s*=>\s*([^,]+),(\d+|n)(?:\(([^)]*)\))?,(\w+)\((.*)\)")
_SAME = re.compile(r"same\s*=>\s*n(?:\(([^)]*)\))?,(\w+)\((.*)\)")


def read(text: str) -> tuple[list[Entry], list[tuple[str, str]]]:
    """The priorities and includes of a dialplan text (the subset the routing uses)."""
    entries: list[Entry] = []
    includes: list[tuple[str, str]] = []
    context = exten = ""
    priority = 0
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if m := _CONTEXT.fullmatch(line):
            context, exten = m[1], ""
        elif m := _INCLUDE.fullmatch(line):
            includes.append((context, m[1]))
        elif m := _EXTEN.fullmatch(line):
            assert m[2] == "1", line
            assert "/" not in m[1], f"a caller-ID match is not allowed: {line}"
            exten, priority = m[1], 1
            entries.append(Entry(context, exten, priority, m[3], m[4], m[5]))
        elif m := _SAME.fullmatch(line):
            assert exten, line
            priority += 1
            entries.append(Entry(context, exten, priority, m[1], m[2], m[3]))
        else:
            raise AssertionError(f"the model cannot read {raw!r}")
    return entries, includes


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


# --- pbx.c: _extension_match_core (E_MATCH) -------------------------------------------------


def extension_match(pattern: str, data: str) -> bool:
    if not pattern.startswith("_"):
        return pattern.replace("-", "") == data.replace("-", "")
    if data.startswith("_") and ext_cmp_pattern(pattern[1:], data[1:]) == 0:
        return True  # data that is itself a pattern matches the same pattern
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


# --- substitution: variables and the one function of the caller ID ----------------------------


def _filter(allowed: str, value: str) -> str:
    """func_strings FILTER(allowed,value): the characters of value listed in allowed."""
    assert "-" not in allowed and "\\" not in allowed, "the model knows no FILTER ranges"
    return "".join(ch for ch in value if ch in allowed)


def _expand(data: str, variables: dict[str, str], caller: str) -> str:
    def function(m: re.Match[str]) -> str:
        return _filter(m[1], caller)

    data = re.sub(r"\$\{FILTER\(([^,()${}]*),\$\{CALLERID\(num\)\}\)\}", function, data)
    assert "CALLERID" not in data, f"the caller ID used another way: {data}"

    def value(m: re.Match[str]) -> str:
        return variables.get("__" + m[1], variables.get(m[1], ""))

    return re.sub(r"\$\{([A-Z_]+)\}", value, data)


class Dialplan:
    def __init__(self, text: str) -> None:
        entries, includes = read(text)
        self.contexts: dict[str, list[tuple[str, list[Entry]]]] = {}
        grouped: dict[str, dict[str, list[Entry]]] = {}
        for e in entries:
            grouped.setdefault(e.context, {}).setdefault(e.exten, []).append(e)
        for context, extens in grouped.items():
            names = sorted(extens, key=functools.cmp_to_key(ext_cmp))
            for a, b in zip(names, names[1:], strict=False):
                assert ext_cmp(a, b) < 0, f"Asterisk would merge {a} and {b}"
            self.contexts[context] = [(name, extens[name]) for name in names]
        self.includes: dict[str, list[str]] = {}
        for context, included in includes:
            self.includes.setdefault(context, []).append(included)

    def find(
        self, context: str, exten: str, priority: int = 0, label: str = "",
        _stack: list[str] | None = None,
    ) -> Entry | None:  # fmt: skip
        """``pbx_find_extension``: own extensions in order, then the includes."""
        stack = [] if _stack is None else _stack
        if context in stack:
            return None
        for name, steps in self.contexts.get(context, []):
            if not extension_match(name, exten):
                continue
            for e in steps:
                if (label and e.label == label) or (not label and e.priority == priority):
                    return e
        stack.append(context)
        for included in self.includes.get(context, []):
            found = self.find(included, exten, priority, label, stack)
            if found is not None:
                return found
        return None

    def run(
        self, *, caller: str, did: str, at: datetime, empty_queues: Collection[str] = ()
    ) -> Outcome:
        """A call from the trunk: ``[from-trunk]`` includes ``[hotline-routing]``."""
        context, exten, priority = "hotline-routing", did, 1
        if self.find(context, exten, priority) is None:
            return Outcome("reject")
        variables: dict[str, str] = {}

        def done(action: str, mailbox: str | None = None) -> Outcome:
            return Outcome(action, {k.lstrip("_"): v for k, v in variables.items()}, mailbox)

        for _ in range(1000):
            e = self.find(context, exten, priority)
            assert e is not None, f"fell off the dialplan at {context},{exten},{priority}"
            data = e.data if e.app == "GotoIf" else _expand(e.data, variables, caller)
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
                # ast_explicit_goto: an empty extension keeps the channel's; the
                # channel's buffer (ast_channel_exten_set) cuts a longer one.
                context = parts[0]
                exten = (parts[1] or exten)[: AST_MAX_EXTENSION - 1]
                priority = 1
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
                target = self.find(context, exten, label=jump)
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
