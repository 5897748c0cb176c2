"""QA scorecards: weighted criteria and the total of one scoring. Pure.

Each criterion has a weight and a maximum of points; the total is the weighted share of
points earned, on 0-100: ``sum(w * p / max) / sum(w) * 100``, rounded to 2 decimals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True, slots=True)
class CriterionSpec:
    id: int
    label: str
    weight: int
    max_points: int


class ScoringError(ValueError):
    pass


def validate_criteria(specs: Sequence[tuple[str, int, int]]) -> None:
    """A new scorecard's (label, weight, max_points) list."""
    if not specs:
        raise ScoringError("a scorecard needs at least one criterion")
    if len(specs) > 50:
        raise ScoringError("at most 50 criteria")
    labels = [label.strip() for label, _, _ in specs]
    if any(not label for label in labels):
        raise ScoringError("every criterion needs a label")
    if len(set(labels)) != len(labels):
        raise ScoringError("criterion labels must differ")
    for label, weight, max_points in specs:
        if not 1 <= weight <= 100:
            raise ScoringError(f"{label}: weight must be 1-100")
        if not 1 <= max_points <= 100:
            raise ScoringError(f"{label}: max points must be 1-100")


def total(criteria: Sequence[CriterionSpec], points: Mapping[int, int]) -> Decimal:
    """The 0-100 total for ``points`` (criterion id → points). Every criterion of the
    card must be scored, within 0..max_points, and nothing else."""
    ids = {c.id for c in criteria}
    if set(points) != ids:
        extra = sorted(set(points) - ids)
        missing = sorted(ids - set(points))
        raise ScoringError(
            f"score every criterion of the card exactly once (missing {missing}, unknown {extra})"
        )
    earned = Decimal(0)
    weights = Decimal(0)
    for c in criteria:
        p = points[c.id]
        if not 0 <= p <= c.max_points:
            raise ScoringError(f"{c.label}: points must be 0-{c.max_points}")
        earned += Decimal(c.weight) * Decimal(p) / Decimal(c.max_points)
        weights += Decimal(c.weight)
    return (earned / weights * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
