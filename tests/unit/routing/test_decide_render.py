"""The simulator (``decide``) and the dialplan (``render``) agree, call for call.

The dialplan side is not the renderer's data: ``dialplan_model.Dialplan`` reads the
rendered *text* back and runs it the way Asterisk would. A generated table of callers x
DIDs x times (holidays, window edges, both sides of midnight in three time zones, queues
with and without agents) must give the same county, queue and action both ways.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.routing.decide import compile_table, decide
from cti.routing.render import parse_entries, parse_includes, render
from cti.routing.rules import check
from tests.unit.routing.dialplan_model import Dialplan, ext_cmp, extension_match
from tests.unit.routing.sample import CATALOG, SEEDED, rich

ROOT = __import__("pathlib").Path(__file__).resolve().parents[3]

CALLERS = [
    "", "138", "1380", "13800138000", "1380013", "13800130", "+8613900139000", "+86139",
    "07911234567", "0791", "15012345678", "+8613800138000", "1390013",
    # what FILTER(0123456789+,...) cleans: withheld, separators, letters, a long number
    "anonymous", "Anonymous", "-", "138-0013-8000", "+86 139 0013 9000", "0791,1234",
    "1380013" + "9" * 100, "+", "1+380013", "c138", "_138.",
]  # fmt: skip
DIDS = ["9615601", "9615602", "12345", "+8612345", "9615609", "1234"]


def times() -> list[datetime]:
    base = [
        datetime(2027, 1, 1, 3, 0, tzinfo=UTC),  # holiday in Shanghai (11:00 local)
        datetime(2027, 1, 4, 0, 0, tzinfo=UTC),  # Monday 08:00 Shanghai: opens
        datetime(2027, 1, 3, 23, 59, tzinfo=UTC),  # Monday 07:59 Shanghai: not yet
        datetime(2027, 1, 4, 9, 59, tzinfo=UTC),  # 17:59 Shanghai: last open minute
        datetime(2027, 1, 4, 10, 0, tzinfo=UTC),  # 18:00 Shanghai: closed
        datetime(2027, 1, 9, 1, 30, tzinfo=UTC),  # Saturday 09:30 Shanghai
        datetime(2027, 1, 5, 15, 0, tzinfo=UTC),  # Tuesday 10:00 New York
        datetime(2027, 1, 5, 15, 30, tzinfo=UTC),  # Tuesday 10:30 New York: closed
        datetime(2027, 1, 4, 22, 59, tzinfo=UTC),  # Monday 23:59 Berlin
        datetime(2027, 1, 4, 23, 0, tzinfo=UTC),  # Tuesday 00:00 Berlin: closed
        datetime(2027, 2, 6, 12, 0, tzinfo=UTC),
    ]
    return base + [base[1] + timedelta(hours=h) for h in range(0, 168, 7)]


def both(rules_data, *, caller, did, at, empty=()):
    rules = check(rules_data, CATALOG)
    table = compile_table(rules, CATALOG)
    decision = decide(table, caller=caller, did=did, at=at, empty_queues=empty)
    outcome = Dialplan(render(table).text).run(caller=caller, did=did, at=at, empty_queues=empty)
    return decision, outcome


def assert_agree(decision, outcome):
    assert decision.action == outcome.action
    if decision.action == "reject":
        return
    assert outcome.variables["COUNTY"] == decision.county
    assert outcome.variables["DID"] == decision.did
    if decision.action == "queue":
        assert outcome.variables["COUNTY_QUEUE"] == decision.queue
        assert outcome.variables.get("CTI_QUEUE_WAIT") == (
            str(decision.overflow_after_s) if decision.overflow_after_s else None
        )
        assert outcome.variables.get("CTI_OVERFLOW_QUEUE") == decision.overflow_queue
    if decision.action == "voicemail":
        assert outcome.mailbox == decision.mailbox


@pytest.mark.parametrize("empty", [(), ("county-north", "county-west")], ids=["staffed", "empty"])
def test_simulator_and_rendered_dialplan_agree_on_a_table_of_calls(empty):
    data = rich()
    rules = check(data, CATALOG)
    table = compile_table(rules, CATALOG)
    dialplan = Dialplan(render(table).text)
    seen = set()
    for caller, did, at in itertools.product(CALLERS, DIDS, times()):
        decision = decide(table, caller=caller, did=did, at=at, empty_queues=empty)
        assert_agree(decision, dialplan.run(caller=caller, did=did, at=at, empty_queues=empty))
        seen.add((decision.action, decision.rule))
    # the table reaches every kind of answer, so the agreement is not vacuous
    assert {action for action, _ in seen} == {"queue", "voicemail", "callback", "reject"}
    assert {rule for _, rule in seen} >= {
        "dids.0", "dids.1", "dids.3", "default_county",
        "prefixes.0", "prefixes.1", "prefixes.2", "prefixes.3", "prefixes.4", "prefixes.5",
    }  # fmt: skip


def test_precedence_did_prefix_then_all_dids_prefix_then_did_then_default():
    at = datetime(2027, 1, 4, 2, 0, tzinfo=UTC)
    table = compile_table(check(rich(), CATALOG), CATALOG)

    def rule(caller, did):
        return decide(table, caller=caller, did=did, at=at).rule

    assert rule("13800138000", "9615601") == "prefixes.1"  # 1380013 beats 138
    assert rule("13800138000", "12345") == "prefixes.2"  # DID-specific 1380013 beats global
    assert rule("13812345678", "12345") == "prefixes.0"
    assert rule("1380013", "9615601") == "prefixes.0"  # a prefix needs a longer caller
    assert rule("15012345678", "12345") == "default_county"
    assert rule("", "9615601") == "dids.0"  # anonymous
    assert rule("07911234567", "9615601") == "dids.0"  # 0791 is only for 9615602
    assert rule("07911234567", "9615602") == "prefixes.4"
    # a DID's own prefix beats every all-DIDs prefix, even a longer one
    assert rule("13800138000", "9615602") == "prefixes.5"  # own 13, not all-DIDs 1380013
    assert rule("131", "9615602") == "prefixes.5"
    assert rule("13", "9615602") == "dids.1"  # 13 needs a longer caller
    assert rule("+8613900139000", "9615602") == "prefixes.3"  # no own prefix matches
    assert decide(table, caller="1", did="999", at=at).action == "reject"


def test_the_seeded_rules_render_the_shipped_include_exactly():
    rendered = render(compile_table(check(SEEDED, CATALOG), CATALOG))
    assert rendered.text == (ROOT / "asterisk_conf" / "extensions_routing.conf").read_text()
    assert parse_entries(rendered.text) == rendered.entries
    # no prefix rule: every DID goes straight to its county, the caller ID is not read
    assert rendered.contexts == (
        "hotline-routing", "hotline-county-east", "hotline-county-north",
        "hotline-county-south", "hotline-county-west",
    )  # fmt: skip
    assert rendered.includes == () == parse_includes(rendered.text)
    assert "CALLERID" not in rendered.text


def test_rendering_is_deterministic_and_order_independent():
    data = rich()
    first = render(compile_table(check(data, CATALOG), CATALOG)).text
    data["dids"].reverse()
    data["counties"].reverse()
    again = render(compile_table(check(data, CATALOG), CATALOG)).text
    assert first == again


CALLER = st.one_of(
    st.just(""),
    st.text(alphabet="0123456789", min_size=1, max_size=16),
    st.sampled_from(["138", "1380013", "+86139", "0791"]).flatmap(
        lambda p: st.text(alphabet="0123456789", max_size=8).map(lambda s: p + s)
    ),
    # what the trunk may send besides digits: FILTER keeps digits and "+" only
    st.text(alphabet="0123456789+- cnxzNXZ_.!/,$", max_size=24),
)


@settings(max_examples=300, deadline=None)
@given(
    caller=CALLER,
    did=st.sampled_from(DIDS),
    at=st.datetimes(
        min_value=datetime(2026, 12, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
    ),
    empty=st.sets(st.sampled_from(sorted(CATALOG.queues))),
)
def test_simulator_and_dialplan_agree_on_generated_calls(caller, did, at, empty):
    assert_agree(*both(rich(), caller=caller, did=did, at=at, empty=frozenset(empty)))


def test_the_model_orders_extensions_as_pbx_c_does():
    """ast_add_extension2_lockopt keeps ext_cmp order: plain names before patterns; among
    patterns, position by position, a literal before a set, a set before '.', so a
    longer prefix before a shorter one; '+' (0x2B) before the digits."""
    import functools

    names = ["_c.", "_c138.", "c", "_c1380013.", "_c+86139.", "_c13.", "9615601", "_cX."]
    assert sorted(names, key=functools.cmp_to_key(ext_cmp)) == [
        "9615601", "c", "_c+86139.", "_c1380013.", "_c138.", "_c13.", "_cX.", "_c.",
    ]  # fmt: skip


def test_the_marker_is_a_literal_and_n_x_z_are_not():
    """Why "c": in a pattern N, X, Z are digit classes in either case, any other letter is
    a literal (compared case-sensitively), '.' needs one more character."""
    assert extension_match("_c138.", "c1385") and not extension_match("_c138.", "C1385")
    assert not extension_match("_c138.", "c138")  # the whole number is not "longer"
    assert extension_match("_n138.", "21385") and not extension_match("_n138.", "n1385")
    assert extension_match("_x1.", "012") and extension_match("_Z1.", "912")
    assert extension_match("c", "c") and not extension_match("_c.", "c")
    assert extension_match("_c.", "c+") and extension_match("_c+86.", "c+861")


CALLS_COUNTY = (
    "[hotline-county-south]\nexten => s,1,Set(__COUNTY=south)\n same => n,Goto(hotline-call,s,1)\n"
    "[hotline-county-north]\nexten => s,1,Set(__COUNTY=north)\n same => n,Goto(hotline-call,s,1)\n"
)  # fmt: skip
JUMP = (
    "exten => 1,1,Set(__DID=1)\n"
    " same => n,Goto(x,{}${{FILTER(0123456789+,${{CALLERID(num)}})}},1)\n"
)
AT = datetime(2027, 1, 4, tzinfo=UTC)


def test_why_the_fallback_is_an_include_and_the_number_has_a_marker():
    # A catch-all among a context's own extensions hides everything in its includes: the
    # all-DIDs rules would never be reached. Hence [hotline-routing-fallback-CODE], included
    # after [hotline-routing-prefixes].
    hidden = Dialplan(
        "[hotline-routing]\n" + JUMP.format("c") + "[x]\ninclude => shared\n"
        "exten => _c.,1,Goto(hotline-county-north,s,1)\n"
        "[shared]\nexten => _c138.,1,Goto(hotline-county-south,s,1)\n" + CALLS_COUNTY
    )
    assert hidden.run(caller="1385", did="1", at=AT).variables["COUNTY"] == "north"
    # Without the marker a caller without a number makes an empty extension, and Goto
    # keeps the current one (the DID): no such extension in the target context.
    unmarked = Dialplan(
        "[hotline-routing]\n" + JUMP.format("") + "[x]\n"
        "exten => _X.,1,Goto(hotline-county-north,s,1)\n" + CALLS_COUNTY
    )
    assert unmarked.run(caller="55", did="1", at=AT).variables["COUNTY"] == "north"
    with pytest.raises(AssertionError, match="fell off the dialplan at x,1,1"):
        unmarked.run(caller="anonymous", did="1", at=AT)


RICH_AT = datetime(2027, 1, 4, 2, 0, tzinfo=UTC)  # Monday 10:00 Shanghai: all open


def _both_rules(caller: str, did: str) -> tuple[str | None, str | None]:
    table = compile_table(check(rich(), CATALOG), CATALOG)
    decision = decide(table, caller=caller, did=did, at=RICH_AT)
    outcome = Dialplan(render(table).text).run(caller=caller, did=did, at=RICH_AT)
    assert_agree(decision, outcome)
    return decision.rule, outcome.variables.get("COUNTY")


@pytest.mark.parametrize("caller", ["", "anonymous", "Anonymous", "unknown", "-", " "])
@pytest.mark.parametrize("did", ["9615601", "9615602", "12345", "+8612345"])
def test_a_withheld_number_takes_the_dids_county(caller, did):
    table = compile_table(check(rich(), CATALOG), CATALOG)
    rule, county = _both_rules(caller, did)
    assert rule == table.dids[did].fallback.rule and county == table.dids[did].fallback.county


def test_a_number_with_plus_matches_only_prefixes_with_plus():
    assert _both_rules("+8613900139000", "9615601") == ("prefixes.3", "west")
    assert _both_rules("8613900139000", "9615601") == ("dids.0", "north")  # no "+"
    assert _both_rules("+86 139-0013", "9615601") == ("prefixes.3", "west")  # filtered
    assert _both_rules("+", "9615601") == ("dids.0", "north")
    assert _both_rules("+1380013", "9615601") == ("dids.0", "north")  # "+" is not a digit


def test_a_prefix_matches_only_longer_numbers():
    """A prefix equal to the whole number does not match it (decide: the caller extends
    the prefix; dialplan: '.' needs one more character)."""
    assert _both_rules("138", "9615601") == ("dids.0", "north")
    assert _both_rules("1380", "9615601") == ("prefixes.0", "south")
    assert _both_rules("1380013", "9615601") == ("prefixes.0", "south")  # not 1380013
    assert _both_rules("13800130", "9615601") == ("prefixes.1", "east")
    assert _both_rules("1380013", "12345") == ("prefixes.0", "south")  # not its own
    assert _both_rules("13800130", "12345") == ("prefixes.2", "west")
    assert _both_rules("+86139", "9615601") == ("dids.0", "north")
    assert _both_rules("0791", "9615602") == ("dids.1", "south")
    assert _both_rules("07911", "9615602") == ("prefixes.4", "north")


def test_a_very_long_number_is_cut_by_asterisk_and_still_routes_the_same():
    long = "1380013" + "0" * 200  # the channel keeps 79 characters of "c" + the number
    assert _both_rules(long, "9615601") == ("prefixes.1", "east")
    assert _both_rules(long, "12345") == ("prefixes.2", "west")


def test_the_caller_id_enters_the_dialplan_only_filtered():
    text = render(compile_table(check(rich(), CATALOG), CATALOG)).text
    assert text.count("CALLERID(") == text.count("${FILTER(0123456789+,${CALLERID(num)})}") > 0
    for line in text.splitlines():
        if line.startswith("exten => "):
            assert "/" not in line.split(",", 1)[0], line  # no caller-ID match


def test_the_dialplan_grows_with_rules_not_with_dids_times_prefixes():
    data = {
        "dids": [{"did": f"96{i:05d}", "county": "north"} for i in range(100)],
        "prefixes": [{"prefix": f"13{i:03d}", "county": "south"} for i in range(200)]
        + [{"prefix": f"15{i:02d}", "county": "east", "did": "9600007"} for i in range(50)],
    }
    rendered = render(compile_table(check(data, CATALOG), CATALOG))
    # per DID: Set+Goto; one Goto per rule; 2 per fallback county; 3 per county used
    assert len(rendered.entries) == 100 * 2 + 200 + 50 + 2 + 3 * 3
    assert rendered.text.count("\n") < 2 * len(rendered.entries)


PREFIX = st.text(alphabet="13", min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(
    own=st.lists(st.tuples(st.sampled_from(["111", "113", "+3"]), PREFIX), max_size=8),
    shared=st.lists(PREFIX, max_size=8),
    callers=st.lists(st.one_of(st.just(""), st.text(alphabet="13+", max_size=6)), max_size=8),
)
def test_generated_rule_sets_agree_on_precedence(own, shared, callers):
    """Random mixes of DID-specific and all-DIDs prefixes over a two-digit alphabet, so
    that prefixes nest and overlap: the simulator and the dialplan pick the same rule."""
    counties = sorted(CATALOG.counties)
    data = {
        "default_county": "central",
        "dids": [{"did": "111", "county": "north"}, {"did": "113"}, {"did": "+3"}],
        "prefixes": [
            {"prefix": p, "county": counties[i % 5], "did": d}
            for i, (d, p) in enumerate(dict.fromkeys(own))
        ]
        + [
            {"prefix": p, "county": counties[(i + 2) % 5]}
            for i, p in enumerate(dict.fromkeys(shared))
        ],
    }  # fmt: skip
    table = compile_table(check(data, CATALOG), CATALOG)
    dialplan = Dialplan(render(table).text)
    at = datetime(2027, 1, 4, 2, 0, tzinfo=UTC)
    for caller in callers:
        for did in ("111", "113", "+3", "13"):
            assert_agree(
                decide(table, caller=caller, did=did, at=at),
                dialplan.run(caller=caller, did=did, at=at),
            )
