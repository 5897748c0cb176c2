"""Routing rules as data, and their validation (pure: no database, no files).

A ``RuleSet`` is everything that decides where a call goes:

* ``dids``: the numbers citizens dial. Each DID names its county, or none: then the
  caller's number prefix decides, else the default county.
* ``prefixes``: caller-number prefix -> county, for every DID or for one DID only.
* ``default_county``: the county of a DID without one, when no prefix matched.
* ``counties``: per-county opening hours (time zone, weekly windows, holidays) with an
  after-hours action, and overflow (no logged-in agent, or a wait limit) to another queue.

Precedence (the same in the simulator and in the dialplan, see ``decide.py``): the
longest of this DID's own prefixes that the caller's number extends; else the longest
all-DIDs prefix; else the DID's own county; else the default county. A DID-specific prefix
beats every all-DIDs prefix, even a longer one. Two rules that could claim the same call
at the same precedence (the same DID twice, the same prefix twice for the same DID or
twice for all DIDs) are rejected, so no two rules are ambiguous.

Everything here ends up in dialplan text, so every value is checked against a strict
whitelist before it is accepted: digits (a leading ``+`` for numbers), county codes and
queue names of ``cti.store.counties`` patterns, IANA time zone names, ``HH:MM`` times.
``check`` returns the rule set or raises ``RuleErrors`` with one message per field path
(``prefixes.3.prefix``), the way the admin page shows them next to the field.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from cti.store.counties import CODE_PATTERN, QUEUE_PATTERN

#: A DID or a caller prefix: digits, optionally one leading "+", at most 20 characters.
NUMBER_PATTERN = r"^\+?[0-9]{1,20}$"
MAILBOX_PATTERN = r"^[0-9]{1,10}$"
#: IANA names only, letters and "_" with "/" between parts (no "+", "-", ",", "?").
TIMEZONE_PATTERN = r"^[A-Za-z_]{1,32}(/[A-Za-z_]{1,32}){0,2}$"
START_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
END_PATTERN = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

MAX_RULES = 20_000
MAX_WINDOWS = 14
MAX_HOLIDAYS = 400
MIN_WAIT_S, MAX_WAIT_S = 5, 3600

_NUMBER = re.compile(NUMBER_PATTERN)
_CODE = re.compile(CODE_PATTERN)
_QUEUE = re.compile(QUEUE_PATTERN)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DidRule(_Strict):
    did: StrictStr = Field(pattern=NUMBER_PATTERN)
    county: StrictStr | None = Field(default=None, pattern=CODE_PATTERN)


class PrefixRule(_Strict):
    prefix: StrictStr = Field(pattern=NUMBER_PATTERN)
    county: StrictStr = Field(pattern=CODE_PATTERN)
    #: Only for calls to this DID; None: for every DID.
    did: StrictStr | None = Field(default=None, pattern=NUMBER_PATTERN)


class Window(_Strict):
    days: tuple[Weekday, ...] = Field(min_length=1, max_length=7)
    start: StrictStr = Field(pattern=START_PATTERN)
    end: StrictStr = Field(pattern=END_PATTERN)

    @field_validator("days")
    @classmethod
    def _unique_days(cls, days: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(days)) != len(days):
            raise ValueError("a weekday is listed twice")
        return tuple(sorted(days, key=WEEKDAYS.index))

    @property
    def start_minute(self) -> int:
        return minutes(self.start)

    @property
    def end_minute(self) -> int:
        return minutes(self.end)


class AfterHours(_Strict):
    action: Literal["voicemail", "callback", "queue"]
    mailbox: StrictStr | None = Field(default=None, pattern=MAILBOX_PATTERN)
    queue: StrictStr | None = Field(default=None, pattern=QUEUE_PATTERN)


class CountyPolicy(_Strict):
    county: StrictStr = Field(pattern=CODE_PATTERN)
    timezone: StrictStr | None = Field(default=None, pattern=TIMEZONE_PATTERN)
    hours: tuple[Window, ...] = Field(default=(), max_length=MAX_WINDOWS)
    holidays: tuple[date, ...] = Field(default=(), max_length=MAX_HOLIDAYS)
    after_hours: AfterHours | None = None
    overflow_queue: StrictStr | None = Field(default=None, pattern=QUEUE_PATTERN)
    overflow_when_empty: StrictBool = False
    overflow_after_s: StrictInt | None = Field(default=None, ge=MIN_WAIT_S, le=MAX_WAIT_S)

    @field_validator("holidays", mode="before")
    @classmethod
    def _holiday_strings(cls, value: Any) -> Any:
        # JSON carries dates as "YYYY-MM-DD"; strict mode would refuse the string.
        if isinstance(value, list | tuple):
            out = []
            for item in value:
                if isinstance(item, str):
                    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", item):
                        raise ValueError("holidays are dates, YYYY-MM-DD")
                    try:
                        item = date.fromisoformat(item)
                    except ValueError:
                        raise ValueError(f"{item} is not a valid date") from None
                elif not isinstance(item, date):
                    # A list or object in the list is not hashable: let the date check
                    # refuse it by its position instead of failing in set() below.
                    return value
                out.append(item)
            return tuple(sorted(set(out)))
        return value

    @property
    def has_hours(self) -> bool:
        return bool(self.hours)

    @property
    def has_overflow(self) -> bool:
        return self.overflow_queue is not None and (
            self.overflow_when_empty or self.overflow_after_s is not None
        )


class RuleSet(_Strict):
    default_county: StrictStr | None = Field(default=None, pattern=CODE_PATTERN)
    dids: tuple[DidRule, ...] = Field(default=(), max_length=MAX_RULES)
    prefixes: tuple[PrefixRule, ...] = Field(default=(), max_length=MAX_RULES)
    counties: tuple[CountyPolicy, ...] = Field(default=(), max_length=1000)

    def as_data(self) -> dict[str, Any]:
        """Plain JSON-able data (what export writes and import reads back)."""
        return self.model_dump(mode="json", exclude_defaults=False)


@dataclass(frozen=True, slots=True)
class Catalog:
    """What rules may refer to: county code -> its queue, plus other known queues (for
    example a central queue defined in queues.conf)."""

    counties: Mapping[str, str]
    extra_queues: frozenset[str] = field(default_factory=frozenset)
    #: Mailboxes of the ``hotline`` context of voicemail.conf; ``None``: not checked (no
    #: configuration folder to read). An after-hours mailbox must be one of them, so the
    #: rendered VoiceMail() never names a mailbox Asterisk does not have.
    mailboxes: frozenset[str] | None = None
    #: Codes of retired counties (``counties.retired_at``): still in ``counties`` (their
    #: queue is still rendered, so nothing already waiting in it is cut off), but no rule
    #: may send a call to them or to their queue.
    retired: frozenset[str] = field(default_factory=frozenset)

    @property
    def queues(self) -> frozenset[str]:
        """The queues a rule may send calls to (not a retired county's)."""
        return frozenset(self.active_counties.values()) | self.extra_queues

    @property
    def active_counties(self) -> dict[str, str]:
        """County code -> queue of the counties a rule may name (not retired)."""
        return {code: q for code, q in self.counties.items() if code not in self.retired}


class RuleErrors(ValueError):
    """The rules were refused; ``fields`` maps a field path to what is wrong with it."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields = dict(fields)
        first = next(iter(self.fields.items()), ("", "invalid"))
        super().__init__(f"{len(self.fields)} error(s); {first[0]}: {first[1]}")


def minutes(hhmm: str) -> int:
    hours, _, mins = hhmm.partition(":")
    return int(hours) * 60 + int(mins)


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


_TIMEZONE = re.compile(TIMEZONE_PATTERN)


def timezone_problem(value: str) -> str | None:
    """What is wrong with an IANA time zone name (``None``: fine). The one check of a zone
    name, for the rules below and for a county's own zone (``cti.counties``)."""
    if not _TIMEZONE.fullmatch(value):
        return PATTERN_MESSAGES[TIMEZONE_PATTERN]
    if value not in _zones():
        return f"unknown time zone {value}"
    return None


def check_timezone(value: Any, name: str) -> str:
    """A time zone name typed by an admin; raises ``RuleErrors`` with ``name`` as field."""
    problem = (
        timezone_problem(value) if isinstance(value, str) else PATTERN_MESSAGES[TIMEZONE_PATTERN]
    )
    if problem is not None:
        raise RuleErrors({name: problem})
    return value


def _path(loc: Iterable[Any]) -> str:
    return ".".join(str(part) for part in loc) or "rules"


#: What each whitelist pattern asks for, as the admin reads it next to the field.
PATTERN_MESSAGES: Mapping[str, str] = {
    NUMBER_PATTERN: "digits only (a leading + allowed), 1 to 20 of them",
    CODE_PATTERN: "a county code: lowercase letters, digits and _",
    QUEUE_PATTERN: "a queue name: lowercase letters, digits, _ and -",
    MAILBOX_PATTERN: "a mailbox number: 1 to 10 digits",
    TIMEZONE_PATTERN: "a time zone name such as Asia/Shanghai",
    START_PATTERN: "a time HH:MM between 00:00 and 23:59",
    END_PATTERN: "a time HH:MM between 00:01 and 24:00",
}


def error_fields(errors: Iterable[Mapping[str, Any]], skip: int = 0) -> dict[str, str]:
    """Field path -> message for pydantic errors of a ``RuleSet`` (never the value sent);
    ``skip`` drops leading parts of each path (FastAPI's ``body``)."""
    fields: dict[str, str] = {}
    for error in errors:
        fields.setdefault(_path(tuple(error["loc"])[skip:]), _message(error))
    return fields


def _message(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern", "")
        return PATTERN_MESSAGES.get(pattern, "has characters that are not allowed")
    if kind == "string_type":
        return "must be a text value (quote numbers in YAML)"
    if kind == "extra_forbidden":
        return "unknown field"
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


def parse(data: Any) -> RuleSet:
    """Shape and character checks only; raises ``RuleErrors``."""
    try:
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        raise RuleErrors(error_fields(exc.errors())) from None


def check(data: Any, catalog: Catalog) -> RuleSet:
    """Parse ``data`` and check it against ``catalog``: known counties and queues, no
    duplicate or ambiguous rule, consistent hours and overflow. Returns the ``RuleSet``
    or raises ``RuleErrors`` listing every problem found."""
    rules = data if isinstance(data, RuleSet) else parse(data)
    errors: dict[str, str] = {}
    counties = catalog.counties
    queues = catalog.queues
    retired_queues = {counties[code] for code in catalog.retired if code in counties}

    def no_queue(name: str) -> str:
        if name in retired_queues:
            return f"queue {name!r} is a retired county's: choose another queue"
        return f"no queue {name!r}"

    def county(path: str, code: str | None) -> None:
        if code is not None and code not in counties:
            errors.setdefault(path, f"no county {code!r}")
        elif code is not None and code in catalog.retired:
            errors.setdefault(
                path, f"county {code!r} is retired: choose another county, or un-retire it"
            )

    county("default_county", rules.default_county)

    seen_did: dict[str, int] = {}
    for i, rule in enumerate(rules.dids):
        county(f"dids.{i}.county", rule.county)
        if rule.did in seen_did:
            errors[f"dids.{i}.did"] = (
                f"DID {rule.did} already has a rule (dids.{seen_did[rule.did]})"
            )
        else:
            seen_did[rule.did] = i
        if rule.county is None and rules.default_county is None:
            errors.setdefault(
                f"dids.{i}.county", "choose a county, or set a default county for this DID"
            )

    seen_prefix: dict[tuple[str, str | None], int] = {}
    for i, rule in enumerate(rules.prefixes):
        county(f"prefixes.{i}.county", rule.county)
        if rule.did is not None and rule.did not in seen_did:
            errors[f"prefixes.{i}.did"] = f"DID {rule.did} has no DID rule"
        key = (rule.prefix, rule.did)
        if key in seen_prefix:
            scope = f"DID {rule.did}" if rule.did else "all DIDs"
            errors[f"prefixes.{i}.prefix"] = (
                f"prefix {rule.prefix} for {scope} is already a rule (prefixes.{seen_prefix[key]})"
            )
        else:
            seen_prefix[key] = i

    seen_policy: dict[str, int] = {}
    for i, policy in enumerate(rules.counties):
        base = f"counties.{i}"
        county(f"{base}.county", policy.county)
        if policy.county in seen_policy:
            errors[f"{base}.county"] = f"county {policy.county} already has settings"
        seen_policy.setdefault(policy.county, i)
        own_queue = counties.get(policy.county)
        if (policy.hours or policy.holidays) and policy.timezone is None:
            errors[f"{base}.timezone"] = "opening hours need a time zone"
        if policy.timezone is not None and (problem := timezone_problem(policy.timezone)):
            errors[f"{base}.timezone"] = problem
        if policy.holidays and not policy.hours:
            errors[f"{base}.hours"] = "holidays need opening hours"
        for j, window in enumerate(policy.hours):
            if window.end_minute <= window.start_minute:
                errors[f"{base}.hours.{j}.end"] = "must be later than the start"
        if policy.hours and policy.after_hours is None:
            errors[f"{base}.after_hours"] = "opening hours need an after-hours action"
        if policy.after_hours is not None:
            action = policy.after_hours
            if not policy.hours:
                errors[f"{base}.after_hours"] = "an after-hours action needs opening hours"
            if action.action == "voicemail" and action.mailbox is None:
                errors[f"{base}.after_hours.mailbox"] = "voicemail needs a mailbox"
            elif (
                action.mailbox is not None
                and catalog.mailboxes is not None
                and action.mailbox not in catalog.mailboxes
            ):
                errors[f"{base}.after_hours.mailbox"] = (
                    f"no mailbox {action.mailbox} in the hotline context of voicemail.conf"
                )
            if action.action != "voicemail" and action.mailbox is not None:
                errors[f"{base}.after_hours.mailbox"] = "only voicemail takes a mailbox"
            if action.action == "queue":
                if action.queue is None:
                    errors[f"{base}.after_hours.queue"] = "choose the queue to send calls to"
                elif action.queue not in queues:
                    errors[f"{base}.after_hours.queue"] = no_queue(action.queue)
                elif action.queue == own_queue:
                    errors[f"{base}.after_hours.queue"] = "must be another county's queue"
            elif action.queue is not None:
                errors[f"{base}.after_hours.queue"] = "only the queue action takes a queue"
        wants_overflow = policy.overflow_when_empty or policy.overflow_after_s is not None
        if policy.overflow_queue is not None:
            if policy.overflow_queue not in queues:
                errors[f"{base}.overflow_queue"] = no_queue(policy.overflow_queue)
            elif policy.overflow_queue == own_queue:
                errors[f"{base}.overflow_queue"] = "must be another queue than the county's own"
            if not wants_overflow:
                errors[f"{base}.overflow_queue"] = (
                    "say when to overflow: no agent logged in, or a wait limit"
                )
        elif wants_overflow:
            errors[f"{base}.overflow_queue"] = "choose the queue to overflow to"
    if errors:
        raise RuleErrors(errors)
    return rules


def check_number(value: Any, name: str) -> str:
    """A DID or caller number typed into the simulator: digits and a leading + only."""
    if not isinstance(value, str) or not _NUMBER.fullmatch(value):
        raise RuleErrors({name: "digits only (a leading + allowed), 1 to 20 of them"})
    return value
