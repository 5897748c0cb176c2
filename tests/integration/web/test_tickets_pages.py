"""The ticket pages: the lists (mine, my county's, overdue), the search form with every
filter, keyset "Older", and the ticket page with its buttons and timeline.

Hostile input tried: markup in a description and a note (shown escaped, never as markup),
SQL and NUL in the search fields, a forged "Older" cursor, a bad date and status.
"""

import re
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from cti.store.companies import Company, CompanyStatus, Dispatch
from cti.store.tickets import Ticket
from cti.store.users import Role
from tests.conftest import csrf_of, login

HTML = {"accept": "text/html"}
MARKUP = "<img src=x onerror=alert(1)> & <b>bold</b>"


async def _agent(client, make_user, county="north"):
    await login(client, await make_user(Role.AGENT, county=county))
    return {"X-CSRF-Token": await csrf_of(client)}


async def _new(client, headers, description="Needs a nanny", county="north", **extra):
    body = {"category": "family.nanny", "description": description, "county": county}
    response = await client.post("/api/tickets", json=body | extra, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["number"]


def _numbers(page: str) -> list[str]:
    return re.findall(r'<tr data-number="([^"]+)"', page)


async def test_mine_county_and_search_lists(client, make_user):
    headers = await _agent(client, make_user)
    mine = await _new(client, headers, description="tap dripping in the kitchen")
    other = await _agent(client, make_user)
    word = f"twins{secrets.token_hex(3)}"  # the run shares one database: a word of our own
    theirs = await _new(client, other, description=f"a nanny for {word}")

    page = await client.get("/tickets?tab=county", headers=HTML)
    assert page.status_code == 200
    shown = _numbers(page.text)  # newest first (other tests' tickets may be there too)
    assert theirs in shown and mine in shown and shown.index(theirs) < shown.index(mine)
    mine_page = await client.get("/tickets", headers=HTML)  # default tab: mine
    assert _numbers(mine_page.text) == [theirs]
    found = await client.get("/tickets", params={"q": word}, headers=HTML)
    assert _numbers(found.text) == [theirs]
    assert _numbers((await client.get("/tickets", params={"number": mine.lower()})).text) == [mine]

    await _agent(client, make_user, county="south")
    assert mine not in _numbers((await client.get("/tickets?tab=county")).text)
    assert _numbers((await client.get("/tickets", params={"number": mine})).text) == []


async def test_hostile_search_input_is_refused_or_matches_nothing(client, make_user):
    await _agent(client, make_user)
    nobody = f"zz{datetime.now(UTC).microsecond}"  # in no ticket: matches must be none
    for params in (
        {"q": f"'); DROP TABLE {nobody};--"},
        {"q": f'"unclosed {nobody} & | ! ('},
        {"citizen": "%_\\"},  # the wildcards typed are literal: no name has them
        {"phone": "<script>"},
        {"number": "' OR 1=1 --"},
    ):
        page = await client.get("/tickets", params=params, headers=HTML)
        assert page.status_code == 200, params
        assert _numbers(page.text) == [], params
    for params in (
        {"q": "a\x00b"},
        {"since": "yesterday"},
        {"status": "open'"},
        {"company": "1 OR 1"},
        {"after": "bm90IGEgY3Vyc29y"},
    ):
        page = await client.get("/tickets", params=params, headers=HTML)
        assert page.status_code == 422, params
        assert 'role="alert"' in page.text
    assert (await client.get("/tickets", params={"q": "x" * 201})).status_code == 422


async def test_older_pages_by_keyset(client, make_user, session_factory):
    headers = await _agent(client, make_user)
    word = f"pager{datetime.now(UTC).microsecond}"
    numbers = [await _new(client, headers, description=f"{word} {i}") for i in range(53)]
    first = await client.get("/tickets", params={"q": word}, headers=HTML)
    assert _numbers(first.text) == numbers[::-1][:50]
    older = re.search(r'href="/tickets\?([^"]+)" rel="next"', first.text).group(1)
    second = await client.get("/tickets?" + older.replace("&amp;", "&"), headers=HTML)
    assert _numbers(second.text) == numbers[::-1][50:]
    assert 'rel="next"' not in second.text


async def test_overdue_tab(client, make_user, session_factory):
    headers = await _agent(client, make_user, county="east")
    stale = await _new(client, headers, county="east")
    fresh = await _new(client, headers, county="east")
    late = await _new(client, headers, county="east")
    now = datetime.now(UTC)
    async with session_factory() as db:
        await db.execute(
            update(Ticket).where(Ticket.number == stale).values(created_at=now - timedelta(hours=3))
        )
        company = Company(
            name=f"Late Ltd {now.timestamp()}",
            licence_number=f"L-{now.timestamp()}",
            status=CompanyStatus.APPROVED.value,
        )
        db.add(company)
        await db.flush()
        ticket = (
            await db.execute(
                update(Ticket)
                .where(Ticket.number == late)
                .values(status="dispatched")
                .returning(Ticket.id)
            )
        ).scalar_one()
        db.add(
            Dispatch(
                ticket_id=ticket,
                company_id=company.id,
                accept_by=now - timedelta(minutes=1),
                finish_by=now + timedelta(hours=5),
            )
        )
        await db.commit()
        company_id = company.id
    page = await client.get("/tickets?tab=overdue", headers=HTML)
    shown = _numbers(page.text)
    assert late in shown and stale in shown and fresh not in shown
    by_company = await client.get("/tickets", params={"company": company_id}, headers=HTML)
    assert _numbers(by_company.text) == [late]


async def test_ticket_page_shows_text_escaped_and_buttons_for_the_role(client, make_user):
    headers = await _agent(client, make_user)
    number = await _new(client, headers, description=MARKUP)
    note = await client.post(f"/api/tickets/{number}/notes", json={"note": MARKUP}, headers=headers)
    assert note.status_code == 201
    page = await client.get(f"/tickets/{number}", headers=HTML)
    assert page.status_code == 200
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
    assert 'data-testid="action-answer"' in page.text
    assert 'data-testid="action-cancel"' in page.text
    assert 'data-testid="action-dispatch"' not in page.text  # the dispatch part's own route
    assert "<script>" not in page.text.replace('<script src="/static/ticket.js" defer>', "")

    await login(client, await make_user(Role.INSPECTOR, county="north"))
    read_only = await client.get(f"/tickets/{number}", headers=HTML)
    assert read_only.status_code == 200 and 'data-testid="work"' not in read_only.text

    await login(client, await make_user(Role.AGENT, county="west"))
    assert (await client.get(f"/tickets/{number}", headers=HTML)).status_code == 404
    await login(client, await make_user(Role.COMPANY))
    assert (await client.get(f"/tickets/{number}", headers=HTML)).status_code == 403
    assert (await client.get("/tickets", headers=HTML)).status_code == 403
