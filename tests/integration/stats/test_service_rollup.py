"""The service rollup (migration 0019's triggers) stays equal to the raw rows' figures
through every kind of write, each shown by the next report: tickets made, moved between
counties and statuses, dispatched, accepted, declined, done, revisited, answered with an
article, complained about, deleted. In a far month drawn per run (the run shares one
database)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from cti.stats.queries import Period
from cti.stats.service_queries import (
    period_figures,
    rollup_service_figures,
    service_period_figures,
)
from cti.store.catalog import ServiceCategory
from cti.store.companies import Company, Dispatch
from cti.store.counties import County
from cti.store.knowledge import Article, TicketArticleAnswer
from cti.store.revisits import Revisit
from cti.store.tickets import Ticket, TicketEvent

YEAR = 2100 + secrets.randbelow(800)
PERIOD = Period.month(YEAR, 7)


def at(day: int, hour: int = 9) -> datetime:
    return datetime(YEAR, 7, day, hour, tzinfo=UTC)


def _same(a, b) -> bool:
    """Equal figures (averages to the microsecond: the rollup sums floats in its order)."""

    def norm(value):
        if isinstance(value, float):
            return round(value, 6)
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        return value

    return norm(asdict(a)) == norm(asdict(b))


async def _check(db, counties):
    for scope in (None, [counties["north"].id], [counties["south"].id]):
        for days in (0, 7, 30):
            raw = await service_period_figures(db, PERIOD, scope, days)
            rolled = await rollup_service_figures(db, PERIOD, scope, days)
            assert _same(raw, rolled), (scope, days, raw, rolled)
    return await rollup_service_figures(db, PERIOD, None)


@pytest.fixture
async def world(session_factory, seeded):
    tag = uuid.uuid4().hex[:10]
    async with session_factory() as db:
        counties = {c.code: c for c in (await db.scalars(select(County))).all()}
        categories = {c.code: c for c in (await db.scalars(select(ServiceCategory))).all()}
        a = Company(name=f"A {tag}", licence_number=f"LIC-A-{tag}", status="applied")
        b = Company(name=f"B {tag}", licence_number=f"LIC-B-{tag}", status="applied")
        article = Article(title=f"Article {tag}", body="")
        db.add_all([a, b, article])
        await db.commit()
        made: list[int] = []
    yield {
        "tag": tag, "counties": counties, "categories": categories, "a": a.id, "b": b.id,
        "article": article.id, "made": made,
    }  # fmt: skip
    async with session_factory() as db:
        await db.execute(delete(Ticket).where(Ticket.id.in_(made)))
        await db.execute(delete(Article).where(Article.id == article.id))
        await db.execute(delete(Company).where(Company.id.in_([a.id, b.id])))
        await db.commit()


async def test_every_write_keeps_the_rollup_equal_to_the_raw_rows(session_factory, world):
    counties, w = world["counties"], world
    n = 0

    async def ticket(db, county, created, status="new", **extra):
        nonlocal n
        n += 1
        t = Ticket(
            number=f"S{w['tag']}{n}", county_id=counties[county].id,
            category_id=w["categories"]["maintenance"].id, status=status, created_at=created,
            description="", **extra,
        )  # fmt: skip
        db.add(t)
        await db.flush()
        w["made"].append(t.id)
        return t

    async with session_factory() as db:
        empty = await _check(db, counties)
        assert (empty.tickets, empty.done) == (0, 0)

        # made
        leak = await ticket(db, "north", at(2))
        quiz = await ticket(db, "south", at(3), channel="web")
        await db.commit()
        assert (await _check(db, counties)).tickets == 2

        # dispatched to A, declined; dispatched to B, accepted, done in time
        first = Dispatch(ticket_id=leak.id, company_id=w["a"], dispatched_at=at(2, 11),
                         accept_by=at(2, 12), finish_by=at(3), status="offered")  # fmt: skip
        db.add(first)
        await db.commit()
        f = await _check(db, counties)
        assert f.to_dispatch.count == 1 and f.companies[w["a"]].jobs == 1
        first.status, first.declined_at = "declined", at(2, 11) + timedelta(minutes=20)
        await db.commit()
        assert (await _check(db, counties)).companies[w["a"]].declined == 1
        second = Dispatch(ticket_id=leak.id, company_id=w["b"], dispatched_at=at(2, 13),
                          accept_by=at(2, 14), finish_by=at(4), status="offered")  # fmt: skip
        db.add(second)
        await db.commit()
        second.status, second.accepted_at = "accepted", at(2, 13) + timedelta(minutes=31)
        await db.commit()
        second.status, second.done_at = "done", at(3, 8)
        leak.status = "done"
        await db.commit()
        f = await _check(db, counties)
        assert f.companies[w["b"]].on_time == 1 and f.by_status["done"] == 1
        assert (f.done, f.revisited, f.to_finish.count) == (1, 0, 1)

        # revisited after 10 days: covered within 30 days, not within 7
        revisit = Revisit(ticket_id=leak.id, company_id=w["b"], dispatch_id=second.id,
                          at=at(13, 9), satisfaction=2, service_done=True)  # fmt: skip
        db.add(revisit)
        leak.status = "revisited"
        await db.commit()
        f = await _check(db, counties)
        assert (f.revisited, f.companies[w["b"]].satisfaction) == (0, 2.0)
        assert (await rollup_service_figures(db, PERIOD, None, 30)).revisited == 1
        revisit.at = at(5)  # a correction: it was 2 days after
        await db.commit()
        assert (await _check(db, counties)).revisited == 1

        # answered on the call with an article
        event = TicketEvent(
            ticket_id=quiz.id, at=at(3), kind="answer", actor_name="a", actor_role="agent",
            from_status="new", to_status="answered",
        )  # fmt: skip
        db.add(event)
        quiz.status = "answered"
        await db.commit()
        assert (await _check(db, counties)).information == 1
        db.add(TicketArticleAnswer(event_id=event.id, ticket_id=quiz.id,
                                   article_id=w["article"], article_version=1,
                                   county_id=counties["south"].id, answered_at=at(3)))  # fmt: skip
        await db.commit()
        assert (await _check(db, counties)).with_article == 1

        # a complaint ticket about the leak, upheld: against B (its last dispatch)
        complaint = await ticket(db, "north", at(20), complaint_of_id=leak.id)
        await db.commit()
        assert (await _check(db, counties)).companies[w["b"]].complaints_upheld == 0
        complaint.complaint_upheld = True
        await db.commit()
        assert (await _check(db, counties)).companies[w["b"]].complaints_upheld == 1
        # the leak dispatched again to A: the complaint now counts against A
        db.add(Dispatch(ticket_id=leak.id, company_id=w["a"], dispatched_at=at(21),
                        accept_by=at(21, 12), finish_by=at(23), status="offered"))  # fmt: skip
        await db.commit()
        f = await _check(db, counties)
        assert f.companies[w["a"]].complaints_upheld == 1
        assert f.companies[w["b"]].complaints_upheld == 0

        # the leak moves to the south, then into the next month (created_at corrected)
        await db.execute(
            update(Ticket).where(Ticket.id == leak.id).values(county_id=counties["south"].id)
        )
        await db.commit()
        await _check(db, counties)
        await db.execute(
            update(Ticket)
            .where(Ticket.id == quiz.id)
            .values(created_at=at(31, 23) + timedelta(hours=2))
        )
        await db.commit()
        f = await _check(db, counties)
        assert (f.tickets, f.information) == (2, 0)  # the leak and the complaint

        # deleted: everything it counted goes
        await db.execute(delete(Ticket).where(Ticket.id == leak.id))
        await db.commit()
        f = await _check(db, counties)
        assert (f.tickets, f.done, f.to_dispatch.count) == (1, 0, 0)
        assert f.companies == {}  # the complaint's ticket is gone: no company to blame
        next_month = Period.month(YEAR, 8)
        assert (await period_figures(db, next_month, None)).tickets == 1  # the quiz


async def test_a_period_that_is_not_whole_months_reads_the_raw_rows(session_factory, seeded):
    async with session_factory() as db:
        days = Period(PERIOD.start + timedelta(days=1), PERIOD.end)
        with pytest.raises(ValueError):
            await rollup_service_figures(db, days, None)
        assert (await period_figures(db, days, None)).tickets >= 0


async def test_concurrent_writers_of_one_ticket_keep_the_rollup_right(session_factory, world):
    """Two transactions change the same ticket at once (its dispatch accepted, its status
    moved): the second waits for the first's refresh, neither fails, the sums stay right."""
    import asyncio

    counties, w = world["counties"], world
    async with session_factory() as db:
        t = Ticket(
            number=f"C{w['tag']}", county_id=counties["north"].id, status="dispatched",
            created_at=at(9), description="",
        )  # fmt: skip
        db.add(t)
        await db.flush()
        w["made"].append(t.id)
        d = Dispatch(ticket_id=t.id, company_id=w["a"], dispatched_at=at(9, 10),
                     accept_by=at(9, 11), finish_by=at(10), status="offered")  # fmt: skip
        db.add(d)
        await db.commit()
        ticket_id, dispatch_id = t.id, d.id

    first_holds = asyncio.Event()

    async def accept():
        async with session_factory() as db:
            await db.execute(
                update(Dispatch).where(Dispatch.id == dispatch_id)
                .values(status="accepted", accepted_at=at(9, 10) + timedelta(minutes=5))
            )  # fmt: skip
            first_holds.set()
            await asyncio.sleep(0.5)  # the other writer runs into the lock meanwhile
            await db.commit()

    async def move():
        await first_holds.wait()
        async with session_factory() as db:
            await db.execute(update(Ticket).where(Ticket.id == ticket_id).values(status="accepted"))
            await db.commit()

    await asyncio.gather(accept(), move())
    async with session_factory() as db:
        f = await _check(db, counties)
        assert f.to_accept.count == 1 and f.by_status == {"accepted": 1}


async def test_a_transaction_writing_many_tickets_takes_no_lock_per_ticket(session_factory, world):
    """An import: 2,000 tickets in one statement. The refresh's lock must not be an entry
    in the shared lock table per ticket (the advisory lock 0019 had first): those run out
    past some tens of thousands in one transaction, "out of shared memory" (a bench's
    250,000-ticket load, the revision's own backfill of a large database). The row lock
    is kept in the row."""
    from sqlalchemy import text

    counties, w = world["counties"], world
    n = 2_000
    async with session_factory() as db:
        made = (
            await db.scalars(
                text(
                    "INSERT INTO tickets (number, county_id, status, channel, description, "
                    "created_at) SELECT 'I' || :tag || '-' || g, :county, 'new', 'web', "
                    "'imported', :at FROM generate_series(1, :n) g RETURNING id"
                ),
                {"tag": w["tag"], "county": counties["south"].id, "at": at(20), "n": n},
            )
        ).all()
        held = await db.scalar(text("SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid()"))
        await db.commit()
        w["made"].extend(made)
        f = await _check(db, counties)
    assert len(made) == n
    assert held < 100, f"{held} lock-table entries held by one transaction"
    assert f.by_channel.get("web") == n and f.by_status.get("new") == n


async def test_new_tickets_at_once_never_deadlock_on_the_rollup(session_factory, world):
    """Many new tickets of one county and month at once, one per transaction (the public
    site's orders): every refresh touches the same rollup rows (tickets, category,
    channel, status), so they must lock them in one order (migration 0022) or two of
    them deadlock, as 200 orders a second did (pooled sessions had planned the refresh's
    GROUP BY differently: hashed or sorted)."""
    import asyncio

    from sqlalchemy import text

    counties, w = world["counties"], world
    category_ids = [c.id for c in w["categories"].values() if c.parent_id is None][:4]
    channels = ("web", "phone", "sms")

    async def writer(k: int) -> list[int]:
        made = []
        for i in range(12):
            async with session_factory() as db:
                # Half the sessions group by hashing, half by sorting (each pooled session
                # plans the refresh its own way): without one given order, their upserts
                # lock the shared rows in different orders.
                plan = "enable_hashagg" if k % 2 else "enable_sort"
                await db.execute(text(f"SET LOCAL {plan} = off"))
                made.append(
                    await db.scalar(
                        text(
                            "INSERT INTO tickets (number, county_id, category_id, status, "
                            "channel, description, created_at) VALUES (:number, :county, "
                            ":category, 'new', :channel, '', :at) RETURNING id"
                        ),
                        {
                            "number": f"D{w['tag']}-{k}-{i}",
                            "county": counties["north"].id,
                            "category": category_ids[(k + i) % len(category_ids)],
                            "channel": channels[(k * 7 + i) % len(channels)],
                            "at": at(21),
                        },
                    )
                )
                await db.commit()
        return made

    results = await asyncio.gather(*(writer(k) for k in range(12)), return_exceptions=True)
    for made in results:
        if isinstance(made, list):
            w["made"].extend(made)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures[0]
    async with session_factory() as db:
        f = await _check(db, counties)
        definition = await db.scalar(
            text("SELECT pg_get_functiondef('service_rollup_refresh(int)'::regprocedure)")
        )
    assert f.by_status.get("new") == 144
    assert definition.count("ORDER BY 1, 2, 3, 4, 5") == 2
