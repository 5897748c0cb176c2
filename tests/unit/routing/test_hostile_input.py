"""Hostile values in every field never reach the dialplan: each is refused with an error
on that field. Tried: newline, CR, ";", ",", ")", "(", "${", "$[", "&", "|", '"', "'",
"\\", "/", "@", "!", "?", NUL, spaces, tabs, unicode digits and letters (Arabic-Indic,
fullwidth, RTL marks, emoji), very long values, and generated text around them."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.routing.decide import compile_table
from cti.routing.render import ALLOWED, RenderError, render
from cti.routing.rules import CountyPolicy, DidRule, PrefixRule, RuleErrors, RuleSet, check
from tests.unit.routing.sample import CATALOG, rich

NASTY = [
    "9615601\n[evil]", "9615601\r\nexten => 666,1,Dial(PJSIP/x)", "961;5601", "961,5601",
    "9615601)", "${SHELL(id)}", "$[1+1]", "1&2", "1|2", '"1"', "'1'", "1\\n", "1/2", "1@x",
    "1!", "1?", "1\x00", " 123", "123 ", "1\t2", "١٢٣", "１２３", "12\u200f3", "1😀",
    "9" * 21, "9" * 10_000, "north\n", "north;", "North", "nörth", "n" * 33,
    "county-north)", "county-north,1", "Asia/Shanghai?open", "Asia/Shanghai,*",
    "../../etc/passwd", "Asia/Shang hai", "08:00\n", "8:00", "08:00-09:00", "24:01",
]  # fmt: skip


def _after(i: int, key: str):
    return lambda d, v: d["counties"][i]["after_hours"].update({key: v})


FIELDS = [
    ("dids.0.did", lambda d, v: d["dids"][0].update(did=v)),
    ("dids.0.county", lambda d, v: d["dids"][0].update(county=v)),
    ("default_county", lambda d, v: d.update(default_county=v)),
    ("prefixes.0.prefix", lambda d, v: d["prefixes"][0].update(prefix=v)),
    ("prefixes.0.county", lambda d, v: d["prefixes"][0].update(county=v)),
    ("prefixes.2.did", lambda d, v: d["prefixes"][2].update(did=v)),
    ("counties.0.county", lambda d, v: d["counties"][0].update(county=v)),
    ("counties.0.timezone", lambda d, v: d["counties"][0].update(timezone=v)),
    ("counties.0.hours.0.start", lambda d, v: d["counties"][0]["hours"][0].update(start=v)),
    ("counties.0.hours.0.end", lambda d, v: d["counties"][0]["hours"][0].update(end=v)),
    ("counties.0.hours.0.days.0", lambda d, v: d["counties"][0]["hours"][0].update(days=[v])),
    ("counties.0.holidays", lambda d, v: d["counties"][0].update(holidays=[v])),
    ("counties.0.after_hours.mailbox", _after(0, "mailbox")),
    ("counties.1.after_hours.queue", _after(1, "queue")),
    ("counties.0.overflow_queue", lambda d, v: d["counties"][0].update(overflow_queue=v)),
    ("counties.0.after_hours.action", _after(0, "action")),
]  # fmt: skip


def refused_on(path: str, setter, value) -> None:
    data = copy.deepcopy(rich())
    setter(data, value)
    with pytest.raises(RuleErrors) as info:
        check(data, CATALOG)
    fields = info.value.fields
    assert any(p == path or p.startswith(path + ".") for p in fields), (path, value, fields)
    for message in fields.values():  # errors name the problem, they do not echo input
        assert "\n" not in message


@pytest.mark.parametrize("value", NASTY, ids=range(len(NASTY)))
@pytest.mark.parametrize(("path", "setter"), FIELDS, ids=[p for p, _ in FIELDS])
def test_a_hostile_value_in_any_field_is_refused_on_that_field(path, setter, value):
    refused_on(path, setter, value)


SPECIALS = "\n\r;,()$[]{}&|\"'\\/@!?\x00 \t\u200f\u202e"
HOSTILE = st.builds(
    lambda head, special, tail: head + special + tail,
    st.text(alphabet="0123456789+abcdefghijklmnopqrstuvwxyz:-_", max_size=12),
    st.text(alphabet=SPECIALS, min_size=1, max_size=4)
    | st.text(min_size=1, max_size=3).filter(
        lambda s: any(not (c.isascii() and (c.isalnum() or c in "+:-_")) for c in s)
    ),
    st.text(max_size=12),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(FIELDS), value=HOSTILE)
def test_generated_hostile_values_are_refused(field, value):
    path, setter = field
    refused_on(path, setter, value)


@settings(max_examples=200, deadline=None)
@given(value=st.text(min_size=1, max_size=40))
def test_whatever_is_accepted_renders_only_whitelisted_characters(value):
    """Any text in the DID and prefix fields: either refused, or (digits) rendered clean."""
    data = rich()
    data["dids"].append({"did": value, "county": "west"})
    data["prefixes"].append({"prefix": value, "county": "north", "did": None})
    try:
        rules = check(data, CATALOG)
    except RuleErrors:
        return
    text = render(compile_table(rules, CATALOG)).text
    assert set(text) <= ALLOWED


@pytest.mark.parametrize(
    "rules",
    [
        RuleSet.model_construct(
            default_county=None,
            dids=(DidRule.model_construct(did="1\n[x]", county="north"),),
            prefixes=(),
            counties=(),
        ),
        RuleSet.model_construct(
            default_county=None,
            dids=(DidRule.model_construct(did="123", county="north"),),
            prefixes=(PrefixRule.model_construct(prefix="1,2", county="north", did=None),),
            counties=(),
        ),
        RuleSet.model_construct(
            default_county=None,
            dids=(DidRule.model_construct(did="123", county="north"),),
            prefixes=(),
            counties=(
                CountyPolicy.model_construct(
                    county="north",
                    timezone=None,
                    hours=(),
                    holidays=(),
                    after_hours=None,
                    overflow_queue="x)",
                    overflow_when_empty=True,
                    overflow_after_s=None,
                ),
            ),
        ),
    ],
    ids=["did", "prefix", "queue"],
)
def test_the_renderer_refuses_unchecked_values_itself(rules):
    """Defence in depth: values that skipped validation still cannot be rendered."""
    with pytest.raises(RenderError):
        render(compile_table(rules, CATALOG))
