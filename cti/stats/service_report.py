"""The service part of a report: ``ServiceFigures`` as labelled tables. Pure.

Category, county and company names are typed by admins: the tables hold them as text,
and every rendering escapes them (``charts``, the template) or writes them as text
(``export``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cti.stats.service_figures import Durations, ServiceFigures


@dataclass(frozen=True, slots=True)
class Table:
    key: str
    title: str
    header: list[str]
    rows: list[list[object]]


@dataclass(frozen=True, slots=True)
class ServiceReport:
    title: str
    figures: ServiceFigures
    tables: list[Table]

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _name(names: Mapping[int, str], key: int) -> str:
    return "(none)" if key == 0 else names.get(key, f"#{key}")


def _counts(key: str, title: str, what: str, counts: Mapping, label) -> Table:
    rows: list[list[object]] = [[label(k), n] for k, n in counts.items()]
    rows.append(["total", sum(counts.values())])
    return Table(key, title, [what, "tickets"], rows)


def _hours(d: Durations) -> list[object]:
    """A duration row in hours (what a supervisor reads), one decimal."""
    avg = None if d.avg_s is None else round(d.avg_s / 3600, 1)
    p = None if d.p90_s is None else round(d.p90_s / 3600, 1)
    return [d.count, avg, p]


def build(title: str, f: ServiceFigures, names: Mapping[str, Mapping[int, str]]) -> ServiceReport:
    """The tables of ``f``: tickets by category / channel / county / status, the three
    times, the companies, revisit coverage and knowledge answers."""
    categories, counties = names.get("category", {}), names.get("county", {})
    companies = names.get("company", {})
    tables = [
        _counts(
            "category", "Tickets by category", "category", f.by_category,
            lambda k: _name(categories, k),
        ),
        _counts("channel", "Tickets by channel", "channel", f.by_channel, str),
        _counts(
            "county", "Tickets by county", "county", f.by_county, lambda k: _name(counties, k)
        ),
        _counts("status", "Tickets by status", "status", f.by_status, str),
        Table(
            "times",
            "Time to dispatch, accept and finish",
            ["step", "count", "avg h", "p90 h"],
            [
                ["to dispatch (created -> dispatched)", *_hours(f.to_dispatch)],
                ["to accept (dispatched -> accepted)", *_hours(f.to_accept)],
                ["to finish (accepted -> done)", *_hours(f.to_finish)],
            ],
        ),
        Table(
            "companies",
            "Companies",
            [
                "company", "jobs", "declined", "done", "done on time", "on time %",
                "revisits", "satisfaction (1-5)", "complaints upheld",
            ],
            [
                [
                    _name(companies, cid), c.jobs, c.declined, c.done, c.on_time,
                    _r(c.on_time_share), c.revisits,
                    None if c.satisfaction is None else round(c.satisfaction, 2),
                    c.complaints_upheld,
                ]
                for cid, c in f.companies.items()
            ],
        ),
        Table(
            "coverage",
            f"Revisit coverage (within {f.revisit_days} days of done)",
            ["jobs done", "revisited", "coverage %"],
            [[f.done, f.revisited, _r(f.revisit_coverage)]],
        ),
        Table(
            "knowledge",
            "Information tickets answered with a knowledge article",
            ["information tickets", "with an article", "share %"],
            [[f.information, f.with_article, _r(f.article_share)]],
        ),
    ]  # fmt: skip
    return ServiceReport(title=title, figures=f, tables=tables)
