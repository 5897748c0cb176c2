"""Validation: what is accepted, and the field-level error for each thing refused."""

from __future__ import annotations

import copy

import pytest

from cti.routing.rules import RuleErrors, check, check_number
from tests.unit.routing.sample import CATALOG, SEEDED, rich


def errors_of(data) -> dict[str, str]:
    with pytest.raises(RuleErrors) as info:
        check(data, CATALOG)
    return info.value.fields


def test_the_seeded_and_the_rich_rule_sets_are_valid():
    assert len(check(SEEDED, CATALOG).dids) == 4
    rules = check(rich(), CATALOG)
    assert rules.counties[0].hours[0].days == ("mon", "tue", "wed", "thu", "fri")


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (lambda d: d["dids"].append({"did": "9615601", "county": "east"}), "dids.4.did", "already"),
        (
            lambda d: d["dids"].append({"did": "777", "county": "nowhere"}),
            "dids.4.county",
            "no county",
        ),
        (lambda d: d["dids"][0].update(did="96 15601"), "dids.0.did", "digits only"),
        (lambda d: d["dids"][0].update(did=9615601), "dids.0.did", "text value"),
        (lambda d: d["dids"][0].update(did="1" * 21), "dids.0.did", "digits only"),
        (lambda d: d["dids"][0].update(did="++1"), "dids.0.did", "digits only"),
        (lambda d: d["dids"][0].update(did="123\n"), "dids.0.did", "digits only"),
        (lambda d: d.update(default_county=None), "dids.2.county", "default county"),
        (
            lambda d: d["prefixes"].append({"prefix": "138", "county": "east"}),
            "prefixes.6.prefix",
            "already",
        ),
        (
            lambda d: d["prefixes"].append({"prefix": "139", "county": "east", "did": "555"}),
            "prefixes.6.did",
            "no DID rule",
        ),
        (
            lambda d: d["counties"][0].update(timezone="Mars/Olympus"),
            "counties.0.timezone",
            "unknown time zone",
        ),
        (
            lambda d: d["counties"][0].update(timezone="UTC+8"),
            "counties.0.timezone",
            "time zone name",
        ),
        (
            lambda d: d["counties"][0].update(timezone=None),
            "counties.0.timezone",
            "need a time zone",
        ),
        (
            lambda d: d["counties"][0]["hours"][0].update(start="25:00"),
            "counties.0.hours.0.start",
            "HH:MM",
        ),
        (
            lambda d: d["counties"][0]["hours"][0].update(end="07:00"),
            "counties.0.hours.0.end",
            "later than",
        ),
        (
            lambda d: d["counties"][0]["hours"][0].update(days=["mon", "mon"]),
            "counties.0.hours.0.days",
            "twice",
        ),
        (
            lambda d: d["counties"][0]["hours"][0].update(days=["moon"]),
            "counties.0.hours.0.days.0",
            "Input should be",
        ),
        (
            lambda d: d["counties"][0].update(holidays=["2027-02-30"]),
            "counties.0.holidays",
            "not a valid date",
        ),
        (
            lambda d: d["counties"][0].update(after_hours=None),
            "counties.0.after_hours",
            "after-hours action",
        ),
        (
            lambda d: d["counties"][0]["after_hours"].update(mailbox=None),
            "counties.0.after_hours.mailbox",
            "needs a mailbox",
        ),
        (
            lambda d: d["counties"][0]["after_hours"].update(mailbox="10a"),
            "counties.0.after_hours.mailbox",
            "mailbox number",
        ),
        (
            lambda d: d["counties"][1]["after_hours"].update(queue="nope"),
            "counties.1.after_hours.queue",
            "no queue",
        ),
        (
            lambda d: d["counties"][1]["after_hours"].update(queue="county-south"),
            "counties.1.after_hours.queue",
            "another",
        ),
        (
            lambda d: d["counties"][0].update(overflow_queue="county-north"),
            "counties.0.overflow_queue",
            "another queue",
        ),
        (
            lambda d: d["counties"][0].update(overflow_after_s=2),
            "counties.0.overflow_after_s",
            "greater than",
        ),
        (
            lambda d: d["counties"][3].update(overflow_queue=None),
            "counties.3.overflow_queue",
            "choose the queue",
        ),
        (
            lambda d: d["counties"].append({"county": "west"}),
            "counties.4.county",
            "already has settings",
        ),
        (lambda d: d["dids"][0].update(note="x"), "dids.0.note", "unknown field"),
    ],
)
def test_each_mistake_is_refused_with_an_error_on_its_field(change, path, words):
    data = copy.deepcopy(rich())
    change(data)
    fields = errors_of(data)
    assert path in fields, fields
    assert words in fields[path], fields[path]


def test_every_error_of_a_kind_is_reported_at_once():
    """Characters and shapes are checked first (all of them), then references."""
    data = rich()
    data["dids"][0]["did"] = "x"
    data["counties"][0]["timezone"] = "UTC+8"
    data["counties"][0]["hours"][0]["start"] = "8h"
    assert set(errors_of(data)) == {"dids.0.did", "counties.0.timezone", "counties.0.hours.0.start"}
    data = rich()
    data["prefixes"][0]["county"] = "mars"
    data["counties"][0]["timezone"] = "Nowhere/Land"
    data["dids"].append({"did": "9615601"})
    assert set(errors_of(data)) == {"prefixes.0.county", "counties.0.timezone", "dids.4.did"}


def test_simulator_numbers_are_digits_only():
    assert check_number("+8613800138000", "caller") == "+8613800138000"
    for bad in ("", "1;2", "12 3", "١٢٣", "1" * 21, None, 5):
        with pytest.raises(RuleErrors):
            check_number(bad, "caller")
