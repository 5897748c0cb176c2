"""Knowledge search on a small fixed corpus: the expected order is written out with why.

Ranking: a word in the title (weight 1.0) beats the body (0.4); among body matches the
shorter article ranks first (length normalisation); ties by title. Similar titles (typos
with pg_trgm, substrings without) come after the word matches.
"""

from __future__ import annotations

import pytest

from cti.knowledge import articles
from cti.knowledge.query import parse
from cti.knowledge.search import Filters, browse, has_trigram, resolve_filters, search

FILLER = " ".join(
    "the centre keeps a list of approved companies for each county and checks their "
    "licences every year so that a citizen can call at any hour".split()
)

CORPUS = {
    # title match
    "Boiler repair": "No heat or no hot water: ask for the model and the error code.",
    # body twice, short
    "Hot water at home": "A cold tap? Check the boiler switch, then the boiler pressure.",
    # body once, medium; mentions gas
    "Gas safety": "If you smell gas leave the flat, do not touch switches, call the gas "
    "board; the boiler is checked later. " + FILLER,
    # body once, long
    "Heating allowance for pensioners": "Pensioners may claim an allowance for heating. "
    + FILLER * 6
    + " A new boiler is not covered.",
    "Plumbing emergencies": "A burst pipe or a water leak: close the main valve first.",
    "Live-in nanny": "What a nanny does, and what the family provides.",
}


@pytest.fixture
async def corpus(session_factory, category, editor):
    code, category_id = category
    ids = {}
    async with session_factory() as db:
        for title, body in CORPUS.items():
            created = await articles.create(db, editor, articles.Draft(title, body, code))
            ids[title] = created.id
        await db.commit()
    return Filters(category_ids=(category_id,)), ids


async def _titles(session_factory, text, filters, *, trigram=None):
    async with session_factory() as db:
        if trigram is None:
            trigram = await has_trigram(db)
        found = await search(db, parse(text), filters, trigram=trigram)
        return [(h.article.title, h.how) for h in found.hits]


async def test_ranking_title_then_short_body_then_long_body(session_factory, corpus):
    filters, _ = corpus
    assert await _titles(session_factory, "boiler", filters) == [
        ("Boiler repair", "words"),  # in the title
        ("Hot water at home", "words"),  # twice in a short body
        ("Gas safety", "words"),  # once in a medium body
        ("Heating allowance for pensioners", "words"),  # once in a long body
    ]


async def test_phrases_exclusions_and_prefixes(session_factory, corpus):
    filters, _ = corpus
    # "hot water" as a phrase: in both; the title match first
    assert [t for t, _ in await _titles(session_factory, '"hot water"', filters)] == [
        "Hot water at home",
        "Boiler repair",
    ]
    # -gas drops the gas article
    assert "Gas safety" not in [
        t for t, _ in await _titles(session_factory, "boiler -gas", filters)
    ]
    # the last word as a prefix: "plumb" finds Plumbing
    assert await _titles(session_factory, "plumb", filters) == [("Plumbing emergencies", "words")]
    # both words must be there
    assert await _titles(session_factory, "nanny boiler", filters) == []


async def test_a_typo_finds_the_title_by_trigram(session_factory, corpus):
    filters, _ = corpus
    async with session_factory() as db:
        if not await has_trigram(db):
            pytest.skip("this server has no pg_trgm")
    assert await _titles(session_factory, "plumbng", filters, trigram=True) == [
        ("Plumbing emergencies", "similar")
    ]
    # every word must be like a title's word (AND, as the words are)
    assert await _titles(session_factory, "boilr repair", filters, trigram=True) == [
        ("Boiler repair", "similar")
    ]
    assert await _titles(session_factory, "pensiners allowence", filters, trigram=True) == [
        ("Heating allowance for pensioners", "similar")
    ]
    assert await _titles(session_factory, "boilr nany", filters, trigram=True) == []


async def test_without_trigram_part_of_a_title_is_found_and_typos_are_not(session_factory, corpus):
    """The embedded server's case (no pg_trgm): substring of the title, no typo."""
    filters, _ = corpus
    assert await _titles(session_factory, "llowanc", filters, trigram=False) == [
        ("Heating allowance for pensioners", "similar")
    ]
    assert await _titles(session_factory, "plumbng", filters, trigram=False) == []
    # % and _ typed are letters, not wildcards
    assert await _titles(session_factory, "%", filters, trigram=False) == []
    assert await _titles(session_factory, "b_iler", filters, trigram=False) == []


async def test_hostile_queries_are_harmless(session_factory, corpus):
    filters, _ = corpus
    for text in ["'); DROP TABLE knowledge_articles;--", "x:* & !", "\x00", "<script>", "é" * 300]:
        await _titles(session_factory, text, filters)  # no error
    assert await _titles(session_factory, "-boiler", filters) == []  # nothing asked for


async def test_filters_by_county_and_category(session_factory, category, editor):
    code, category_id = category
    async with session_factory() as db:
        for title, county in (
            ("Tax office north", "north"),
            ("Tax office south", "south"),
            ("Tax office everywhere", None),
        ):
            await articles.create(db, editor, articles.Draft(title, "Opening hours", code, county))
        await db.commit()
        north = await resolve_filters(db, code, "north")
        assert [a.title for a in await browse(db, north)] == [
            "Tax office everywhere",
            "Tax office north",
        ]
        every = await resolve_filters(db, code, "all")
        assert [a.title for a in await browse(db, every)] == ["Tax office everywhere"]
        anywhere = await resolve_filters(db, code, "")
        assert len(await browse(db, anywhere)) == 3
        found = await search(db, parse("tax"), north, trigram=False)
        assert [h.article.title for h in found.hits] == [
            "Tax office everywhere",
            "Tax office north",
        ]
