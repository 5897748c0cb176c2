"""Number normalisation over real-world forms (as Asterisk delivers them) and hostile input."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cti.numbers import INVALID, WITHHELD, Number, NumberKind, NumberPlan, normalise, normalise_key

CN = NumberPlan()  # China: +86, trunk 0, access 00 (the traces' numbering)


@pytest.mark.parametrize(
    ("raw", "key", "kind"),
    [
        # mobile, as the traces deliver it, in every prefix form
        ("13800138000", "13800138000", NumberKind.NATIONAL),
        ("+8613800138000", "13800138000", NumberKind.NATIONAL),
        ("008613800138000", "13800138000", NumberKind.NATIONAL),
        ("+86 138 0013 8000", "13800138000", NumberKind.NATIONAL),
        ("138-0013-8000", "13800138000", NumberKind.NATIONAL),
        # landline with trunk prefix and area code (capture2: 05515550123)
        ("05515550123", "5515550123", NumberKind.NATIONAL),
        ("+865515550123", "5515550123", NumberKind.NATIONAL),
        ("+86 0551 5550123", "5515550123", NumberKind.NATIONAL),  # trunk 0 wrongly kept
        ("(0551) 555-0123", "5515550123", NumberKind.NATIONAL),
        ("5515550123", "5515550123", NumberKind.NATIONAL),
        # another country keeps its code behind +
        ("+4420794601234", "+4420794601234", NumberKind.INTERNATIONAL),
        ("004420794601234", "+4420794601234", NumberKind.INTERNATIONAL),
        # service codes and extensions stay as dialled
        ("12345", "12345", NumberKind.SERVICE),
        ("1001", "1001", NumberKind.SERVICE),
        ("0110", "0110", NumberKind.SERVICE),
    ],
)
def test_real_world_forms(raw, key, kind):
    assert normalise(raw, CN) == Number(key, kind)


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "anonymous",
        "Anonymous",
        "unknown",
        "<unknown>",
        "restricted",
        "private",
        "withheld",
        "unavailable",
    ],
)
def test_withheld_forms(raw):
    assert normalise(raw, CN) is WITHHELD or normalise(raw, CN) == WITHHELD
    assert normalise_key(raw, CN) == ""


@pytest.mark.parametrize(
    "raw",
    [
        "sip:13800138000@gw",  # a URI, not a number
        "1380013800a",
        "'; DROP TABLE calls; --",
        "<img src=x onerror=alert(1)>",
        "138\x00138",
        "138\n00138000",
        "+",
        "00",
        "+86",
        "+86 12",  # too short after the country code
        "1" * 21,
        "9" * 10_000,
        "١٣٨٠٠١٣٨٠٠٠",  # Arabic-Indic digits: isdigit() but not ASCII
        "${CALLERID(num)}",
        "13800138000,1",
    ],
)
def test_hostile_input_is_invalid_never_an_exception(raw):
    assert normalise(raw, CN) == INVALID


def test_other_country_plan():
    uk = NumberPlan(country_code="44", trunk_prefix="0", international_prefix="00")
    assert normalise("02079460123", uk) == Number("2079460123", NumberKind.NATIONAL)
    assert normalise("+442079460123", uk).key == "2079460123"
    assert normalise("+8613800138000", uk).key == "+8613800138000"


def test_plan_rejects_non_digits():
    with pytest.raises(ValueError):
        NumberPlan(country_code="+86")
    with pytest.raises(ValueError):
        NumberPlan(country_code="")


@given(st.text(max_size=64))
def test_any_text_normalises_to_digits_or_nothing(raw):
    number = normalise(raw, CN)
    assert number.key == "" or number.key.lstrip("+").isdigit()
    assert number.key.isascii()
    assert len(number.key) <= 21


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_every_form_of_a_mobile_collapses_to_one_key(mobile):
    forms = [mobile, "+86" + mobile, "0086" + mobile, "+86 " + mobile[:3] + " " + mobile[3:]]
    assert {normalise_key(form, CN) for form in forms} == {mobile}
