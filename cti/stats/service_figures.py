"""Service figures: what happened to the tickets, the jobs and the revisits of a period.
Pure: no I/O (``cti.stats.service_queries`` reads the rows).

(``cti.stats.service`` is the reports' database layer; these figures sit beside
``cti.stats.calls``, their call counterpart.)

Definitions (what the report's columns promise), for the period ``[since, until)``:

* tickets: those *created* in the period, counted by category, channel, county and their
  status now.
* information tickets: those of the period an agent answered on the call (an ``answer``
  event); *with an article*: those whose answer cited a knowledge article.
* time to dispatch: ticket created -> its first dispatch, of the period's tickets that
  were dispatched.
* time to accept: dispatched -> accepted, of the period's jobs (a job is one dispatch,
  and belongs to the period it was dispatched in) that were accepted.
* time to finish: accepted -> done, of the period's jobs that were done. Each of the three
  is the one party's step: the centre's, then the company's answer, then its work.
  Average (exact) and 90th percentile (nearest rank, as ``cti.stats.calls.p90``, of the
  times in whole minutes, rounded down: what the monthly rollup keeps), in seconds.
* per company, of its jobs of the period: jobs, declined, done, done on time (no later
  than the job's ``finish_by``) and the on-time share of those done; the revisits of the
  period rating its work and their mean satisfaction (1-5); complaints upheld against it
  in the period (a revisit's complaint or a complaint ticket, found upheld).
* revisit coverage: of the jobs *done* in the period, those whose ticket was revisited
  within ``revisit_days`` days of the job's end (a revisit no earlier than the end).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cti.stats.calls import p90

DEFAULT_REVISIT_DAYS = 7


@dataclass(frozen=True, slots=True)
class TicketFact:
    """One ticket (0 for none: ``county_id``, ``category_id``)."""

    ticket_id: int
    created_at: datetime
    county_id: int
    category_id: int
    channel: str
    status: str
    #: An information request answered by the agent on the call.
    answered: bool = False
    #: ... and that answer cited a knowledge article.
    with_article: bool = False
    first_dispatch_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class JobFact:
    """One dispatch of a ticket to a company."""

    ticket_id: int
    company_id: int
    county_id: int
    dispatched_at: datetime
    finish_by: datetime
    accepted_at: datetime | None = None
    declined: bool = False
    done_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RevisitFact:
    """What a citizen said on a revisit (``company_id`` 0: none)."""

    ticket_id: int
    company_id: int
    county_id: int
    at: datetime
    satisfaction: int


@dataclass(frozen=True, slots=True)
class UpheldComplaint:
    """A complaint found upheld against ``company_id``'s work, made at ``at``."""

    company_id: int
    county_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class Durations:
    count: int
    avg_s: float | None
    p90_s: int | None


@dataclass(frozen=True, slots=True)
class CompanyFigures:
    jobs: int = 0
    declined: int = 0
    done: int = 0
    on_time: int = 0
    #: Of the jobs done, the share done on time, in %.
    on_time_share: float | None = None
    revisits: int = 0
    satisfaction: float | None = None
    complaints_upheld: int = 0


@dataclass(frozen=True, slots=True)
class ServiceFigures:
    tickets: int
    by_category: dict[int, int]
    by_channel: dict[str, int]
    by_county: dict[int, int]
    by_status: dict[str, int]
    to_dispatch: Durations
    to_accept: Durations
    to_finish: Durations
    companies: dict[int, CompanyFigures]
    revisit_days: int
    done: int
    revisited: int
    #: ``revisited / done`` in %.
    revisit_coverage: float | None
    information: int
    with_article: int
    #: ``with_article / information`` in %.
    article_share: float | None


def durations(seconds: Iterable[float]) -> Durations:
    """Count, average and nearest-rank 90th percentile of ``seconds`` (the percentile of
    the whole minutes, rounded down, given in seconds; negative spans, from clock skew,
    count as 0)."""
    values = [max(0.0, s) for s in seconds]
    if not values:
        return Durations(0, None, None)
    return minute_durations(Counter(math.floor(v / 60) for v in values), sum(values))


def minute_durations(minutes: Mapping[int, int], total_s: float) -> Durations:
    """``durations`` from a {whole minute: how many} histogram and the exact sum."""
    count = sum(minutes.values())
    if count <= 0:
        return Durations(0, None, None)
    top = p90(minutes)
    return Durations(count, total_s / count, None if top is None else top * 60)


def _share(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def _sorted(counter: Mapping) -> dict:
    return {k: counter[k] for k in sorted(counter, key=lambda v: (type(v).__name__, v))}


def _span(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds()


def service_figures(
    tickets: Iterable[TicketFact],
    jobs: Iterable[JobFact],
    revisits: Iterable[RevisitFact],
    complaints: Iterable[UpheldComplaint],
    since: datetime,
    until: datetime,
    revisit_days: int = DEFAULT_REVISIT_DAYS,
) -> ServiceFigures:
    """The service figures of ``[since, until)`` (see the module's definitions). Rows
    outside the period are ignored, except revisits, which count for coverage up to
    ``revisit_days`` after a job of the period was done."""
    if revisit_days < 0:
        raise ValueError("revisit_days must be 0 or more")

    def within(at: datetime | None) -> bool:
        return at is not None and since <= at < until

    period_tickets = [t for t in tickets if within(t.created_at)]
    all_jobs = list(jobs)
    period_jobs = [j for j in all_jobs if within(j.dispatched_at)]
    all_revisits = list(revisits)

    to_dispatch = durations(
        _span(t.created_at, t.first_dispatch_at)
        for t in period_tickets
        if t.first_dispatch_at is not None
    )
    to_accept = durations(
        _span(j.dispatched_at, j.accepted_at) for j in period_jobs if j.accepted_at is not None
    )
    to_finish = durations(
        _span(j.accepted_at, j.done_at)
        for j in period_jobs
        if j.accepted_at is not None and j.done_at is not None
    )

    companies: dict[int, dict[str, int]] = {}
    scores: dict[int, list[int]] = {}

    def company(cid: int) -> dict[str, int]:
        return companies.setdefault(
            cid, dict.fromkeys(("jobs", "declined", "done", "on_time", "upheld"), 0)
        )

    for j in period_jobs:
        c = company(j.company_id)
        c["jobs"] += 1
        c["declined"] += j.declined
        if j.done_at is not None:
            c["done"] += 1
            c["on_time"] += j.done_at <= j.finish_by
    for r in all_revisits:
        if within(r.at) and r.company_id:
            company(r.company_id)
            scores.setdefault(r.company_id, []).append(r.satisfaction)
    for u in complaints:
        if within(u.at) and u.company_id:
            company(u.company_id)["upheld"] += 1

    revisited_at: dict[int, list[datetime]] = {}
    for r in all_revisits:
        revisited_at.setdefault(r.ticket_id, []).append(r.at)
    window = timedelta(days=revisit_days)
    done_jobs = [j for j in all_jobs if within(j.done_at)]
    revisited = sum(
        1
        for j in done_jobs
        if any(j.done_at <= at <= j.done_at + window for at in revisited_at.get(j.ticket_id, ()))
    )
    information = sum(t.answered for t in period_tickets)
    with_article = sum(t.answered and t.with_article for t in period_tickets)
    return ServiceFigures(
        tickets=len(period_tickets),
        by_category=_sorted(Counter(t.category_id for t in period_tickets)),
        by_channel=_sorted(Counter(t.channel for t in period_tickets)),
        by_county=_sorted(Counter(t.county_id for t in period_tickets)),
        by_status=_sorted(Counter(t.status for t in period_tickets)),
        to_dispatch=to_dispatch,
        to_accept=to_accept,
        to_finish=to_finish,
        companies={
            cid: CompanyFigures(
                jobs=c["jobs"],
                declined=c["declined"],
                done=c["done"],
                on_time=c["on_time"],
                on_time_share=_share(c["on_time"], c["done"]),
                revisits=len(scores.get(cid, ())),
                satisfaction=(sum(scores[cid]) / len(scores[cid]) if scores.get(cid) else None),
                complaints_upheld=c["upheld"],
            )
            for cid, c in sorted(companies.items())
        },
        revisit_days=revisit_days,
        done=len(done_jobs),
        revisited=revisited,
        revisit_coverage=_share(revisited, len(done_jobs)),
        information=information,
        with_article=with_article,
        article_share=_share(with_article, information),
    )


@dataclass(frozen=True, slots=True)
class RollupRow:
    """One ``service_rollup_monthly`` row summed over the period's months (migration
    0019 says what each metric's keys are)."""

    county_id: int
    metric: str
    k1: str
    k2: int
    n: int
    total: float


def from_rollup(
    rows: Iterable[RollupRow], revisit_days: int = DEFAULT_REVISIT_DAYS
) -> ServiceFigures:
    """The same figures as ``service_figures`` from the monthly rollup's rows."""
    if revisit_days < 0:
        raise ValueError("revisit_days must be 0 or more")
    count: dict[str, Counter] = {}
    minutes: dict[str, Counter] = {}
    sums: dict[str, float] = {}
    company: dict[str, Counter] = {}
    rated_sum: Counter = Counter()
    done = revisited = 0
    for r in rows:
        m = r.metric
        if m in ("to_dispatch", "to_accept", "to_finish"):
            minutes.setdefault(m, Counter())[r.k2] += r.n
            sums[m] = sums.get(m, 0.0) + r.total
        elif m in ("jobs", "declined", "done", "on_time", "rated", "upheld"):
            company.setdefault(m, Counter())[r.k2] += r.n
            if m == "rated":
                rated_sum[r.k2] += r.total
        elif m == "coverage":
            done += r.n
            revisited += r.n if 0 <= r.k2 <= revisit_days else 0
        else:
            key = r.k2 if m == "category" else r.k1
            count.setdefault(m, Counter())[key] += r.n
            if m == "tickets":
                count.setdefault("county", Counter())[r.county_id] += r.n
    ids = sorted(set().union(*(c for c in company.values())) if company else set())

    def got(metric: str, cid: int) -> int:
        return company.get(metric, Counter())[cid]

    def nonzero(c: Counter | None) -> dict:
        return _sorted({k: v for k, v in (c or {}).items() if v})

    information = sum(count.get("information", Counter()).values())
    with_article = sum(count.get("with_article", Counter()).values())
    companies = {}
    for cid in ids:
        n_done, rated = got("done", cid), got("rated", cid)
        f = CompanyFigures(
            jobs=got("jobs", cid),
            declined=got("declined", cid),
            done=n_done,
            on_time=got("on_time", cid),
            on_time_share=_share(got("on_time", cid), n_done),
            revisits=rated,
            satisfaction=rated_sum[cid] / rated if rated else None,
            complaints_upheld=got("upheld", cid),
        )
        if f != CompanyFigures():
            companies[cid] = f
    return ServiceFigures(
        tickets=sum(count.get("tickets", Counter()).values()),
        by_category=nonzero(count.get("category")),
        by_channel=nonzero(count.get("channel")),
        by_county=nonzero(count.get("county")),
        by_status=nonzero(count.get("status")),
        to_dispatch=minute_durations(minutes.get("to_dispatch", {}), sums.get("to_dispatch", 0)),
        to_accept=minute_durations(minutes.get("to_accept", {}), sums.get("to_accept", 0)),
        to_finish=minute_durations(minutes.get("to_finish", {}), sums.get("to_finish", 0)),
        companies=companies,
        revisit_days=revisit_days,
        done=done,
        revisited=revisited,
        revisit_coverage=_share(revisited, done),
        information=information,
        with_article=with_article,
        article_share=_share(with_article, information),
    )
