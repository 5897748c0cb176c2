"""Phone number normalisation: one stored form for every way Asterisk delivers a number.

Asterisk hands us caller numbers exactly as the trunk sent them (see the traces:
``+8613800138000``, ``05515550123``, ``13800138000``, ``anonymous``). Citizens are looked up
by number, so every form of the same line must collapse to one key. The stored form is the
*national significant number* in digits only (no trunk prefix, no country code), because the
hotline is national and that is what agents read out and type. A number from another country
keeps its country code behind a ``+`` so it can never collide with a national one.

Pure functions only: no I/O, no settings lookup. Callers pass the country's parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

#: Longest number we accept as a phone number (ITU-T E.164 allows 15 digits, plus room
#: for an international access prefix and a trunk prefix).
MAX_DIGITS = 20

#: What Asterisk and SIP trunks send for a caller that withholds their number.
_WITHHELD = frozenset(
    {"anonymous", "restricted", "private", "withheld", "unavailable", "unknown", "<unknown>"}
)

# Separators people and trunks put inside numbers; anything else (control characters,
# newlines, tabs, letters) makes the value invalid.
_SEPARATORS = re.compile(r"[ \-.()/]")


class NumberKind(StrEnum):
    NATIONAL = "national"
    INTERNATIONAL = "international"
    SERVICE = "service"  # short codes, internal extensions: kept as dialled
    WITHHELD = "withheld"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class NumberPlan:
    """The dialling conventions of the country the hotline runs in.

    Defaults are China's (the traces' numbers): country code 86, trunk prefix 0, access
    prefix 00, mobile numbers are 11 digits starting with 1.
    """

    country_code: str = "86"
    trunk_prefix: str = "0"
    international_prefix: str = "00"
    #: National numbers shorter than this are service codes / extensions, kept as dialled.
    min_national_length: int = 7

    def __post_init__(self) -> None:
        for name in ("country_code", "trunk_prefix", "international_prefix"):
            value = getattr(self, name)
            if value and not value.isdigit():
                raise ValueError(f"{name} must be digits, got {value!r}")
        if not self.country_code:
            raise ValueError("country_code must not be empty")


@dataclass(frozen=True, slots=True)
class Number:
    """A normalised number. ``key`` is what is stored and looked up ("" when there is none)."""

    key: str
    kind: NumberKind

    @property
    def is_lookupable(self) -> bool:
        return self.kind in (NumberKind.NATIONAL, NumberKind.INTERNATIONAL, NumberKind.SERVICE)


WITHHELD = Number("", NumberKind.WITHHELD)
INVALID = Number("", NumberKind.INVALID)


def normalise(raw: str | None, plan: NumberPlan = NumberPlan()) -> Number:  # noqa: B008
    """Normalise what Asterisk delivered as a caller number into its stored form.

    Promises: never raises on any input; returns ``WITHHELD`` for empty/anonymous forms,
    ``INVALID`` for anything that is not a phone number (letters, SIP URIs, control
    characters, absurd lengths), and otherwise a digits-only national key or ``+CC...``.
    """
    if raw is None:
        return WITHHELD
    text = raw.strip()
    if not text or text.lower() in _WITHHELD:
        return WITHHELD
    if len(text) > MAX_DIGITS * 2:  # a 10 kB "number" is not worth scanning
        return INVALID
    text = _SEPARATORS.sub("", text)
    plus = text.startswith("+")
    if plus:
        text = text[1:]
    if not text or not text.isascii() or not text.isdigit() or len(text) > MAX_DIGITS:
        return INVALID

    if plus:
        international = text
    elif plan.international_prefix and text.startswith(plan.international_prefix):
        international = text[len(plan.international_prefix) :]
    else:
        international = None

    if international is not None:
        if not international:
            return INVALID
        if international.startswith(plan.country_code):
            national = international[len(plan.country_code) :]
            # "+86 0551..." is a common mistake: the trunk prefix does not belong after +CC.
            if plan.trunk_prefix and national.startswith(plan.trunk_prefix):
                national = national[len(plan.trunk_prefix) :]
            if len(national) < plan.min_national_length:
                return INVALID
            return Number(national, NumberKind.NATIONAL)
        return Number("+" + international, NumberKind.INTERNATIONAL)

    if plan.trunk_prefix and text.startswith(plan.trunk_prefix):
        national = text[len(plan.trunk_prefix) :]
        if len(national) >= plan.min_national_length:
            return Number(national, NumberKind.NATIONAL)
        return Number(text, NumberKind.SERVICE)
    if len(text) >= plan.min_national_length:
        return Number(text, NumberKind.NATIONAL)
    return Number(text, NumberKind.SERVICE)


def normalise_key(raw: str | None, plan: NumberPlan = NumberPlan()) -> str:  # noqa: B008
    """The stored/looked-up key for ``raw`` ("" when withheld or invalid)."""
    return normalise(raw, plan).key
