from decimal import Decimal

import pytest

from cti.recordings.scoring import CriterionSpec, ScoringError, total, validate_criteria

CARD = [
    CriterionSpec(1, "Greeting", weight=1, max_points=5),
    CriterionSpec(2, "Solved the problem", weight=3, max_points=10),
]


def test_weighted_total():
    assert total(CARD, {1: 5, 2: 10}) == Decimal("100.00")
    assert total(CARD, {1: 0, 2: 0}) == Decimal("0.00")
    # (1 * 5/5 + 3 * 5/10) / 4 * 100 = 62.5
    assert total(CARD, {1: 5, 2: 5}) == Decimal("62.50")
    # (1 * 1/5 + 3 * 7/10) / 4 * 100 = 57.5
    assert total(CARD, {1: 1, 2: 7}) == Decimal("57.50")


@pytest.mark.parametrize(
    "points",
    [{1: 5}, {1: 5, 2: 5, 3: 1}, {1: 6, 2: 5}, {1: -1, 2: 5}, {}],
)
def test_bad_points(points):
    with pytest.raises(ScoringError):
        total(CARD, points)


@pytest.mark.parametrize(
    "specs",
    [[], [("", 1, 5)], [("a", 0, 5)], [("a", 1, 0)], [("a", 1, 5), ("a", 2, 5)], [("a", 101, 5)]],
)
def test_bad_cards(specs):
    with pytest.raises(ScoringError):
        validate_criteria(specs)
