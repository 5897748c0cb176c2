"""The read-back check of a routing apply: the model read from the rendered text, the
model read from ``ShowDialPlan`` bytes shaped like Asterisk 22's (main/pbx.c
``manager_show_dialplan_helper``), and their first difference."""

from __future__ import annotations

import functools
import itertools

import pytest

from cti.ami.protocol import AmiFramer, parse_message
from cti.routing.apply import verify
from cti.routing.dialplan import (
    DialplanTextError,
    Extension,
    Step,
    ext_cmp,
    first_difference,
    from_show_dialplan,
    from_text,
)
from tests.unit.routing import dialplan_model

CTX = "hotline-routing-did-9615601"
TEXT = f"""; a comment
[{CTX}]
include => hotline-routing-prefixes
include => hotline-routing-fallback-north
exten => _c138.,1,Goto(hotline-county-north,s,1)
exten => _c1380.,1,Goto(hotline-county-south,s,1)
exten => c,1,NoOp(plain before the patterns)

[hotline-county-north]
exten => s,1,Set(__COUNTY=north)
 same => n(closed),Answer()
 same => n,UserEvent(HotlineCallbackRequest,County: north,DID: ${{DID}})
"""


def _item(context: str, body: str) -> bytes:
    return (
        f"Event: ListDialplan\r\nActionID: routing-2\r\nContext: {context}\r\n{body}"
        "Registrar: pbx_config\r\n\r\n"
    ).encode()


def _step(context: str, exten: str, priority: int, app: str, data: str) -> bytes:
    return _item(
        context,
        f"Extension: {exten}\r\nPriority: {priority}\r\nApplication: {app}\r\nAppData: {data}\r\n",
    )


CALLBACK = "HotlineCallbackRequest,County: north,DID: ${DID}"

# What Asterisk sends for TEXT: contexts in its own order, extensions sorted
# (ast_add_extension2_lockopt: plain before patterns, a longer prefix first), includes
# after the extensions, a label only where there is one, an empty AppData as "AppData: ".
LIVE = (
    b"Response: Success\r\nActionID: routing-2\r\nEventList: start\r\n"
    b"Message: DialPlan list will follow\r\n\r\n"
    + _step("hotline-county-north", "s", 1, "Set", "__COUNTY=north")
    + _item(
        "hotline-county-north",
        "Extension: s\r\nExtensionLabel: closed\r\nPriority: 2\r\nApplication: Answer\r\n"
        "AppData: \r\n",
    )
    + _step("hotline-county-north", "s", 3, "UserEvent", CALLBACK)
    + _item("from-trunk", "IncludeContext: hotline-routing\r\n")
    + _step(CTX, "c", 1, "NoOp", "plain before the patterns")
    + _step(CTX, "_c1380.", 1, "Goto", "hotline-county-south,s,1")
    + _step(CTX, "_c138.", 1, "Goto", "hotline-county-north,s,1")
    + _item(CTX, "IncludeContext: hotline-routing-prefixes\r\n")
    + _item(CTX, "IncludeContext: hotline-routing-fallback-north\r\n")
    + b"Event: ShowDialPlanComplete\r\nActionID: routing-2\r\nEventList: Complete\r\n"
    b"ListItems: 9\r\nListExtensions: 4\r\nListPriorities: 6\r\nListContexts: 3\r\n\r\n"
)


def items(data: bytes) -> list[dict]:
    messages = [parse_message(block) for block in AmiFramer().feed(data)]
    return [m for m in messages if m.get("Event") == "ListDialplan"]


def test_text_model_keeps_asterisks_extension_order_labels_and_includes():
    model = from_text(TEXT)
    did = model[CTX]
    assert [e.name for e in did.extensions] == [
        "c",  # plain extensions before patterns
        "_c1380.",  # a literal sorts before '.': the longer prefix first
        "_c138.",
    ]
    assert did.includes == ("hotline-routing-prefixes", "hotline-routing-fallback-north")
    assert model["hotline-county-north"].extensions == (
        Extension(
            "s",
            (
                Step(1, None, "Set", "__COUNTY=north"),
                Step(2, "closed", "Answer", ""),
                Step(3, None, "UserEvent", "HotlineCallbackRequest,County: north,DID: ${DID}"),
            ),
        ),
    )


@pytest.mark.parametrize(
    "line",
    [
        "exten => 1,2,NoOp(x)",
        "switch => Realtime",
        " same => n,NoOp(",
        "exten => 1",
        "exten => 9615601/_138.,1,NoOp(a caller-ID match)",
        "exten => c,1,NoOp(x)\nexten => c,1,NoOp(written twice)",
        "exten => c1,1,NoOp(x)\nexten => c-1,1,NoOp(the same for Asterisk)",
    ],
)
def test_text_outside_the_rendered_subset_is_refused(line):
    with pytest.raises(DialplanTextError):
        from_text(f"[hotline-routing]\n{line}\n")


def test_show_dialplan_model_reads_extensions_labels_and_includes():
    live = from_show_dialplan(items(LIVE), lambda name: name.startswith("hotline-"))
    assert set(live) == {CTX, "hotline-county-north"}
    did = live[CTX]
    assert [(e.name, e.steps[0].data) for e in did.extensions] == [
        ("c", "plain before the patterns"),
        ("_c1380.", "hotline-county-south,s,1"),
        ("_c138.", "hotline-county-north,s,1"),
    ]
    assert did.includes == ("hotline-routing-prefixes", "hotline-routing-fallback-north")
    assert live["hotline-county-north"].extensions[0].steps[1] == Step(2, "closed", "Answer", "")


def test_the_rendered_text_and_its_live_listing_agree():
    assert verify(from_text(TEXT), items(LIVE)) is None


def _live(old: bytes, new: bytes) -> list[dict]:
    assert old in LIVE
    return items(LIVE.replace(old, new))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            b"IncludeContext: hotline-routing-prefixes\r\n",
            b"IncludeContext: hotline-routing-fallback-north\r\n",
            f"[{CTX}] include #1 should be hotline-routing-prefixes, "
            "live it is hotline-routing-fallback-north",
        ),
        (
            _item(CTX, "IncludeContext: hotline-routing-fallback-north\r\n"),
            b"",
            f"[{CTX}] include => hotline-routing-fallback-north is not live",
        ),
        (
            b"AppData: hotline-county-south,s,1",
            b"AppData: hotline-county-east,s,1",
            f"[{CTX}] extension #2 _c1380.: rendered "
            "1,Goto(hotline-county-south,s,1), live 1,Goto(hotline-county-east,s,1)",
        ),
        (
            b"ExtensionLabel: closed\r\n",
            b"",
            "[hotline-county-north] extension #1 s: rendered 2(closed),Answer(), live 2,Answer()",
        ),
        (
            b"Context: hotline-county-north\r\nExtension: s\r\nPriority: 3",
            b"Context: hotline-county-north\r\nExtension: s\r\nPriority: 4",
            "[hotline-county-north] extension #1 s: rendered "
            "3,UserEvent(HotlineCallbackRequest,County: north,DID: ${DID}), live "
            "4,UserEvent(HotlineCallbackRequest,County: north,DID: ${DID})",
        ),
        (
            b"Context: from-trunk\r\n",
            b"Context: hotline-county-gone\r\n",
            "unexpected live context [hotline-county-gone]",
        ),
        (
            b"IncludeContext: hotline-routing-fallback-north\r\nRegistrar",
            b"IgnorePattern: 9\r\nRegistrar",
            f"[{CTX}] include => hotline-routing-fallback-north is not live",
        ),
    ],
    ids=[
        "includes-changed",
        "include-missing",
        "target-changed",
        "label-missing",
        "priority-changed",
        "extra-context",
        "include-replaced-by-ignorepat",
    ],
)
def test_the_first_difference_is_named(old, new, message):
    assert verify(from_text(TEXT), _live(old, new)) == message


def test_swapped_prefix_targets_are_named():
    live = items(
        LIVE.replace(b"county-south,s,1", b"county-Y,s,1")
        .replace(b"AppData: hotline-county-north,s,1", b"AppData: hotline-county-south,s,1")
        .replace(b"county-Y,s,1", b"county-north,s,1")
    )
    assert verify(from_text(TEXT), live) == (
        f"[{CTX}] extension #2 _c1380.: rendered "
        "1,Goto(hotline-county-south,s,1), live 1,Goto(hotline-county-north,s,1)"
    )


def test_an_extension_missing_live_is_named():
    live = [i for i in items(LIVE) if i.get("Extension") != "_c138."]
    assert verify(from_text(TEXT), live) == (
        f"[{CTX}] extension #3 _c138. (1,Goto(hotline-county-north,s,1)) is not live"
    )


def test_a_context_missing_live_is_named_and_an_empty_one_is_not_expected():
    live = [i for i in items(LIVE) if i.get("Context") != "hotline-county-north"]
    assert verify(from_text(TEXT), live) == "context [hotline-county-north] is not live"
    assert first_difference(from_text(TEXT + "[hotline-county-empty]\n"), {}) is not None
    assert verify(from_text(TEXT + "[hotline-county-empty]\n"), items(LIVE)) is None


def test_a_prefix_change_that_keeps_the_order_is_detected():
    """The case ShowDialPlan could not show when prefixes were caller-ID matches (it never
    sends the match): the only prefix of a DID changing from 138 to 139. Now the prefix
    is the extension name, which it sends."""
    text = TEXT.replace("exten => _c138.,", "exten => _c139.,")
    model = from_text(text)
    assert [e.name for e in model[CTX].extensions] == ["c", "_c1380.", "_c139."]  # same place
    assert verify(model, items(LIVE)) == (
        f"[{CTX}] extension #3 should be _c139. (1,Goto(hotline-county-north,s,1)), "
        "live it is _c138. (1,Goto(hotline-county-north,s,1))"
    )


def test_an_extension_someone_added_with_a_caller_id_match_shows_as_an_extra_one():
    # exten => c/_1.,1,Goto(hotline-county-east,s,1) added live: ShowDialPlan sends it as a
    # second "c" next to ours (ast_add_extension2_lockopt keeps them side by side).
    extra = _step(CTX, "c", 1, "Goto", "hotline-county-east,s,1")
    first_c = _step(CTX, "c", 1, "NoOp", "plain before the patterns")
    live = items(LIVE.replace(first_c, first_c + extra))
    assert verify(from_text(TEXT), live) == (
        f"[{CTX}] extension #2 should be _c1380. (1,Goto(hotline-county-south,s,1)), "
        "live it is c (1,Goto(hotline-county-east,s,1))"
    )


PATTERNS = [
    "9615601",
    "s",
    "c",
    "_c.",
    "_c138.",
    "_c1380.",
    "_c13.",
    "_c1390.",
    "_c+86139.",
    "_cX.",
    "_X.",
    "_N!",
    "_n1.",
    "_1[3-5].",
    "_[0-9+].",
]


def test_ext_cmp_agrees_with_the_independent_test_model():
    for a, b in itertools.product(PATTERNS, repeat=2):
        assert (ext_cmp(a, b) > 0) - (ext_cmp(a, b) < 0) == (
            (dialplan_model.ext_cmp(a, b) > 0) - (dialplan_model.ext_cmp(a, b) < 0)
        ), (a, b)
    ordered = sorted(PATTERNS, key=functools.cmp_to_key(ext_cmp))
    assert ordered[:3] == ["9615601", "c", "s"]
    assert ordered.index("_c+86139.") < ordered.index("_c1380.") < ordered.index("_c138.")
    assert ordered.index("_c138.") < ordered.index("_c13.") < ordered.index("_cX.")
    assert ordered.index("_cX.") < ordered.index("_c.")
