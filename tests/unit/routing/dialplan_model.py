"""A small model of how Asterisk 22 runs the rendered routing include, for tests.

It reads the *text* that ``render`` wrote (not the renderer's data) and follows it the way
pbx.c would for the subset of the dialplan the renderer uses: an exact DID extension,
caller-ID extensions ``DID/_PREFIX.`` (``.`` = one or more characters; a matching
caller-ID extension beats the plain one, the one with more literal digits wins),
``Set``, ``Goto``/``GotoIf`` on labels, ``GotoIfTime(<hh:mm>-<hh:mm>,<d&d>,*,*,<zone>)``
with an inclusive end minute, the ``STRFTIME(${EPOCH},zone,%Y%m%d)`` holiday test and
``QUEUE_MEMBER(queue,logged)``. Anything else raises, so the model cannot silently skip
a construct the renderer starts to emit.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from cti.routing.render import Entry, parse_entries

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass
class Outcome:
    action: str  # queue, voicemail, callback, reject
    variables: dict[str, str] = field(default_factory=dict)
    mailbox: str | None = None


def _extensions(entries: tuple[Entry, ...]) -> dict[tuple[str, str, str | None], list[Entry]]:
    out: dict[tuple[str, str, str | None], list[Entry]] = {}
    for e in entries:
        out.setdefault((e.context, e.exten, e.cid), []).append(e)
    return out


def _cid_matches(pattern: str, caller: str) -> int | None:
    """Literal digits of ``_PREFIX.`` when ``caller`` matches it, else None."""
    assert pattern.startswith("_") and pattern.endswith("."), pattern
    prefix = pattern[1:-1]
    assert re.fullmatch(r"\+?[0-9]+", prefix), pattern
    if caller.startswith(prefix) and len(caller) > len(prefix):
        return len(prefix)
    return None


def _expand(data: str, variables: dict[str, str]) -> str:
    def value(m: re.Match[str]) -> str:
        return variables.get("__" + m[1], variables.get(m[1], ""))

    return re.sub(r"\$\{([A-Z_]+)\}", value, data)


class Dialplan:
    def __init__(self, text: str) -> None:
        self.ext = _extensions(parse_entries(text))

    def run(
        self, *, caller: str, did: str, at: datetime, empty_queues: Collection[str] = ()
    ) -> Outcome:
        candidates = [
            (cid, key) for key in self.ext if key[0] == "hotline-routing" and key[1] == did
            for cid in [key[2]]
        ]  # fmt: skip
        if not candidates:
            return Outcome("reject")
        best, best_len = None, -1
        for cid, key in candidates:
            if cid is None:
                if best is None:
                    best = key
                continue
            length = _cid_matches(cid, caller) if caller else None
            if length is not None and length > best_len:
                best, best_len = key, length
        assert best is not None
        return self._follow(best, at, empty_queues)

    def _follow(self, key, at: datetime, empty: Collection[str]) -> Outcome:
        variables: dict[str, str] = {}
        steps = self.ext[key]
        i = 0
        for _ in range(1000):
            e = steps[i]
            data = e.data if e.app == "GotoIf" else _expand(e.data, variables)
            if e.app == "Set":
                name, _, value = data.partition("=")
                variables[name] = value
            elif e.app == "NoOp" or e.app == "Answer":
                pass
            elif e.app == "Goto":
                parts = data.split(",")
                if parts == ["hotline-call", "s", "1"]:
                    return Outcome("queue", {k.lstrip("_"): v for k, v in variables.items()})
                assert len(parts) == 3 and parts[1:] == ["s", "1"], data
                key = (parts[0], "s", None)
                steps, i = self.ext[key], 0
                continue
            elif e.app == "GotoIf":
                cond, _, label = e.data.rpartition("?")
                if self._condition(cond, at, empty):
                    i = self._label(steps, label)
                    continue
            elif e.app == "GotoIfTime":
                spec, _, label = data.rpartition("?")
                times, days, mdays, months, zone = spec.split(",")
                assert (mdays, months) == ("*", "*")
                local = at.astimezone(ZoneInfo(zone))
                start, end = (int(t[:2]) * 60 + int(t[3:]) for t in times.split("-"))
                minute = local.hour * 60 + local.minute
                if DAYS[local.weekday()] in days.split("&") and start <= minute <= end:
                    i = self._label(steps, label)
                    continue
            elif e.app == "VoiceMail":
                return Outcome("voicemail", {k.lstrip("_"): v for k, v in variables.items()},
                               mailbox=data.split("@")[0])  # fmt: skip
            elif e.app == "UserEvent":
                assert data.startswith("HotlineCallbackRequest,"), data
                return Outcome("callback", {k.lstrip("_"): v for k, v in variables.items()})
            else:
                raise AssertionError(f"the model does not know {e.app}({e.data})")
            i += 1
        raise AssertionError("dialplan loop")

    @staticmethod
    def _label(steps: list[Entry], label: str) -> int:
        for j, e in enumerate(steps):
            if e.label == label:
                return j
        raise AssertionError(f"no label {label}")

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
