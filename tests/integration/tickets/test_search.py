"""Ticket search against Postgres with real rows: each filter finds what it should and
nothing else, free text reads description and notes, pages follow the keyset."""

import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from cti.store.catalog import ServiceCategory
from cti.store.citizens import Citizen, CitizenPhone
from cti.store.companies import Company, CompanyStatus, Dispatch
from cti.store.counties import County
from cti.store.tickets import Ticket
from cti.tickets import access, search

ALL = access.Scope(everything=True)


async def test_each_filter_against_real_rows(session_factory, seeded):
    tag = secrets.token_hex(3)
    base = datetime(2031, 1, 1, tzinfo=UTC) + timedelta(days=int(tag, 16) % 1000)
    async with session_factory() as db:
        county = dict((await db.execute(select(County.code, County.id))).all())
        category = dict((await db.execute(select(ServiceCategory.code, ServiceCategory.id))).all())
        ada = Citizen(name=f"Ada O'Brien {tag}", phones=[CitizenPhone(number="13911112222")])
        bo = Citizen(name=f"Bo 100% {tag}", phones=[CitizenPhone(number="2155556666")])
        company = Company(
            name=f"Pipes {tag}", licence_number=f"P-{tag}", status=CompanyStatus.APPROVED.value
        )
        db.add_all([ada, bo, company])
        await db.flush()

        def ticket(i, **kw):
            return Ticket(
                number=f"T2031-{tag.upper()}{i}",
                created_at=base + timedelta(minutes=i),
                description=kw.pop("description", f"{tag} request {i}"),
                **kw,
            )

        rows = [
            ticket(
                0,
                citizen_id=ada.id,
                county_id=county["north"],
                category_id=category["family"],
                subcategory_id=category["family.nanny"],
                status="new",
            ),
            ticket(
                1,
                citizen_id=bo.id,
                county_id=county["south"],
                category_id=category["maintenance"],
                subcategory_id=category["maintenance.water"],
                status="dispatched",
                description=f"{tag} the hot water heater leaks",
            ),
            ticket(
                2,
                citizen_id=ada.id,
                county_id=county["south"],
                category_id=category["maintenance"],
                status="closed",
                notes_text="gas smell reported twice",
            ),
        ]
        db.add_all(rows)
        await db.flush()
        once = dict(ticket_id=rows[1].id, company_id=company.id, accept_by=base, finish_by=base)
        db.add(Dispatch(**once, status="withdrawn"))
        await db.flush()  # the same company again, after the centre took it back
        db.add(Dispatch(**once))
        await db.commit()
        copied = (
            await db.scalars(
                select(Dispatch.ticket_created_at).where(Dispatch.ticket_id == rows[1].id)
            )
        ).all()
        assert copied == [rows[1].created_at] * 2  # the trigger's copy of the ticket's time
        numbers = [r.number for r in rows]

        async def find(**kw):
            f = search.Filters(since=base, until=base + timedelta(hours=1), **kw)
            return [t.number for t in (await db.scalars(search.page_query(f, ALL))).all()]

        assert await find() == numbers[::-1]
        assert await find(number=numbers[1].lower()) == [numbers[1]]
        assert await find(citizen="o'brien") == [numbers[2], numbers[0]]
        assert await find(citizen="100%") == [numbers[1]]
        assert await find(citizen="100_") == []  # '_' is a letter here, not a wildcard
        assert await find(phone="+86 139-1111-2222") == [numbers[2], numbers[0]]
        assert (
            await find(phone="021 5555 6666")
            == await find(phone="+86 21 5555 6666")
            == [numbers[1]]
        )
        assert await find(phone="not a phone") == []
        assert await find(category_id=category["maintenance"]) == [numbers[2], numbers[1]]
        assert await find(subcategory_id=category["family.nanny"]) == [numbers[0]]
        assert await find(county_id=county["south"]) == [numbers[2], numbers[1]]
        assert await find(county_id=-1) == []
        assert await find(status="closed") == [numbers[2]]
        assert await find(company_id=company.id) == [numbers[1]] * 2  # once per dispatch
        page = (
            await db.scalars(search.page_query(search.Filters(company_id=company.id), ALL))
        ).all()
        assert [t.number for t in search.distinct_rows(page)] == [numbers[1]]  # as shown
        # company + status reads the dispatch's copy of the status, which follows the ticket
        status_now = rows[1].status
        assert await find(company_id=company.id, status=status_now) == [numbers[1]] * 2
        assert await find(company_id=company.id, status="cancelled") == []
        rows[1].status = "cancelled"
        await db.commit()
        assert await find(company_id=company.id, status="cancelled") == [numbers[1]] * 2
        assert await find(company_id=company.id, status=status_now) == []
        rows[1].status = status_now
        await db.commit()
        assert await find(text="water leaks") == [numbers[1]]
        assert await find(text='"hot water"') == [numbers[1]]
        assert await find(text="gas") == [numbers[2]]  # a note, not the description
        assert await find(text=f"{tag} -gas -water") == [numbers[0]]
        assert await find(text="'); drop table tickets; --") == []
        assert await find(
            county_id=county["south"], category_id=category["maintenance"], phone="13911112222"
        ) == [numbers[2]]
        assert await find(open_only=True) == [numbers[1], numbers[0]]
        assert (
            await db.scalars(
                search.page_query(
                    search.Filters(since=base), access.Scope(county_id=county["north"])
                )
            )
        ).all()[-1].number == numbers[0]

        first = (
            await db.scalars(
                search.page_query(
                    search.Filters(since=base, until=base + timedelta(hours=1)), ALL, limit=2
                )
            )
        ).all()
        assert [t.number for t in first] == numbers[::-1]  # 2 asked, 3rd says "older exists"
        after = (first[1].created_at, first[1].id)
        rest = (
            await db.scalars(
                search.page_query(
                    search.Filters(since=base, until=base + timedelta(hours=1)),
                    ALL,
                    after=after,
                    limit=2,
                )
            )
        ).all()
        assert [t.number for t in rest] == [numbers[0]]
