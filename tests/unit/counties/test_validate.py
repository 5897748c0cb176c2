"""What an admin types about a county or a catalogue entry, checked without a database.

Hostile input tried: dialplan punctuation and brackets in codes and queues, queue names of
queues.conf sections, paths and made-up zones as time zones, numbers out of the database's
ranges, control characters in names, unknown and deactivated categories."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cti.counties.validate import (
    FormErrors,
    check_category,
    check_code_and_queue,
    check_settings,
    delete_refusal,
    moved,
    retire_refusal,
)
from cti.routing.rules import RuleErrors, check, check_timezone
from tests.unit.routing.sample import CATALOG

TEMPLATES = frozenset({"county-template", "county-north-members"})
COUNTIES = {"north": "county-north", "south": "county-south"}
KNOWN = {"family": True, "legal": False}
GOOD = {
    "name": "Lake County",
    "time_zone": "Asia/Shanghai",
    "auto_dispatch": "on",
    "accept_within_minutes": "30",
    "finish_within_hours": "48",
    "categories": ["family"],
}


def settings_errors(**change) -> dict[str, str]:
    with pytest.raises(FormErrors) as info:
        check_settings(**{**GOOD, **change}, known_categories=KNOWN)
    return info.value.fields


def test_good_settings_are_kept_as_typed_and_typed():
    s = check_settings(**{**GOOD, "name": "  Lake <b>County</b> "}, known_categories=KNOWN)
    assert (s.name, s.time_zone, s.auto_dispatch) == ("Lake <b>County</b>", "Asia/Shanghai", True)
    assert (s.accept_within_minutes, s.finish_within_hours) == (30, 48)
    assert s.categories == frozenset({"family"})
    assert not check_settings(**{**GOOD, "auto_dispatch": ""}, known_categories=KNOWN).auto_dispatch


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"time_zone": "../../etc/passwd"}, "time_zone", "a time zone name"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "unknown time zone Mars/Olympus"),
        ({"time_zone": "Asia/Shanghai;Dial"}, "time_zone", "a time zone name"),
        ({"time_zone": ""}, "time_zone", "a time zone name"),
        ({"accept_within_minutes": "4"}, "accept_within_minutes", "from 5 to 10080"),
        ({"accept_within_minutes": "10081"}, "accept_within_minutes", "from 5 to 10080"),
        ({"accept_within_minutes": "٣٠"}, "accept_within_minutes", "a whole number"),
        ({"finish_within_hours": "0"}, "finish_within_hours", "from 1 to 2160"),
        ({"finish_within_hours": "9" * 40}, "finish_within_hours", "from 1 to 2160"),
        ({"auto_dispatch": "maybe"}, "auto_dispatch", "tick the box"),
        ({"name": " "}, "name", "required"),
        ({"name": "x" * 121}, "name", "at most 120"),
        ({"name": "North\x00"}, "name", "no control characters"),
        ({"categories": ["atlantis"]}, "categories", "no catalogue category 'atlantis'"),
        ({"categories": ["legal"]}, "categories", "is deactivated"),
    ],
)
def test_bad_settings_are_refused_on_their_field(change, field, words):
    errors = settings_errors(**change)
    assert set(errors) == {field} and words in errors[field]


def test_a_deactivated_category_may_stay_where_it_was_offered():
    s = check_settings(
        **{**GOOD, "categories": ["legal"]}, known_categories=KNOWN, offered={"legal"}
    )
    assert s.categories == frozenset({"legal"})


@pytest.mark.parametrize(
    ("code", "queue", "field", "words"),
    [
        ("north;Dial", "county-x", "code", "a county code"),
        ("x,1", "county-x", "code", "a county code"),
        ("North", "county-x", "code", "a county code"),
        ("north", "county-x", "code", "already a county 'north'"),
        ("lake", "county-north", "queue", "another county's"),
        ("lake", "hotline-central", "queue", "already a queue of queues.conf"),
        ("lake", "general", "queue", "the routing cannot render this queue"),
        ("lake", "county-template", "queue", "the routing cannot render this queue"),
        ("lake", "q]\n[evil", "queue", "a queue name"),
        ("lake", "", "queue", "a queue name"),
    ],
)
def test_a_new_code_and_queue_must_fit_the_routing(code, queue, field, words):
    with pytest.raises(FormErrors) as info:
        check_code_and_queue(
            code,
            queue,
            counties=COUNTIES,
            extra_queues={"hotline-central"},
            templates=TEMPLATES,
        )
    assert words in info.value.fields[field]


def test_a_new_county_the_routing_renders():
    assert check_code_and_queue(
        "lake", "county-lake", counties=COUNTIES, extra_queues=(), templates=TEMPLATES
    ) == ("lake", "county-lake")


def test_in_use_counties_are_retired_not_deleted_and_routed_ones_not_retired():
    assert delete_refusal({}) is None and delete_refusal({"county_categories": 3}) is None
    assert delete_refusal({"calls": 2, "tickets": 1}) == (
        "this county is in use (calls: 2, tickets: 1): it can only be retired"
    )
    assert retire_refusal({"calls": 2, "users": 1}) is None
    assert "routing DID rules: 1" in retire_refusal({"routing_dids": 1, "calls": 5})


def test_catalogue_codes_and_moves():
    assert check_category("garden", "Garden", parent=None, taken=set()) == "garden"
    assert check_category("hedges", "Hedges", parent="garden", taken=set()) == "garden.hedges"
    for bad in ("Garden", "x;y", "a.b", "", "9lives"):
        with pytest.raises(FormErrors):
            check_category(bad, "Name", parent=None, taken=set())
    with pytest.raises(FormErrors) as info:
        check_category("nanny", "Nanny", parent="family", taken={"family.nanny"})
    assert "already" in info.value.fields["code"]
    assert moved([1, 2, 3], 3, "up") == [1, 3, 2]
    assert moved([1, 2, 3], 1, "up") == [1, 2, 3] and moved([1, 2, 3], 3, "down") == [1, 2, 3]
    with pytest.raises(FormErrors):
        moved([1, 2], 1, "sideways")


def test_the_routing_refuses_a_retired_county_and_its_queue():
    retired = replace(CATALOG, retired=frozenset({"east"}))
    with pytest.raises(RuleErrors) as info:
        check(
            {
                "default_county": "east",
                "dids": [{"did": "1", "county": "east"}],
                "counties": [
                    {
                        "county": "north",
                        "overflow_queue": "county-east",
                        "overflow_when_empty": True,
                    }
                ],
            },
            retired,
        )
    assert info.value.fields == {
        "default_county": "county 'east' is retired: choose another county, or un-retire it",
        "dids.0.county": "county 'east' is retired: choose another county, or un-retire it",
        "counties.0.overflow_queue": (
            "queue 'county-east' is a retired county's: choose another queue"
        ),
    }
    assert "east" not in retired.active_counties and "county-east" not in retired.queues
    assert retired.counties["east"] == "county-east"  # still rendered


def test_check_timezone_is_the_routing_zone_check():
    assert check_timezone("Europe/Paris", "tz") == "Europe/Paris"
    for bad in ("Mars/Olympus", "../../etc/passwd", 7, None):
        with pytest.raises(RuleErrors) as info:
            check_timezone(bad, "tz")
        assert set(info.value.fields) == {"tz"}
