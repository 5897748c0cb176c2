"""queues_counties.conf: rendered from the counties, strictly checked (pure)."""

from __future__ import annotations

import pytest

from cti.routing.queues import (
    INCLUDE_LINE,
    QueuesError,
    check_main,
    check_queues,
    render_queues,
    templates_in,
)

TEMPLATES = frozenset({"county-template", "county-north-members"})


def test_render_is_sorted_deterministic_and_uses_the_members_template_when_defined():
    text = render_queues(["county-north", "county-b"], TEMPLATES)
    assert text == render_queues(["county-b", "county-north", "county-b"], TEMPLATES)
    sections = [line for line in text.splitlines() if line.startswith("[")]
    assert sections == [
        "[county-b](county-template)",
        "[county-north](county-template,county-north-members)",
    ]
    assert check_queues(text, {"county-b", "county-north"}, TEMPLATES) == []


@pytest.mark.parametrize(
    "name",
    ["County", "q]\n[evil", "q\nmember => Local/1", "q;x", "-q", "", "a" * 65, "q(x)", "general"],
)
def test_hostile_or_reserved_queue_names_are_refused(name):
    with pytest.raises(QueuesError):
        render_queues([name], TEMPLATES)


def test_a_queue_named_like_a_template_is_refused():
    with pytest.raises(QueuesError, match="section"):
        render_queues(["county-north-members"], TEMPLATES)


def test_render_needs_the_settings_template():
    with pytest.raises(QueuesError, match="county-template"):
        render_queues(["county-b"], frozenset())


GOOD = "; c\n\n[county-b](county-template)\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (GOOD + "strategy=ringall\n", "not a queue section"),
        (GOOD + "member => PJSIP/1\n", "not a queue section"),
        (GOOD + "#include other.conf\n", "not a queue section"),
        (GOOD + "#exec /bin/sh\n", "not a queue section"),
        ("[county-b]\n", "not a queue section"),
        ("[county-b](other)\n", "must inherit"),
        ("[county-b](county-template,county-north-members)\n", "must inherit"),
        (GOOD + GOOD, "defined twice"),
        (GOOD + "[county-c](county-template)\n", "are not the counties'"),
        ("; nothing\n", "are not the counties'"),
        (GOOD + "; caf\u00e9\n", "characters not allowed"),
        (GOOD.replace("county-b", "County-b"), "bad queue name"),
    ],
)
def test_check_refuses_anything_but_the_expected_sections(text, problem):
    problems = check_queues(text, {"county-b"}, TEMPLATES)
    assert any(problem in p for p in problems), problems


def test_check_main_needs_the_include_once_and_the_template():
    main = "[county-template](!)\nstrategy=rrmemory\n" + INCLUDE_LINE + "\n"
    assert check_main(main) == []
    assert check_main(main.replace(INCLUDE_LINE, ""))
    assert check_main(main + INCLUDE_LINE + "\n")
    assert check_main(main.replace("(!)", ""))
    assert templates_in(main) == {"county-template"}
