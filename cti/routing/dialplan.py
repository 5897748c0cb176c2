"""The routing dialplan as Asterisk 22 holds it, and the check that the live one is ours.

Two pure readers build the same model, and ``first_difference`` compares them:

* ``from_text`` reads ``extensions_routing.conf`` as written by ``render`` (what should
  be live);
* ``from_show_dialplan`` reads the ``ListDialplan`` events of an AMI ``ShowDialPlan``
  (what is live).

What ``ShowDialPlan`` reports, from main/pbx.c ``manager_show_dialplan_helper`` (Asterisk
22): for every context (``ast_walk_contexts``), first one ``ListDialplan`` per priority
of every extension, in the order of ``ast_walk_context_extensions`` then
``ast_walk_extension_priorities``, with ``Context``, ``Extension`` (``ast_get_extension_name``:
the name only -- the caller-ID match is never sent; only the CLI's ``dialplan show``,
``show_dialplan_helper``, prints ``(CID match '...')``), ``ExtensionLabel`` (only when the
priority has a label), ``Priority`` (``hint`` for a hint, which has no ``AppData``),
``Application``, ``AppData`` and ``Registrar``; then one ``ListDialplan`` per include
in the context's order (``Context``, ``IncludeContext``, ``Registrar``), one per ignore
pattern (``IgnorePattern``) and one per switch (``Switch``). A context with nothing in it
is not reported at all. ``ShowDialPlanComplete`` carries ``ListItems`` (every
``ListDialplan`` sent).

The routing include uses no caller-ID match (``exten => name/cid``), the one part of an
extension ``ShowDialPlan`` does not send: the caller's number is matched as an
extension name (``cti.routing.render``). So everything that decides a call is compared:
the context names, the extension names in the order ``ast_add_extension2_lockopt`` keeps
them (``ext_cmp``; the expected model is sorted the same way and the comparison is
positional), every priority, label, application and argument, and the includes in order.
A text with a caller-ID match is refused by ``from_text``; one added live shows as an
extra extension of the same name.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cti.ami.protocol import AmiMessage, first

#: main/pbx.c: the priority of a hint (``PRIORITY_HINT``); ShowDialPlan says "hint".
PRIORITY_HINT = -1


class DialplanTextError(ValueError):
    """The text is not the dialplan subset ``render`` writes."""


@dataclass(frozen=True, slots=True)
class Step:
    """One priority of an extension."""

    priority: int
    label: str | None
    app: str
    data: str

    def show(self) -> str:
        number = "hint" if self.priority == PRIORITY_HINT else str(self.priority)
        label = f"({self.label})" if self.label else ""
        return f"{number}{label},{self.app}({self.data})"


@dataclass(frozen=True, slots=True)
class Extension:
    name: str
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Context:
    name: str
    #: In the order Asterisk keeps and reports them.
    extensions: tuple[Extension, ...] = ()
    #: ``include =>``, in the order written (the order they are searched).
    includes: tuple[str, ...] = ()
    #: Ignore patterns, switches and items of unknown shape (read live only; never rendered).
    others: tuple[str, ...] = ()

    @property
    def reportable(self) -> bool:
        """Would ``ShowDialPlan`` list anything for this context?"""
        return bool(self.extensions or self.includes or self.others)


Dialplan = dict[str, Context]


# --- main/pbx.c: ext_cmp_pattern_pos / ext_cmp_pattern / ext_cmp_exten / ext_cmp ---------

_PATTERN_END = 0x30000


def _pattern_pos(pattern: str, i: int) -> tuple[int, bytes, int]:
    """``ext_cmp_pattern_pos``: the score and character-set bitmap of the position at
    ``i`` and the index after it (``-1`` once the pattern has ended)."""
    while True:
        bits = bytearray(32)
        while i < len(pattern) and pattern[i] == "-":
            i += 1
        if i >= len(pattern):
            return _PATTERN_END, bytes(bits), -1
        c = pattern[i]
        i += 1
        if c in "nN":
            bits[6], bits[7] = 0x3F, 0xC0
            return 0x0800 | ord("2"), bytes(bits), i
        if c in "xX":
            bits[6], bits[7] = 0xFF, 0xC0
            return 0x0A00 | ord("0"), bytes(bits), i
        if c in "zZ":
            bits[6], bits[7] = 0x7F, 0xC0
            return 0x0900 | ord("1"), bytes(bits), i
        if c == ".":
            return 0x18000, bytes(bits), i
        if c == "!":
            return 0x28000, bytes(bits), i
        if c != "[":
            code = ord(c) & 0xFF
            bits[code // 8] = 1 << (7 - code % 8)
            return 0x0100 | code, bytes(bits), i
        end = pattern.find("]", i)
        if end < 0:
            return 0x40000, bytes(bits), -1
        count, cmin = 0, 0xFF
        while i < end:
            c1 = c2 = ord(pattern[i]) & 0xFF
            if i + 2 < end and pattern[i + 1] == "-":
                c2 = ord(pattern[i + 2]) & 0xFF
                i += 2
            cmin = min(cmin, c1)
            for o in range(c1, c2 + 1):
                mask = 1 << (7 - o % 8)
                if not bits[o // 8] & mask:
                    bits[o // 8] |= mask
                    count += 0x100
            i += 1
        i += 1
        if count:  # an empty set is skipped
            return count | cmin, bytes(bits), i


def _ext_cmp_pattern(left: str, right: str) -> int:
    li = ri = 0
    while True:
        lscore, lbits, li = _pattern_pos(left, li)
        rscore, rbits, ri = _pattern_pos(right, ri)
        cmp = lscore - rscore
        if not cmp:
            cmp = (rbits > lbits) - (rbits < lbits)  # memcmp(right, left)
        if cmp or li < 0:
            return cmp


def ext_cmp(left: str, right: str) -> int:
    """``ext_cmp``: plain extensions before patterns; plain ones by character (``-`` is
    ignored), patterns position by position, the more specific first."""
    if not left.startswith("_"):
        if right.startswith("_"):
            return -1
        a, b = left.replace("-", ""), right.replace("-", "")
        return (a > b) - (a < b)
    if not right.startswith("_"):
        return 1
    return _ext_cmp_pattern(left[1:], right[1:])


# --- the rendered text ----------------------------------------------------------------------

_CONTEXT = re.compile(r"^\[(?P<name>[A-Za-z0-9_-]+)\]$")
_INCLUDE = re.compile(r"^include => (?P<name>[A-Za-z0-9_-]+)$")
_STEP = re.compile(
    r"^(?:exten => (?P<name>[^,/\s]+),1|\s+same => n)"
    r"(?:\((?P<label>[A-Za-z0-9_-]+)\))?,(?P<app>[A-Za-z0-9_]+)\((?P<data>.*)\)$"
)


def from_text(text: str) -> Dialplan:
    """The dialplan a file written by ``render`` defines, in the order Asterisk keeps it:
    contexts in the order written, each context's extensions sorted as
    ``ast_add_extension2_lockopt`` sorts them (``ext_cmp``), includes in the order
    written. Raises ``DialplanTextError`` on a line that is not in the subset ``render``
    writes (a caller-ID match among them) and on an extension written twice."""
    steps: dict[str, dict[str, list[Step]]] = {}
    includes: dict[str, list[str]] = {}
    context: str | None = None
    name: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith(";"):
            continue
        if match := _CONTEXT.match(line):
            context, name = match["name"], None
            steps.setdefault(context, {})
            includes.setdefault(context, [])
            continue
        if context is None:
            raise DialplanTextError(f"line {number} is outside any context: {line[:80]!r}")
        if match := _INCLUDE.match(line):
            includes[context].append(match["name"])
            continue
        match = _STEP.match(line)
        if match is None:
            raise DialplanTextError(f"line {number} is not routing dialplan: {line[:80]!r}")
        if match["name"] is not None:
            name = match["name"]
            if name in steps[context]:
                raise DialplanTextError(f"line {number}: extension {name} is written twice")
            chain = steps[context][name] = []
            priority = 1
        else:
            if name is None:
                raise DialplanTextError(f"line {number}: 'same' without an extension")
            chain = steps[context][name]
            priority = chain[-1].priority + 1
        chain.append(Step(priority, match["label"], match["app"], match["data"]))
    order = functools.cmp_to_key(ext_cmp)
    dialplan: Dialplan = {}
    for context_name, extens in steps.items():
        names = sorted(extens, key=order)
        for left, right in itertools.pairwise(names):
            if not ext_cmp(left, right):
                raise DialplanTextError(
                    f"[{context_name}] {left} and {right} are one extension for Asterisk"
                )
        dialplan[context_name] = Context(
            context_name,
            tuple(Extension(n, tuple(extens[n])) for n in names),
            tuple(includes[context_name]),
        )
    return dialplan


# --- the live dialplan ----------------------------------------------------------------------


def from_show_dialplan(
    items: Iterable[AmiMessage], keep: Callable[[str], bool] = lambda context: True
) -> Dialplan:
    """The dialplan in the ``ListDialplan`` events of ``ShowDialPlan``, for the contexts
    ``keep`` accepts, in the order they were sent. A new extension starts when the name
    changes or the priority does not go up (two extensions of one name, differing only by
    a caller-ID match someone added, are sent one after the other, each from its lowest
    priority: an extra extension for the comparison)."""
    extensions: dict[str, list[tuple[str, list[Step]]]] = {}
    includes: dict[str, list[str]] = {}
    others: dict[str, list[str]] = {}
    for item in items:
        context = first(item.get("Context"))
        if not keep(context):
            continue
        chains = extensions.setdefault(context, [])
        includes.setdefault(context, [])
        others.setdefault(context, [])
        if "IncludeContext" in item:
            includes[context].append(first(item["IncludeContext"]))
        elif "IgnorePattern" in item:
            others[context].append(f"ignorepat => {first(item['IgnorePattern'])}")
        elif "Switch" in item:
            others[context].append(f"switch => {first(item['Switch'])}")
        elif "Extension" in item and "Priority" in item:
            name, text = first(item["Extension"]), first(item["Priority"])
            if text == "hint":
                priority = PRIORITY_HINT
            elif text.isdigit():
                priority = int(text)
            else:
                others[context].append(f"extension {name} with priority {text!r}")
                continue
            step = Step(
                priority,
                first(item.get("ExtensionLabel")) or None,
                first(item.get("Application")),
                first(item.get("AppData")),
            )
            if not chains or chains[-1][0] != name or chains[-1][1][-1].priority >= priority:
                chains.append((name, []))
            chains[-1][1].append(step)
        else:
            shown = ", ".join(f"{k}: {first(v)}" for k, v in item.items() if k != "ActionID")
            others[context].append(f"unknown item ({shown})")
    return {
        name: Context(
            name,
            tuple(Extension(exten, tuple(chain)) for exten, chain in chains),
            tuple(includes[name]),
            tuple(others[name]),
        )
        for name, chains in extensions.items()
    }


# --- comparison ------------------------------------------------------------------------------


def _context_difference(want: Context, have: Context) -> str | None:
    where = f"[{want.name}]"
    for index, (w, h) in enumerate(zip(want.extensions, have.extensions, strict=False), 1):
        if w.name != h.name:
            return (
                f"{where} extension #{index} should be {w.name} ({w.steps[0].show()}), "
                f"live it is {h.name} ({h.steps[0].show() if h.steps else 'no priorities'})"
            )
        for ws, hs in zip(w.steps, h.steps, strict=False):
            if ws != hs:
                return (
                    f"{where} extension #{index} {w.name}: rendered {ws.show()}, live {hs.show()}"
                )
        if len(w.steps) > len(h.steps):
            return f"{where} {w.name} priority {w.steps[len(h.steps)].show()} is not live"
        if len(h.steps) > len(w.steps):
            return f"{where} {w.name} has an extra live priority {h.steps[len(w.steps)].show()}"
    if len(want.extensions) > len(have.extensions):
        w = want.extensions[len(have.extensions)]
        return (
            f"{where} extension #{len(have.extensions) + 1} {w.name} "
            f"({w.steps[0].show()}) is not live"
        )
    if len(have.extensions) > len(want.extensions):
        h = have.extensions[len(want.extensions)]
        return (
            f"{where} has an extra live extension #{len(want.extensions) + 1} {h.name} "
            f"({h.steps[0].show()})"
        )
    for index, (w_inc, h_inc) in enumerate(zip(want.includes, have.includes, strict=False), 1):
        if w_inc != h_inc:
            return f"{where} include #{index} should be {w_inc}, live it is {h_inc}"
    if len(want.includes) > len(have.includes):
        return f"{where} include => {want.includes[len(have.includes)]} is not live"
    if len(have.includes) > len(want.includes):
        return f"{where} has an extra live include => {have.includes[len(want.includes)]}"
    if have.others:
        return f"{where} has an unexpected live {have.others[0]}"
    return None


def first_difference(expected: Dialplan, live: Dialplan) -> str | None:
    """The first item where ``live`` (read with ``from_show_dialplan``) is not
    ``expected`` (read with ``from_text``), or ``None`` when they agree on everything
    ``ShowDialPlan`` reports. ``live`` should hold only the contexts the caller cares about
    (``from_show_dialplan``'s ``keep``); contexts are compared by name (Asterisk's
    context order is its own), everything inside a context by position."""
    for name, want in expected.items():
        if not want.reportable:
            continue  # ShowDialPlan does not list an empty context
        have = live.get(name)
        if have is None:
            return f"context [{name}] is not live"
        problem = _context_difference(want, have)
        if problem:
            return problem
    for name, have in live.items():
        if have.reportable and not (name in expected and expected[name].reportable):
            return f"unexpected live context [{name}]"
    return None
