"""The catalogue's pure parts: a county's hotlines and opening hours from the rules."""

from __future__ import annotations

from datetime import date

from cti.public.catalogue import HoursLine, hotlines_for, opening_hours, upcoming_holidays
from cti.routing.rules import parse

RULES = parse(
    {
        "default_county": "north",
        "dids": [
            {"did": "9615601", "county": "north"},
            {"did": "9615602", "county": "south"},
            {"did": "9615600"},
            {"did": "+869615609", "county": "south"},
        ],
        "counties": [
            {
                "county": "south",
                "timezone": "Asia/Shanghai",
                "hours": [
                    {"days": ["sat", "sun"], "start": "09:00", "end": "12:00"},
                    {"days": ["fri", "mon", "tue", "wed", "thu"], "start": "08:00", "end": "20:00"},
                ],
                "holidays": ["2026-12-01", "2027-01-01", "2026-12-25"],
            }
        ],
    }
)


def test_hotlines():
    assert hotlines_for(RULES, "south") == ("9615602", "+869615609")
    assert hotlines_for(RULES, "north") == ("9615601", "9615600"), "the default takes shared DIDs"
    assert hotlines_for(RULES, "east") == ()


def test_hours_in_weekday_order_and_none_without_any():
    assert opening_hours(RULES, "south") == (
        HoursLine(("mon", "tue", "wed", "thu", "fri"), "08:00", "20:00"),
        HoursLine(("sat", "sun"), "09:00", "12:00"),
    )
    assert opening_hours(RULES, "north") is None


def test_upcoming_holidays_only():
    assert upcoming_holidays(RULES, "south", date(2026, 12, 7)) == (
        date(2026, 12, 25),
        date(2027, 1, 1),
    )
    assert upcoming_holidays(RULES, "north", date(2026, 12, 7)) == ()
