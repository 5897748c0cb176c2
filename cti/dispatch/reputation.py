"""A company's reputation: a number from 0 to 100 computed from facts, shown with them.

The facts come from the company's dispatches (offered, declined, done, done in time), its
revisits (what citizens said) and complaints upheld against its work. Nothing here is a
number somebody typed; :func:`score` is pure, :func:`reputations` reads the facts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Integer

#: The score of a company nothing is known about, and where few facts pull a score to.
NEUTRAL = 50.0
#: How many facts of a kind weigh as much as the neutral prior (see :func:`score`).
PRIOR_WEIGHT = 5.0
#: Each part's share of the score; they add up to 1.
WEIGHTS = {"satisfaction": 0.4, "on_time": 0.25, "acceptance": 0.15, "complaints": 0.2}


@dataclass(frozen=True, slots=True)
class Facts:
    """What is known about a company's work (all counts over its whole history)."""

    revisits: int = 0
    #: Mean revisit satisfaction (1-5); None without revisits.
    mean_satisfaction: float | None = None
    jobs_done: int = 0
    #: Jobs done no later than the dispatch's ``finish_by``.
    done_in_time: int = 0
    declines: int = 0
    #: Offers it answered (accepted or declined): one still waiting, or withdrawn before
    #: an answer, says nothing about the company yet.
    offered: int = 0
    complaints_upheld: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Reputation:
    score: float
    facts: Facts
    #: One line for a person: the facts that made the score.
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return {"score": self.score, "facts": self.facts.as_dict(), "why": self.explanation}


def _shrunk(good: float, total: float) -> float:
    """The rate ``good / total`` pulled toward one half by :data:`PRIOR_WEIGHT` imaginary
    facts (a Beta(2.5, 2.5) prior's posterior mean)."""
    return (PRIOR_WEIGHT * 0.5 + good) / (PRIOR_WEIGHT + total)


def score(facts: Facts) -> Reputation:
    """The reputation that ``facts`` earn.

    Four parts, each a rate from 0 to 1: satisfaction (mean revisit score mapped 1..5 ->
    0..1), done in time (of the jobs done), acceptance (offers not declined), and jobs
    without an upheld complaint. Each rate is a Bayesian average with :data:`PRIOR_WEIGHT`
    imaginary facts at one half: a new company with one 5-star revisit is not ranked above
    an established one with a hundred 4.8-star revisits, and one bad job does not sink a
    company that has done little yet. So with no facts the score is exactly
    :data:`NEUTRAL`, and it moves away from it only as facts accumulate. The weighted sum
    is scaled to 0..100 and rounded to one decimal."""
    satisfaction = (
        _shrunk((facts.mean_satisfaction - 1.0) / 4.0 * facts.revisits, facts.revisits)
        if facts.mean_satisfaction is not None and facts.revisits > 0
        else 0.5
    )
    on_time = _shrunk(min(facts.done_in_time, facts.jobs_done), facts.jobs_done)
    acceptance = _shrunk(max(facts.offered - facts.declines, 0), facts.offered)
    clean_jobs = max(facts.jobs_done, facts.complaints_upheld)
    complaints = _shrunk(clean_jobs - facts.complaints_upheld, clean_jobs)
    parts = {
        "satisfaction": satisfaction,
        "on_time": on_time,
        "acceptance": acceptance,
        "complaints": complaints,
    }
    value = round(100.0 * sum(WEIGHTS[k] * v for k, v in parts.items()), 1)
    return Reputation(score=value, facts=facts, explanation=explain(facts))


def explain(facts: Facts) -> str:
    """The facts in words, e.g. ``4.5/5 from 12 revisits; 9 of 10 jobs in time; ...``."""
    if not (facts.revisits or facts.offered or facts.complaints_upheld):
        return "no history yet: neutral"
    out = []
    if facts.revisits and facts.mean_satisfaction is not None:
        out.append(f"{facts.mean_satisfaction:.1f}/5 from {_n(facts.revisits, 'revisit')}")
    else:
        out.append("no revisits yet")
    out.append(f"{facts.done_in_time} of {_n(facts.jobs_done, 'job')} done in time")
    out.append(f"{facts.declines} of {_n(facts.offered, 'offer')} declined")
    out.append(f"{_n(facts.complaints_upheld, 'complaint')} upheld")
    if facts.revisits + facts.offered < 2 * PRIOR_WEIGHT:
        out.append("few facts: close to neutral")
    return "; ".join(out)


def _n(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


#: One statement: per company, its dispatch counts, its revisits, and the complaint tickets
#: upheld about tickets whose last dispatch was that company's.
_FACTS_SQL = text(
    """
    WITH d AS (
        SELECT company_id,
               count(*) FILTER (WHERE accepted_at IS NOT NULL OR declined_at IS NOT NULL)
                   AS offered,
               count(*) FILTER (WHERE status = 'declined') AS declines,
               count(*) FILTER (WHERE done_at IS NOT NULL) AS jobs_done,
               count(*) FILTER (WHERE done_at IS NOT NULL AND done_at <= finish_by)
                   AS done_in_time
        FROM dispatches WHERE company_id = ANY(:ids) GROUP BY company_id
    ), r AS (
        SELECT company_id,
               count(*) AS revisits,
               avg(satisfaction)::float AS mean_satisfaction,
               count(*) FILTER (WHERE complaint_upheld) AS upheld
        FROM revisits WHERE company_id = ANY(:ids) GROUP BY company_id
    ), last_dispatch AS (
        SELECT DISTINCT ON (ticket_id) ticket_id, company_id
        FROM dispatches
        WHERE ticket_id IN (
            SELECT complaint_of_id FROM tickets
            WHERE complaint_of_id IS NOT NULL AND complaint_upheld
        )
        ORDER BY ticket_id, id DESC
    ), c AS (
        SELECT ld.company_id, count(*) AS upheld
        FROM tickets t JOIN last_dispatch ld ON ld.ticket_id = t.complaint_of_id
        WHERE t.complaint_upheld AND ld.company_id = ANY(:ids)
        GROUP BY ld.company_id
    )
    SELECT ids.id AS company_id,
           coalesce(d.offered, 0), coalesce(d.declines, 0), coalesce(d.jobs_done, 0),
           coalesce(d.done_in_time, 0), coalesce(r.revisits, 0), r.mean_satisfaction,
           coalesce(r.upheld, 0) + coalesce(c.upheld, 0)
    FROM unnest(:ids) AS ids(id)
    LEFT JOIN d ON d.company_id = ids.id
    LEFT JOIN r ON r.company_id = ids.id
    LEFT JOIN c ON c.company_id = ids.id
    """
).bindparams(bindparam("ids", type_=ARRAY(Integer)))


async def facts_of(db: AsyncSession, company_ids: Iterable[int]) -> dict[int, Facts]:
    """The facts of each company in ``company_ids`` (one query; unknown ids: no facts)."""
    ids = sorted(set(company_ids))
    if not ids:
        return {}
    rows = await db.execute(_FACTS_SQL, {"ids": ids})
    return {
        company_id: Facts(
            revisits=revisits,
            mean_satisfaction=mean,
            jobs_done=jobs_done,
            done_in_time=done_in_time,
            declines=declines,
            offered=offered,
            complaints_upheld=upheld,
        )
        for company_id, offered, declines, jobs_done, done_in_time, revisits, mean, upheld in rows
    }


async def reputations(db: AsyncSession, company_ids: Iterable[int]) -> dict[int, Reputation]:
    """The reputation of each company in ``company_ids``, from one aggregate query."""
    return {cid: score(facts) for cid, facts in (await facts_of(db, company_ids)).items()}
