"""The order form's checks (pure): every field, the phone normalised like a caller ID,
the preferred day and slot as a window in the county's zone.

Hostile input tried: markup and quotes (kept verbatim), CR/LF in a one-line field, NUL in
the description, a 5001-character description, a phone of letters, a SIP URI as phone,
a withheld-style phone ("anonymous"), a short code, an invalid date, a date in the past
and past the horizon, an unknown slot, a county code with SQL in it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cti.numbers import NumberPlan
from cti.public.orders import OrderInvalid, check_order, preferred_window

TODAY = date(2026, 12, 7)
PLAN = NumberPlan()


def form(**changes):
    data = {
        "category": "maintenance.water",
        "county": "north",
        "address": "12 <b>Elm</b> Road",
        "description": 'Leak under the sink "urgent" <script>alert(1)</script>',
        "name": "Zhang O'Brien",
        "phone": "+86 139-0013-8000",
        "preferred_date": "",
        "preferred_slot": "",
    }
    data.update(changes)
    return data


def errors_of(**changes) -> dict[str, str]:
    with pytest.raises(OrderInvalid) as caught:
        check_order(form(**changes), PLAN, today=TODAY)
    return caught.value.errors


def test_a_good_order_is_kept_verbatim_with_the_phone_normalised():
    order = check_order(form(), PLAN, today=TODAY)
    assert order.description == 'Leak under the sink "urgent" <script>alert(1)</script>'
    assert order.address == "12 <b>Elm</b> Road" and order.name == "Zhang O'Brien"
    assert order.phone == "13900138000" and order.phone_raw == "+86 139-0013-8000"
    assert order.preferred_date is None


@pytest.mark.parametrize(
    ("phone", "key"),
    [
        ("013900138000", "13900138000"),
        ("0086 139 0013 8000", "13900138000"),
        ("+44 20 7946 0000", "+442079460000"),
    ],
)
def test_every_form_of_a_number_is_one_key(phone, key):
    assert check_order(form(phone=phone), PLAN, today=TODAY).phone == key


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"phone": "call me"}, {"phone": "e_phone"}),
        ({"phone": "sip:100@evil"}, {"phone": "e_phone"}),
        ({"phone": "anonymous"}, {"phone": "e_phone"}),
        ({"phone": "110"}, {"phone": "e_phone"}),
        ({"phone": ""}, {"phone": "e_required"}),
        ({"name": "Bob\r\nX-Header: 1"}, {"name": "e_text"}),
        ({"description": "a\x00b"}, {"description": "e_text"}),
        ({"description": "x" * 5001}, {"description": "e_too_long"}),
        ({"description": "   "}, {"description": "e_required"}),
        ({"county": "north'; DROP TABLE tickets; --"}, {"county": "e_county"}),
        ({"category": ""}, {"category": "e_required"}),
        ({"preferred_date": "2026-13-01"}, {"preferred_date": "e_date"}),
        ({"preferred_date": "2026-12-06"}, {"preferred_date": "e_date"}),
        ({"preferred_date": "2027-06-01"}, {"preferred_date": "e_date"}),
        ({"preferred_date": "tomorrow"}, {"preferred_date": "e_date"}),
        ({"preferred_slot": "midnight"}, {"preferred_slot": "e_slot"}),
    ],
)
def test_refused_fields(changes, expected):
    assert errors_of(**changes) == expected


def test_every_wrong_field_is_named_at_once():
    assert set(errors_of(name="", phone="x", description="")) == {"name", "phone", "description"}


def test_multiline_text_is_allowed_where_it_belongs():
    order = check_order(form(description="line 1\nline 2\ttab"), PLAN, today=TODAY)
    assert order.description == "line 1\nline 2\ttab"


def test_preferred_window_in_the_countys_zone():
    start, end = preferred_window(date(2026, 12, 8), "morning", "Asia/Shanghai")
    assert start.astimezone(UTC) == datetime(2026, 12, 8, 0, 0, tzinfo=UTC)
    assert end.astimezone(UTC) == datetime(2026, 12, 8, 4, 0, tzinfo=UTC)
    start, end = preferred_window(date(2026, 12, 8), "", "UTC")
    assert (end - start).total_seconds() == 24 * 3600
    assert preferred_window(None, "morning", "UTC") == (None, None)
    start, _ = preferred_window(date(2026, 12, 8), "evening", "Not/AZone")
    assert start.utcoffset().total_seconds() == 0
