"""What an admin types about a county or a catalogue entry, checked (pure, no I/O).

County codes, queue names and time zones end up in dialplan and queues.conf, so they are
checked with the routing editor's own whitelist and messages (``cti.routing.rules``) and a
new queue with the routing's own renderer (``cti.routing.queues.render_queues``): a county
added here is one the routing can render and apply. Names are stored verbatim and shown
as text; only control characters and lengths are refused. Every refusal is a
``FormErrors`` naming the form field, the way the page shows it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from cti.routing.queues import QueuesError, render_queues
from cti.routing.rules import PATTERN_MESSAGES, timezone_problem
from cti.store.counties import CODE_PATTERN, QUEUE_PATTERN

#: The ``counties`` check constraints (migration 0007): the deadlines a company gets.
ACCEPT_MINUTES = (5, 10080)
FINISH_HOURS = (1, 2160)
#: The ``county_service_levels`` check constraints (migrations 0011, 0017).
SERVICE_LEVEL_S = (1, 600)
WAITING_ABOVE = (0, 999)
LONGEST_WAIT_S = (5, 3600)
NAME_MAX = 120
#: Catalogue codes: ``family`` for a category, ``family.nanny`` for an item under it.
CATEGORY_CODE_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
ITEM_CODE_PATTERN = r"^[a-z][a-z0-9_]{0,30}$"

_CODE = re.compile(CODE_PATTERN)
_QUEUE = re.compile(QUEUE_PATTERN)
_CATEGORY_CODE = re.compile(CATEGORY_CODE_PATTERN)
_ITEM_CODE = re.compile(ITEM_CODE_PATTERN)
_DIGITS = re.compile(r"[0-9]{1,6}")
_CHECKED = {"on": True, "true": True, "yes": True, "": False, "false": False, "off": False}


class FormErrors(ValueError):
    """The form was refused; ``fields`` maps a form field to what is wrong with it."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        self.fields = dict(fields)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.fields.items()))


@dataclass(frozen=True, slots=True)
class CountySettings:
    """What the county page edits (code and queue are fixed once the county exists)."""

    name: str
    time_zone: str
    auto_dispatch: bool
    accept_within_minutes: int
    finish_within_hours: int
    #: Codes of the top-level catalogue categories the centre arranges in the county.
    categories: frozenset[str]


@dataclass(frozen=True, slots=True)
class WallboardSettings:
    """The county's wallboard: the service-level N (the reports use the same) and its
    alerts (``None`` / ``False``: that alert is off)."""

    answer_within_s: int = 20
    alert_waiting_above: int | None = None
    alert_longest_wait_s: int | None = None
    alert_no_agent: bool = False
    alert_email: bool = False


@dataclass(frozen=True, slots=True)
class NewCounty:
    code: str
    queue: str
    settings: CountySettings


def name_problem(value: str) -> str | None:
    if not value:
        return "required"
    if len(value) > NAME_MAX:
        return f"at most {NAME_MAX} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "no control characters (line breaks, tabs...)"
    return None


def _whole(value: str, bounds: tuple[int, int], unit: str) -> tuple[int | None, str | None]:
    low, high = bounds
    text = value.strip()
    if not _DIGITS.fullmatch(text) or not low <= int(text) <= high:
        return None, f"a whole number of {unit} from {low} to {high}"
    return int(text), None


def check_settings(
    *,
    name: str,
    time_zone: str,
    auto_dispatch: str,
    accept_within_minutes: str,
    finish_within_hours: str,
    categories: Iterable[str],
    known_categories: Mapping[str, bool],
    offered: Collection[str] = (),
) -> CountySettings:
    """The county's settings from the form, or ``FormErrors``. ``known_categories`` maps
    each top-level catalogue code to whether it is active: an inactive one may stay offered
    (``offered``: what the county offers now) but not be added."""
    errors: dict[str, str] = {}
    clean = name.strip()
    if problem := name_problem(clean):
        errors["name"] = problem
    zone = time_zone.strip()
    if problem := timezone_problem(zone):
        errors["time_zone"] = problem
    auto = _CHECKED.get(auto_dispatch.strip().lower())
    if auto is None:
        errors["auto_dispatch"] = "tick the box or leave it empty"
    accept, problem = _whole(accept_within_minutes, ACCEPT_MINUTES, "minutes")
    if problem:
        errors["accept_within_minutes"] = problem
    finish, problem = _whole(finish_within_hours, FINISH_HOURS, "hours")
    if problem:
        errors["finish_within_hours"] = problem
    chosen = set(categories)
    for code in sorted(chosen):
        if code not in known_categories:
            errors.setdefault("categories", f"no catalogue category {code[:64]!r}")
        elif not known_categories[code] and code not in offered:
            errors.setdefault("categories", f"category {code!r} is deactivated")
    if errors:
        raise FormErrors(errors)
    assert auto is not None and accept is not None and finish is not None
    return CountySettings(clean, zone, auto, accept, finish, frozenset(chosen))


def check_wallboard(
    *,
    answer_within_s: str,
    alert_waiting_above: str,
    alert_longest_wait_s: str,
    alert_no_agent: str,
    alert_email: str,
) -> WallboardSettings:
    """The county's wallboard settings from the form, or ``FormErrors``. An empty
    threshold turns that alert off; the service level is required."""
    errors: dict[str, str] = {}
    sl, problem = _whole(answer_within_s, SERVICE_LEVEL_S, "seconds")
    if problem:
        errors["answer_within_s"] = problem
    limits: dict[str, int | None] = {}
    for name, value, bounds, unit in (
        ("alert_waiting_above", alert_waiting_above, WAITING_ABOVE, "calls"),
        ("alert_longest_wait_s", alert_longest_wait_s, LONGEST_WAIT_S, "seconds"),
    ):
        limits[name] = None
        if value.strip():
            limits[name], problem = _whole(value, bounds, unit)
            if problem:
                errors[name] = f"{problem}, or empty for no alert"
    flags: dict[str, bool] = {}
    for name, value in (("alert_no_agent", alert_no_agent), ("alert_email", alert_email)):
        flag = _CHECKED.get(value.strip().lower())
        if flag is None:
            errors[name] = "tick the box or leave it empty"
        flags[name] = bool(flag)
    if errors:
        raise FormErrors(errors)
    assert sl is not None
    return WallboardSettings(
        sl,
        limits["alert_waiting_above"],
        limits["alert_longest_wait_s"],
        flags["alert_no_agent"],
        flags["alert_email"],
    )


def check_code_and_queue(
    code: str,
    queue: str,
    *,
    counties: Mapping[str, str],
    extra_queues: Collection[str],
    templates: frozenset[str],
) -> tuple[str, str]:
    """A new county's code and queue, or ``FormErrors``. ``counties`` maps the existing
    codes to their queues, ``extra_queues`` are the other queues of queues.conf and
    ``templates`` its templates (``cti.routing.queues.main_templates``): the new queue must
    be one the routing renders into queues_counties.conf next to the others."""
    errors: dict[str, str] = {}
    if not _CODE.fullmatch(code):
        errors["code"] = PATTERN_MESSAGES[CODE_PATTERN]
    elif code in counties:
        errors["code"] = f"there is already a county {code!r}"
    if not _QUEUE.fullmatch(queue):
        errors["queue"] = PATTERN_MESSAGES[QUEUE_PATTERN]
    elif queue in counties.values():
        errors["queue"] = f"queue {queue!r} is another county's"
    elif queue in extra_queues:
        errors["queue"] = f"queue {queue!r} is already a queue of queues.conf"
    else:
        problem = _unrenderable(queue, frozenset(counties.values()), templates)
        if problem:
            errors["queue"] = problem
    if errors:
        raise FormErrors(errors)
    return code, queue


def _unrenderable(queue: str, existing: frozenset[str], templates: frozenset[str]) -> str | None:
    try:
        render_queues(existing, templates)
    except QueuesError:
        # queues.conf cannot take the county queues at all (routing says so on its
        # preview); that is not this name's fault.
        return None
    try:
        render_queues(existing | {queue}, templates)
    except QueuesError as exc:
        return f"the routing cannot render this queue: {exc}"
    return None


def default_queue(code: str) -> str:
    """The queue name the shipped counties follow: ``county-<code>`` (with ``_`` kept)."""
    return f"county-{code}"


def check_category(code: str, name: str, *, parent: str | None, taken: Collection[str]) -> str:
    """A new catalogue entry's full code (``parent.code`` for an item), or ``FormErrors``."""
    errors: dict[str, str] = {}
    pattern = _CATEGORY_CODE if parent is None else _ITEM_CODE
    full = code if parent is None else f"{parent}.{code}"
    if not pattern.fullmatch(code):
        errors["code"] = "lowercase letters, digits and _, starting with a letter (at most 32)"
    elif full in taken:
        errors["code"] = f"there is already a catalogue entry {full!r}"
    if problem := name_problem(name.strip()):
        errors["name"] = problem
    if errors:
        raise FormErrors(errors)
    return full


def check_category_name(name: str) -> str:
    clean = name.strip()
    if problem := name_problem(clean):
        raise FormErrors({"name": problem})
    return clean


# --- a county in use ------------------------------------------------------------------------

#: Tables of routing rules: a county one of them names is a county calls are routed to.
ROUTING_TABLES = frozenset(
    {"routing_dids", "routing_prefixes", "routing_settings", "routing_county_policies"}
)
#: The county's own configuration: deleted with it, not a use of it.
OWN_TABLES = frozenset({"county_categories", "county_service_levels", "wallboard_alerts"})
_LABELS = {
    "calls": "calls",
    "tickets": "tickets",
    "users": "users",
    "citizens": "citizens",
    "callback_requests": "callback requests",
    "recordings": "recordings",
    "company_counties": "companies serving it",
    "routing_dids": "routing DID rules",
    "routing_prefixes": "routing prefix rules",
    "routing_settings": "the routing default county",
    "routing_county_policies": "routing hours/overflow settings",
}


def describe_usage(usage: Mapping[str, int]) -> str:
    """``{"calls": 3, "tickets": 1}`` -> ``"calls: 3, tickets: 1"`` (what the page says)."""
    return ", ".join(
        f"{_LABELS.get(table, table.replace('_', ' '))}: {count}"
        for table, count in sorted(usage.items())
        if count
    )


def delete_refusal(usage: Mapping[str, int]) -> str | None:
    """Why a county cannot be deleted (``None``: nothing points at it). ``usage`` counts,
    per table, the rows that point at the county."""
    used = {t: n for t, n in usage.items() if n and t not in OWN_TABLES}
    if not used:
        return None
    return f"this county is in use ({describe_usage(used)}): it can only be retired"


def retire_refusal(usage: Mapping[str, int]) -> str | None:
    """Why a county cannot be retired now (``None``: it can): the stored routing rules
    still send calls to it, and a retired county takes none, so they must change first."""
    routing = {t: n for t, n in usage.items() if n and t in ROUTING_TABLES}
    if not routing:
        return None
    return (
        f"the routing rules still name this county ({describe_usage(routing)}): "
        "change them in County routing first"
    )


def moved(order: list[int], item: int, direction: str) -> list[int]:
    """``order`` with ``item`` one place ``up`` or ``down`` (unchanged at either end)."""
    if direction not in ("up", "down") or item not in order:
        raise FormErrors({"direction": "move an entry up or down"})
    i = order.index(item)
    j = i - 1 if direction == "up" else i + 1
    out = list(order)
    if 0 <= j < len(out):
        out[i], out[j] = out[j], out[i]
    return out
