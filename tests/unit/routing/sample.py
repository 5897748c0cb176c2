"""Rule sets shared by the routing tests."""

from __future__ import annotations

from typing import Any

from cti.routing.rules import Catalog

CATALOG = Catalog(
    counties={
        "north": "county-north",
        "south": "county-south",
        "east": "county-east",
        "west": "county-west",
        "central": "county-central",
    },
    extra_queues=frozenset({"hotline-central"}),
)

SEEDED: dict[str, Any] = {
    "dids": [
        {"did": "9615601", "county": "north"},
        {"did": "9615602", "county": "south"},
        {"did": "9615603", "county": "east"},
        {"did": "9615604", "county": "west"},
    ]
}


def rich() -> dict[str, Any]:
    """Every feature at once: a county-less DID, global and DID-specific prefixes (nested),
    hours with holidays in two time zones, each after-hours action, both overflows."""
    return {
        "default_county": "central",
        "dids": [
            {"did": "9615601", "county": "north"},
            {"did": "9615602", "county": "south"},
            {"did": "12345"},
            {"did": "+8612345", "county": "east"},
        ],
        "prefixes": [
            {"prefix": "138", "county": "south"},
            {"prefix": "1380013", "county": "east"},
            {"prefix": "1380013", "county": "west", "did": "12345"},
            {"prefix": "+86139", "county": "west"},
            {"prefix": "0791", "county": "north", "did": "9615602"},
            # shorter than the all-DIDs 1380013, and still first for 9615602
            {"prefix": "13", "county": "west", "did": "9615602"},
        ],
        "counties": [
            {
                "county": "north",
                "timezone": "Asia/Shanghai",
                "hours": [
                    {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"},
                    {"days": ["sat"], "start": "09:30", "end": "12:00"},
                ],
                "holidays": ["2027-01-01", "2027-02-06"],
                "after_hours": {"action": "voicemail", "mailbox": "1000"},
                "overflow_queue": "county-central",
                "overflow_when_empty": True,
                "overflow_after_s": 60,
            },
            {
                "county": "south",
                "timezone": "Europe/Berlin",
                "hours": [{"days": ["mon", "wed", "fri"], "start": "00:00", "end": "24:00"}],
                "after_hours": {"action": "queue", "queue": "hotline-central"},
            },
            {
                "county": "east",
                "timezone": "America/New_York",
                "hours": [{"days": ["tue"], "start": "10:00", "end": "10:30"}],
                "after_hours": {"action": "callback"},
                "overflow_queue": "county-north",
                "overflow_after_s": 45,
            },
            {"county": "west", "overflow_queue": "county-east", "overflow_when_empty": True},
        ],
    }
