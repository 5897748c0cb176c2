"""/reports and its files: figures from hand-built calls, county scoping on every route,
CSV and XLSX read back, hostile parameters refused."""

from __future__ import annotations

import csv
import io
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, select

from cti.store.calls import Call
from cti.store.counties import County
from tests.conftest import login

#: A month of a far year drawn for this run: no other test writes calls into it (a fixed one
#: was shared with other tests' calls in the run's database).
YEAR = 2100 + secrets.randbelow(800)
MONTH = f"{YEAR}-03"
AT = datetime(YEAR, 3, 4, 10, tzinfo=UTC)
ROUTES = ("/reports", "/reports/calls.csv", "/reports/calls.xlsx", "/reports/monthly.xlsx")


@pytest.fixture
async def calls(session_factory, seeded):
    node = "reports-" + uuid.uuid4().hex[:8]
    async with session_factory() as db:
        counties = {c.code: c for c in (await db.scalars(select(County))).all()}

        def call(code, disposition, wait, talk=0):
            county = counties[code]
            answered = AT + timedelta(seconds=wait) if disposition == "answered" else None
            return Call(
                node=node, linkedid=uuid.uuid4().hex[:20], uniqueid="u", caller_number="",
                county_id=county.id, queue=county.queue_name, started_at=AT,
                answered_at=answered, ended_at=AT + timedelta(seconds=wait + talk),
                wait_s=wait, talk_s=talk, disposition=disposition,
            )  # fmt: skip

        db.add_all(
            [
                call("north", "answered", 4, 60),
                call("north", "answered", 30, 100),
                call("north", "abandoned", 45),
                call("south", "answered", 2, 20),
                call("south", "callback", 0),
            ]
        )
        await db.commit()
    yield counties
    async with session_factory() as db:
        await db.execute(delete(Call).where(Call.node == node))
        await db.commit()


def _csv(text):
    rows = list(csv.DictReader(io.StringIO(text)))
    return {r["county"]: r for r in rows}


async def test_admin_sees_every_county_with_its_figures(client, make_user, calls):
    await login(client, await make_user("admin"))
    page = await client.get("/reports", params={"month": MONTH})
    assert page.status_code == 200 and "<svg" in page.text
    assert calls["north"].name in page.text and calls["south"].name in page.text
    got = _csv((await client.get("/reports/calls.csv", params={"month": MONTH})).text)
    north, south, total = got[calls["north"].name], got[calls["south"].name], got["total"]
    assert (north["offered"], north["answered"], north["abandoned"]) == ("3", "2", "1")
    assert north["abandoned 30-60s"] == "1"
    assert north["service level %"] == "33.3"  # 4 s within 20 s; 30 s not
    assert north["p90 wait s"] == "30" and north["avg talk s"] == "80.0"
    assert (south["offered"], south["after hours callback"]) == ("1", "1")
    assert (total["offered"], total["answered"]) == ("4", "3")


async def test_a_supervisor_sees_only_their_county_on_every_route(client, make_user, calls):
    await login(client, await make_user("supervisor", county="north"))
    got = _csv((await client.get("/reports/calls.csv", params={"month": MONTH})).text)
    assert set(got) == {calls["north"].name, "total"}
    page = await client.get("/reports", params={"month": MONTH})
    assert calls["south"].name not in page.text
    book = load_workbook(
        io.BytesIO((await client.get("/reports/calls.xlsx", params={"month": MONTH})).content)
    )
    labels = [r[0].value for r in book.active.iter_rows(min_row=3)]
    assert calls["south"].name not in labels and calls["north"].name in labels
    for route in ROUTES:
        other = await client.get(route, params={"month": MONTH, "county": "south"})
        assert other.status_code == 404, route
        missing = await client.get(route, params={"month": MONTH, "county": "atlantis"})
        assert missing.status_code == 404, route
        own = await client.get(route, params={"month": MONTH, "county": "north"})
        assert own.status_code == 200, route


async def test_a_supervisor_of_all_counties_sees_all(client, make_user, calls):
    await login(client, await make_user("supervisor"))
    got = _csv((await client.get("/reports/calls.csv", params={"month": MONTH})).text)
    assert {calls["north"].name, calls["south"].name} <= set(got)


@pytest.mark.parametrize("role", ["agent", "inspector", "company"])
async def test_other_roles_may_not_read_reports(client, make_user, role):
    await login(client, await make_user(role))
    for route in ROUTES:
        assert (await client.get(route)).status_code in (403, 404), route


async def test_no_login_no_report(client):
    for route in ROUTES:
        assert (await client.get(route, headers={"accept": "application/json"})).status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {"month": "2031-13"},
        {"month": "31-03"},
        {"month": "2031-03'; drop table calls"},
        {"by": "planet"},
        {"county": "NORTH<script>"},
        {"short_abandon": "-1"},
        {"short_abandon": "9" * 30},
    ],
)
async def test_hostile_parameters_are_refused(client, make_user, params):
    await login(client, await make_user("admin"))
    for route in ROUTES:
        if route == "/reports/monthly.xlsx" and set(params) & {"by", "short_abandon"}:
            continue
        assert (await client.get(route, params=params)).status_code == 422, (route, params)


async def test_the_monthly_workbook_has_a_sheet_per_view_with_charts(client, make_user, calls):
    await login(client, await make_user("admin"))
    reply = await client.get("/reports/monthly.xlsx", params={"month": MONTH})
    assert reply.status_code == 200
    assert f"hotline-monthly-{MONTH}.xlsx" in reply.headers["content-disposition"]
    book = load_workbook(io.BytesIO(reply.content))
    assert book.sheetnames == [
        "By county", "By day", "By week", "By queue", "By hour of day", "By agent", "Service",
    ]  # fmt: skip
    by_day = book["By day"]
    assert [c.value for c in by_day[3]][:3] == [f"{MONTH}-04", 4, 3]
    assert by_day._charts  # noqa: SLF001 (openpyxl keeps read charts there)
