"""The service section of /reports, its CSV and XLSX, and the monthly workbook's Service
sheet: figures from hand-built tickets, jobs and revisits in a far month drawn per run,
county scoping on every route, a hostile company name shown escaped and written as text."""

from __future__ import annotations

import csv
import io
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, select

from cti.store.catalog import ServiceCategory
from cti.store.companies import Company, Dispatch
from cti.store.counties import County
from cti.store.knowledge import Article, TicketArticleAnswer
from cti.store.revisits import Revisit
from cti.store.tickets import Ticket, TicketEvent
from tests.conftest import login

#: A month no other test writes tickets into (the run shares one database).
YEAR = 2100 + secrets.randbelow(800)
MONTH = f"{YEAR}-05"
H = timedelta(hours=1)
ROUTES = ("/reports", "/reports/service.csv", "/reports/service.xlsx", "/reports/monthly.xlsx")
#: An admin-typed company name that is also a spreadsheet formula and HTML.
HOSTILE = '=HYPERLINK("http://x.example")<script>window.__xss = 1</script>'


def at(day: int, hour: int = 9) -> datetime:
    return datetime(YEAR, 5, day, hour, tzinfo=UTC)


@pytest.fixture
async def service(session_factory, seeded):
    tag = uuid.uuid4().hex[:10]
    async with session_factory() as db:
        counties = {c.code: c for c in (await db.scalars(select(County))).all()}
        categories = {c.code: c for c in (await db.scalars(select(ServiceCategory))).all()}
        company = Company(name=HOSTILE + tag, licence_number=f"LIC-RS-{tag}", status="applied")
        article = Article(title=f"How to read the meter {tag}", body="Look at it.")
        db.add_all([company, article])
        await db.flush()

        def ticket(n, county, created, status, channel="phone", category="maintenance"):
            return Ticket(
                number=f"R{tag}{n}", county_id=counties[county].id,
                category_id=categories[category].id, status=status, channel=channel,
                created_at=created, description="",
            )  # fmt: skip

        leak = ticket(1, "north", at(3), "revisited")
        late = ticket(2, "north", at(4), "done", channel="sms")
        question = ticket(3, "south", at(5), "answered", channel="web")
        before = ticket(4, "north", datetime(YEAR, 4, 30, 23, tzinfo=UTC), "new")
        db.add_all([leak, late, question, before])
        await db.flush()
        db.add_all(
            [
                # leak: dispatched after 1 h, accepted after 2 h, done 5 h later, in time
                Dispatch(
                    ticket_id=leak.id, company_id=company.id, dispatched_at=at(3, 10),
                    accept_by=at(3, 12), finish_by=at(4), status="done",
                    accepted_at=at(3, 12), done_at=at(3, 17),
                ),
                # late: dispatched after 3 h, accepted after 1 h, done after 30 h: late
                Dispatch(
                    ticket_id=late.id, company_id=company.id, dispatched_at=at(4, 12),
                    accept_by=at(4, 14), finish_by=at(5), status="done",
                    accepted_at=at(4, 13), done_at=at(5, 19),
                ),
                # the leak revisited the next day: 4/5; the complaint about "late" upheld
                Revisit(ticket_id=leak.id, company_id=company.id, at=at(4, 10),
                        satisfaction=4, service_done=True),
                Revisit(ticket_id=late.id, company_id=company.id, at=at(20), satisfaction=1,
                        service_done=True, complaint=True, complaint_upheld=True),
            ]
        )  # fmt: skip
        event = TicketEvent(
            ticket_id=question.id, at=at(5), kind="answer", actor_name="agent",
            actor_role="agent", from_status="new", to_status="answered",
        )  # fmt: skip
        db.add(event)
        await db.flush()
        db.add(
            TicketArticleAnswer(
                event_id=event.id, ticket_id=question.id, article_id=article.id,
                article_version=1, county_id=counties["south"].id, answered_at=at(5),
            )
        )  # fmt: skip
        await db.commit()
        ids = [leak.id, late.id, question.id, before.id]
    yield {"counties": counties, "company": company.name}
    async with session_factory() as db:
        await db.execute(delete(Ticket).where(Ticket.id.in_(ids)))
        await db.execute(delete(Article).where(Article.id == article.id))
        await db.execute(delete(Company).where(Company.id == company.id))
        await db.commit()


def _sections(text: str) -> dict[str, list[list[str]]]:
    """The service CSV's tables by title: header then rows."""
    out: dict[str, list[list[str]]] = {}
    title = None
    for row in csv.reader(io.StringIO(text)):
        if not row:
            title = None
        elif title is None:
            title = row[0]
            out[title] = []
        else:
            out[title].append(row)
    return out


async def test_an_admin_reads_the_months_service_figures(client, make_user, service):
    await login(client, await make_user("admin"))
    reply = await client.get("/reports/service.csv", params={"month": MONTH})
    assert reply.status_code == 200
    assert f"hotline-service-{MONTH}.csv" in reply.headers["content-disposition"]
    got = _sections(reply.text)
    north, south = service["counties"]["north"].name, service["counties"]["south"].name
    assert dict(got["Tickets by county"][1:]) == {north: "2", south: "1", "total": "3"}
    channels = got["Tickets by channel"][1:]
    assert channels == [["phone", "1"], ["sms", "1"], ["web", "1"], ["total", "3"]]
    assert dict(got["Tickets by status"][1:]) == {
        "answered": "1", "done": "1", "revisited": "1", "total": "3",
    }  # fmt: skip
    times = {r[0].split(" (")[0]: r[1:] for r in got["Time to dispatch, accept and finish"][1:]}
    assert times["to dispatch"] == ["2", "2.0", "3.0"]  # 1 h and 3 h
    assert times["to accept"] == ["2", "1.5", "2.0"]  # 2 h and 1 h
    assert times["to finish"] == ["2", "17.5", "30.0"]  # 5 h and 30 h
    header, *rows = got["Companies"]
    company = dict(zip(header, next(r for r in rows if r[0] == "'" + service["company"])))
    assert (company["jobs"], company["done"], company["done on time"]) == ("2", "2", "1")
    assert company["on time %"] == "50.0"
    assert (company["revisits"], company["satisfaction (1-5)"]) == ("2", "2.5")
    assert company["complaints upheld"] == "1"
    assert got["Revisit coverage (within 7 days of done)"][1] == ["2", "1", "50.0"]
    knowledge = got["Information tickets answered with a knowledge article"]
    assert knowledge[1] == ["1", "1", "100.0"]
    wide = _sections(
        (await client.get("/reports/service.csv", params={"month": MONTH, "revisit_days": 30})).text
    )
    assert wide["Revisit coverage (within 30 days of done)"][1] == ["2", "2", "100.0"]


async def test_the_page_shows_the_service_section_escaped(client, make_user, service):
    await login(client, await make_user("admin"))
    page = await client.get("/reports", params={"month": MONTH})
    assert page.status_code == 200
    assert page.text.count('data-testid="service-section"') == 1
    assert page.text.count("<svg") == 4  # the calls' bars and the three service charts
    assert "<script>window.__xss" not in page.text
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in page.text


async def test_a_supervisor_sees_only_their_county_on_every_route(client, make_user, service):
    await login(client, await make_user("supervisor", county="south"))
    got = _sections((await client.get("/reports/service.csv", params={"month": MONTH})).text)
    south = service["counties"]["south"].name
    assert got["Tickets by county"][1:] == [[south, "1"], ["total", "1"]]
    assert got["Companies"][1:] == []  # the company's jobs were in the north
    book = load_workbook(
        io.BytesIO((await client.get("/reports/service.xlsx", params={"month": MONTH})).content)
    )
    cells = [c.value for row in book["Service"].iter_rows() for c in row if c.value]
    assert south in cells and service["counties"]["north"].name not in cells
    for route in ROUTES:
        other = await client.get(route, params={"month": MONTH, "county": "north"})
        assert other.status_code == 404, route
        own = await client.get(route, params={"month": MONTH, "county": "south"})
        assert own.status_code == 200, route


@pytest.mark.parametrize("role", ["agent", "inspector", "company"])
async def test_other_roles_may_not_read_the_service_report(client, make_user, role):
    await login(client, await make_user(role))
    for route in ("/reports/service.csv", "/reports/service.xlsx"):
        assert (await client.get(route)).status_code in (403, 404), route


@pytest.mark.parametrize(
    "params",
    [
        {"revisit_days": "-1"},
        {"revisit_days": "91"},
        {"revisit_days": "7; drop table tickets"},
        {"month": "2031-00"},
        {"county": "north' OR 1=1"},
    ],
)
async def test_hostile_parameters_are_refused(client, make_user, params):
    await login(client, await make_user("admin"))
    for route in ("/reports", "/reports/service.csv", "/reports/service.xlsx"):
        assert (await client.get(route, params=params)).status_code == 422, (route, params)


async def test_the_monthly_workbook_has_the_service_sheet(client, make_user, service):
    await login(client, await make_user("admin"))
    reply = await client.get("/reports/monthly.xlsx", params={"month": MONTH})
    book = load_workbook(io.BytesIO(reply.content))
    sheet = book["Service"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == [f"Service {YEAR}-05-01 to {YEAR}-06-01"] + [None] * (len(rows[0]) - 1)
    names = [r[0] for r in rows]
    assert "'" + service["company"] in names  # a formula written as text
    assert sheet._charts  # noqa: SLF001 (openpyxl keeps read charts there)
