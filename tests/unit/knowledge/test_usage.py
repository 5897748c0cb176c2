"""Counting the tickets answered with each article: the period is half-open, the county
filter is the ticket's county, a ticket answered twice with one article is one ticket."""

from __future__ import annotations

from datetime import UTC, datetime

from cti.knowledge.usage import AnswerRow, ArticleUsage, count

T0 = datetime(2026, 12, 1, tzinfo=UTC)
T1 = datetime(2026, 12, 8, tzinfo=UTC)


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=UTC)


ROWS = [
    AnswerRow(article_id=1, ticket_id=10, county_id=1, answered_at=at(1, 0)),  # on since: in
    AnswerRow(article_id=1, ticket_id=10, county_id=1, answered_at=at(3)),  # same ticket again
    AnswerRow(article_id=1, ticket_id=11, county_id=2, answered_at=at(4)),
    AnswerRow(article_id=2, ticket_id=12, county_id=1, answered_at=at(5)),
    AnswerRow(article_id=2, ticket_id=13, county_id=None, answered_at=at(6)),
    AnswerRow(article_id=3, ticket_id=14, county_id=1, answered_at=at(8, 0)),  # on until: out
    AnswerRow(article_id=3, ticket_id=15, county_id=1, answered_at=at(30, 11)),  # before: out
]
TITLES = {1: "Boiler", 2: "Allowance", 3: "Nanny"}


def test_every_county():
    assert count(ROWS, TITLES, T0, T1) == [
        ArticleUsage(1, "Boiler", answers=3, tickets=2),
        ArticleUsage(2, "Allowance", answers=2, tickets=2),
    ]


def test_one_county():
    assert count(ROWS, TITLES, T0, T1, county_id=1) == [
        ArticleUsage(1, "Boiler", answers=2, tickets=1),
        ArticleUsage(2, "Allowance", answers=1, tickets=1),
    ]
    assert count(ROWS, TITLES, T0, T1, county_id=3) == []


def test_ties_go_by_title():
    rows = [
        AnswerRow(5, 1, None, at(2)),
        AnswerRow(4, 2, None, at(2)),
    ]
    assert [u.title for u in count(rows, {4: "b", 5: "a"}, T0, T1)] == ["a", "b"]
