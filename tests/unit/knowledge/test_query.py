"""Parsing the search box: words, phrases, exclusions, the prefix of the last word, and
hostile text (tsquery operators, quotes, SQL, NUL, very long input) made harmless."""

from __future__ import annotations

import re

import pytest

from cti.knowledge.query import MAX_TERMS, Query, parse, to_tsquery


@pytest.mark.parametrize(
    ("text", "tsquery"),
    [
        ("boiler", "'boiler':*"),
        ("Gas LEAK", "'gas' & 'leak':*"),
        ('"hot water" -gas', "('hot' <-> 'water') & !'gas'"),
        ("hot-water boiler", "'boiler':* & ('hot' <-> 'water')"),
        ('-"gas leak" pipe', "'pipe':* & !'gas' & !'leak'"),
        ("a", "'a'"),  # one letter is not a prefix: most of the dictionary starts with it
        ("pipe pipe", "'pipe':*"),
        ("水管 维修", "'水管' & '维修':*"),
        ("nanny -nanny", "'nanny'"),  # asked for and excluded: asked for wins (no prefix:
        # the last thing typed was an exclusion)
        ("snake_case", "('snake' <-> 'case')"),
    ],
)
def test_what_the_text_means(text, tsquery):
    assert to_tsquery(parse(text)) == tsquery


@pytest.mark.parametrize(
    "text",
    ["", "   ", '""', "-gas", "- -", ":* & | ! <-> ( )", "'\\'", "\x00", '-"hot water"'],
)
def test_nothing_to_look_for_is_an_empty_query(text):
    q = parse(text)
    assert q.empty and to_tsquery(q) == ""


@pytest.mark.parametrize(
    "text",
    [
        "'); DROP TABLE knowledge_articles;--",
        "a' | 'b",
        "x:* & !y",
        "<script>alert(1)</script>",
        "\\' OR 1=1 --",
        "é" * 500,
        "word " * 500,
        "\x00nul\x00",
    ],
)
def test_hostile_text_gives_only_quoted_word_lexemes(text):
    out = to_tsquery(parse(text))
    # every lexeme is quoted word characters; only our own operators between them
    stripped = re.sub(r"'[^\W_]+'(:\*)?", "L", out)
    assert re.fullmatch(r"[L&!() <>-]*", stripped), out
    assert out.count("'") % 2 == 0


def test_terms_are_capped():
    q = parse(" ".join(f"w{i}" for i in range(50)))
    assert len(q.words) == MAX_TERMS


def test_plain_is_the_positive_words():
    assert parse('boilr "hot water" -gas').plain == "boilr hot water"
    assert parse("x").plain == "x" and parse("-x").plain == ""
    assert parse("plumb").prefix == "plumb"
    assert parse('plumb "x y"').prefix is None
    assert Query().empty
