"""The public site, route by route, against the real app and Postgres: the catalogue, the
online order (a ticket of channel web, auto-dispatched where the county says so), the
status page (nothing without the matching phone), the company application and the
volunteer sign-up; every refusal a page with a 4xx and a count in /metrics.

Hostile input tried: markup, quotes and a script tag in the description, address and
name (stored verbatim, shown escaped); CR/LF in the name; NUL in the description; a
phone of letters; a filled honeypot; a form token sent at once, one three hours old, one
edited, one of another form; a field over its limit, a field the form does not have, a
body of 100 kB, a body that is not UTF-8, a JSON body; an eleventh order from one
address and a sixth from one phone; a ticket number with the wrong phone, with a phone
of another citizen, in lower case, and eleven look-ups of one ticket."""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from cti.citizens.service import create_citizen
from cti.numbers import NumberPlan
from cti.public import guard
from cti.public.account import site_account
from cti.store.citizens import Citizen, CitizenPhone
from cti.store.companies import Company, CompanyStatus, Dispatch
from cti.store.tickets import Ticket, TicketEvent
from cti.store.volunteers import Volunteer
from tests.conftest import login
from tests.integration.dispatch.factories import make_company, make_county

HOSTILE = 'Leak "now" <script>alert(1)</script> & <b>bold</b>'
NUMBER = re.compile(r'data-testid="ticket-number">(T[0-9-]+)<')


def mobile() -> str:
    """A mobile number no other test (or run) uses."""
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


def token(app, form: str, age_s: float = 5.0) -> str:
    """A token as the site would have served it ``age_s`` ago."""
    return guard.issue_token(app.state.public_site.secret, form, time.time() - age_s)


def order(app, **changes) -> dict[str, str]:
    data = {
        "token": token(app, "order"),
        "website": "",
        "lang": "en",
        "county": "north",
        "category": "maintenance.water",
        "description": HOSTILE,
        "address": "12 <i>Elm</i> Road",
        "preferred_date": "",
        "preferred_slot": "morning",
        "name": "Zhang <Wei>",
        "phone": mobile(),
    }
    data.update(changes)
    return data


async def tickets_for(session_factory, phone_key: str) -> list[Ticket]:
    async with session_factory() as db:
        return list(
            await db.scalars(
                select(Ticket)
                .join(CitizenPhone, CitizenPhone.citizen_id == Ticket.citizen_id)
                .where(CitizenPhone.number == phone_key)
            )
        )


async def metrics(client) -> str:
    return (await client.get("/metrics")).text


# --- the catalogue ----------------------------------------------------------------------


async def test_home_lists_the_counties_with_their_hotlines(client):
    got = await client.get("/site")
    assert got.status_code == 200
    assert 'name="viewport"' in got.text and 'lang="en"' in got.text
    assert "North County" in got.text and 'href="tel:9615601"' in got.text
    assert got.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in got.headers["content-security-policy"]
    assert "<script" not in got.text, "the site needs no JavaScript"


async def test_a_county_shows_its_services_and_approved_companies_with_ratings(
    client, session_factory
):
    async with session_factory() as db:
        county = await make_county(db)
        firm = await make_company(db, [county], name="<b>Fix & Co</b>")
        await make_company(
            db, [county], name=f"Pending {secrets.token_hex(3)}", status=CompanyStatus.APPLIED
        )
        await db.commit()
    got = await client.get(f"/site/counties/{county.code}")
    assert got.status_code == 200
    assert "&lt;b&gt;Fix &amp; Co&lt;/b&gt;" in got.text and firm.name not in got.text
    assert "Pending" not in got.text, "only approved companies are shown"
    section = got.text.split('data-category="maintenance"')[1].split("</section>")[0]
    assert "Fix &amp; Co" in section and 'class="score">50<' in section
    assert "Household appliances" in section, "the category's items are listed"


async def test_unknown_county_is_a_404_page(client):
    for code in ("nowhere", "x" * 300, "<script>"):
        got = await client.get(f"/site/counties/{code}")
        assert got.status_code == 404 and "Not found" in got.text


async def test_chinese_by_query_and_by_accept_language(client):
    got = await client.get("/site?lang=zh")
    assert 'lang="zh-CN"' in got.text and "家政服务热线" in got.text
    assert 'href="/site/order?lang=zh"' in got.text
    got = await client.get("/site/order", headers={"accept-language": "zh-CN,zh;q=0.9"})
    assert "在线下单" in got.text and 'name="lang" value="zh"' in got.text
    assert "Household services hotline" in (await client.get("/site")).text


# --- the order ------------------------------------------------------------------------


async def test_an_order_becomes_a_web_ticket_for_a_new_citizen(app, client, session_factory):
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    data = order(app, preferred_date=tomorrow.isoformat())
    got = await client.post("/site/order", data=data)
    assert got.status_code == 200, got.text
    number = NUMBER.search(got.text).group(1)
    assert f'href="/site/status?ticket={number}"' in got.text
    (ticket,) = await tickets_for(session_factory, data["phone"])
    assert ticket.number == number and ticket.channel == "web" and ticket.status == "new"
    assert ticket.description == HOSTILE and ticket.address == "12 <i>Elm</i> Road"
    assert ticket.preferred_end - ticket.preferred_start == timedelta(hours=4), "the morning"
    async with session_factory() as db:
        citizen = await db.get(Citizen, ticket.citizen_id)
        assert citizen.name == "Zhang <Wei>"
        assert ticket.author_id == (await site_account(db)).id
    assert 'cti_public_submissions_total{form="order"} 1' in await metrics(client)


async def test_an_order_commits_as_it_is_written_and_holds_no_rollup_lock(app, session_factory):
    """``place_order`` writes in autocommit: once it returns, before its session does
    anything more, the ticket is visible to another session, and the service rollup rows
    it updated (the ones every order of the county and month updates) are not locked: a
    ``FOR UPDATE NOWAIT`` on them succeeds. Inside a transaction they stayed locked until
    the COMMIT, and orders queued on them."""
    from sqlalchemy import text

    from cti.public.orders import check_order, place_order
    from cti.tickets.intake import Actor

    async with session_factory() as own:
        actor = Actor.of(await site_account(own))
        await own.commit()
    checked = check_order(order(app), NumberPlan(), today=datetime.now(UTC).date())
    offers: list[int] = []

    async def offer(ticket_id: int) -> None:
        offers.append(ticket_id)

    async with session_factory() as db:
        placed = await place_order(db, checked, actor, offer)
        async with session_factory() as other:
            seen = await other.get(Ticket, placed.ticket_id)
            assert seen is not None and seen.number == placed.number
            locked = await other.execute(
                text(
                    "SELECT n FROM service_rollup_monthly WHERE county_id = :county "
                    "AND month = date_trunc('month', :at AT TIME ZONE 'UTC')::date "
                    "FOR UPDATE NOWAIT"
                ),
                {"county": seen.county_id, "at": seen.created_at},
            )
            assert len(locked.all()) >= 4  # tickets, category, channel, status
            await other.rollback()
    assert offers == []  # north does not dispatch automatically


async def test_an_order_from_a_known_number_is_the_known_citizens(app, client, session_factory):
    phone = mobile()
    async with session_factory() as db:
        account = await site_account(db)
        known = await create_citizen(
            db, name="Known Caller", phones=[phone], plan=NumberPlan(), actor=account
        )
        await db.commit()
    got = await client.post("/site/order", data=order(app, phone=f"+86 {phone}", name="Other"))
    assert got.status_code == 200, got.text
    (ticket,) = await tickets_for(session_factory, phone)
    assert ticket.citizen_id == known.id
    async with session_factory() as db:
        notes = list(
            await db.scalars(select(TicketEvent.note).where(TicketEvent.ticket_id == ticket.id))
        )
    assert f"Ordered on the web site by Other (+86 {phone})." in notes, "nothing typed is lost"


async def test_an_order_in_an_auto_dispatch_county_is_offered_at_once(app, client, session_factory):
    async with session_factory() as db:
        county = await make_county(db, auto_dispatch=True)
        firm = await make_company(db, [county])
        await db.commit()
    data = order(app, county=county.code, category="maintenance")
    got = await client.post("/site/order", data=data)
    assert got.status_code == 200, got.text
    (ticket,) = await tickets_for(session_factory, data["phone"])
    assert ticket.status == "dispatched"
    async with session_factory() as db:
        dispatch = await db.scalar(select(Dispatch).where(Dispatch.ticket_id == ticket.id))
    assert dispatch.company_id == firm.id and dispatch.automatic
    shown = await client.post(
        "/site/status", data={"ticket": ticket.number, "phone": data["phone"]}
    )
    assert shown.status_code == 200 and firm.name in shown.text


async def test_an_invalid_order_shows_the_form_again_escaped_and_writes_nothing(
    app, client, session_factory
):
    data = order(app, phone="call me maybe", name="Bob\r\nX-Evil: 1")
    got = await client.post("/site/order", data=data)
    assert got.status_code == 422
    assert 'data-testid="error-phone"' in got.text and 'data-testid="error-name"' in got.text
    assert "<script>alert(1)</script>" not in got.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in got.text, "what was typed is kept"
    async with session_factory() as db:
        count = await db.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.description == HOSTILE)
        )
    before = count
    got = await client.post("/site/order", data=order(app, description="a\x00b"))
    assert got.status_code == 422 and 'data-testid="error-description"' in got.text
    got = await client.post("/site/order", data=order(app, county="east", category="nothing"))
    assert got.status_code == 422 and 'data-testid="error-category"' in got.text
    async with session_factory() as db:
        after = await db.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.description == HOSTILE)
        )
    assert after == before
    assert 'cti_public_refused_total{form="order",reason="invalid"} 3' in await metrics(client)


async def test_category_not_arranged_in_the_county_is_refused(app, client, session_factory):
    from cti.store.counties import CountyCategory
    from tests.integration.dispatch.factories import category_id

    async with session_factory() as db:
        county = await make_county(db)
        db.add(CountyCategory(county_id=county.id, category_id=await category_id(db, "family")))
        await db.commit()
    got = await client.post("/site/order", data=order(app, county=county.code))
    assert got.status_code == 422
    assert "not arranged in the county" in got.text


# --- refusals ---------------------------------------------------------------------------


async def _refusal(client, data, *, status: int, reason: str, **kwargs) -> None:
    got = await client.post("/site/order", data=data, **kwargs)
    assert got.status_code == status, got.text
    assert f'data-reason="{reason}"' in got.text and "Back to the form" in got.text


async def test_each_refusal_is_a_page_a_count_and_no_ticket(app, client, session_factory):
    page = await client.get("/site/order")
    fresh = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
    phone = mobile()
    cases = [
        (order(app, phone=phone, website="http://spam.example"), 400, "honeypot"),
        (order(app, phone=phone, token=fresh), 400, "too_fast"),
        (order(app, phone=phone, token=token(app, "order", 3 * 3600)), 400, "expired"),
        (order(app, phone=phone, token=token(app, "order")[:-3] + "abc"), 400, "forged"),
        (order(app, phone=phone, token=token(app, "join")), 400, "forged"),
        (order(app, phone=phone, token=""), 400, "forged"),
        (order(app, phone=phone, name="x" * 121), 413, "oversize"),
        (order(app, phone=phone, extra="what is this"), 413, "oversize"),
        (order(app, phone=phone, description="x" * 40_000), 413, "too_large"),
    ]
    for data, status, reason in cases:
        await _refusal(client, data, status=status, reason=reason)
    await _refusal(
        client,
        None,
        status=400,
        reason="invalid",
        content=b"name=\xff\xfe",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    got = await client.post("/site/order", json=order(app, phone=phone))
    assert got.status_code == 400
    assert await tickets_for(session_factory, phone) == []
    text = await metrics(client)
    for reason, count in (("honeypot", 1), ("too_fast", 1), ("expired", 1), ("forged", 3)):
        assert f'cti_public_refused_total{{form="order",reason="{reason}"}} {count}' in text
    assert 'cti_public_refused_total{form="order",reason="oversize"} 2' in text
    assert 'cti_public_refused_total{form="order",reason="too_large"} 1' in text


async def test_rate_limits_per_phone_and_per_address(app, client, session_factory):
    phone = mobile()
    for _ in range(5):
        assert (await client.post("/site/order", data=order(app, phone=phone))).status_code == 200
    await _refusal(client, order(app, phone=phone), status=429, reason="rate_phone")
    assert len(await tickets_for(session_factory, phone)) == 5
    # The same address, other phones: ten submissions an hour (the five above count).
    for _ in range(4):
        assert (await client.post("/site/order", data=order(app))).status_code == 200
    await _refusal(client, order(app), status=429, reason="rate_ip")
    text = await metrics(client)
    assert 'cti_public_refused_total{form="order",reason="rate_phone"} 1' in text
    assert 'cti_public_refused_total{form="order",reason="rate_ip"} 1' in text


# --- status -----------------------------------------------------------------------------


async def _placed(app, client, session_factory) -> tuple[str, str]:
    data = order(app)
    got = await client.post("/site/order", data=data)
    assert got.status_code == 200, got.text
    return NUMBER.search(got.text).group(1), data["phone"]


async def test_status_needs_the_number_and_the_phone_together(app, client, session_factory):
    number, phone = await _placed(app, client, session_factory)
    other_number, other_phone = await _placed(app, client, session_factory)
    shown = await client.post("/site/status", data={"ticket": number.lower(), "phone": phone})
    assert shown.status_code == 200, shown.text
    assert 'data-status="new"' in shown.text and "Received" in shown.text
    assert "Water equipment" not in shown.text and "Maintenance" in shown.text
    assert "Ordered on the web site" not in shown.text, "no notes are shown"
    assert "Zhang" not in shown.text and "Elm" not in shown.text
    shown = await client.post("/site/status", data={"ticket": number, "phone": f"0{phone}"})
    assert shown.status_code == 200, "any form of the same number"

    wrong_phone = await client.post("/site/status", data={"ticket": number, "phone": other_phone})
    missing = await client.post("/site/status", data={"ticket": "T1999-999999", "phone": phone})
    bad = await client.post("/site/status", data={"ticket": number, "phone": "letters"})
    for got in (wrong_phone, missing, bad):
        assert got.status_code == 404
        assert "No order matches" in got.text and 'data-testid="status"' not in got.text

    # The pages differ only in the number typed back into the form (its value; the
    # placeholder is an example number, which a run's ticket may happen to equal).
    def typed(page: str, typed_number: str) -> str:
        return page.replace(f'value="{typed_number}"', 'value="N"')

    same = typed(wrong_phone.text, number)
    assert same == typed(missing.text, "T1999-999999") == typed(bad.text, number)
    assert other_number not in wrong_phone.text
    assert 'cti_public_refused_total{form="status",reason="no_match"} 3' in await metrics(client)


async def test_status_look_ups_of_one_ticket_are_rate_limited(app, client, session_factory):
    number, phone = await _placed(app, client, session_factory)
    for _ in range(10):
        got = await client.post("/site/status", data={"ticket": number, "phone": mobile()})
        assert got.status_code == 404
    got = await client.post("/site/status", data={"ticket": number, "phone": phone})
    assert got.status_code == 429 and 'data-reason="rate_ticket"' in got.text


async def test_status_form_prefills_only_a_ticket_number(client):
    got = await client.get("/site/status?ticket=T2026-000123")
    assert 'value="T2026-000123"' in got.text
    got = await client.get('/site/status?ticket="><script>')
    assert "<script>" not in got.text and got.status_code == 200


# --- company application and volunteers -----------------------------------------------


def application(app, **changes) -> dict[str, object]:
    tag = secrets.token_hex(4)
    data: dict[str, object] = {
        "token": token(app, "join"),
        "website": "",
        "name": f"<b>Web Fix</b> {tag}",
        "licence_number": f"WEB-{tag}",
        "address": "1 Road",
        "phone": mobile(),
        "email": f"a{tag}@example.org",
        "categories": ["maintenance", "family"],
        "counties": ["north", "south"],
        "contact_name": "Li",
        "contact_phone": mobile(),
    }
    data.update(changes)
    return data


async def test_a_company_application_waits_for_review(app, client, session_factory):
    data = application(app)
    got = await client.post("/site/join", data=data)
    assert got.status_code == 200, got.text
    async with session_factory() as db:
        company = await db.scalar(
            select(Company).where(Company.licence_number == data["licence_number"])
        )
    assert company.status == "applied" and company.name == data["name"]
    assert f"A{company.id:06d}" in got.text
    again = await client.post(
        "/site/join", data=application(app, licence_number=data["licence_number"])
    )
    assert again.status_code == 422 and "Another company has this licence number" in again.text
    bad = await client.post("/site/join", data=application(app, counties=["atlantis"]))
    assert bad.status_code == 422 and 'data-testid="error-counties"' in bad.text
    assert "checked" in bad.text, "the boxes ticked stay ticked"
    refused = await client.post("/site/join", data=application(app, website="x"))
    assert refused.status_code == 400


async def test_volunteers_sign_up_and_admins_see_them_escaped(
    app, client, session_factory, make_user
):
    phone = mobile()
    data = {
        "token": token(app, "volunteer"),
        "website": "",
        "name": "<img src=x onerror=alert(1)>",
        "phone": phone,
        "county": "south",
        "skills": "Errands & <b>company</b>",
        "availability": "weekends",
        "note": "",
    }
    got = await client.post("/site/volunteer", data=data)
    assert got.status_code == 200, got.text
    async with session_factory() as db:
        row = await db.scalar(select(Volunteer).where(Volunteer.phone == phone))
    assert row.name == "<img src=x onerror=alert(1)>" and row.skills == "Errands & <b>company</b>"
    bad = await client.post(
        "/site/volunteer", data={**data, "token": token(app, "volunteer"), "county": "nowhere"}
    )
    assert bad.status_code == 422 and 'data-testid="error-county"' in bad.text

    await login(client, await make_user("agent"))
    assert (await client.get("/admin/volunteers")).status_code == 403
    await login(client, await make_user("admin"))
    page = await client.get("/admin/volunteers")
    assert page.status_code == 200
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text and "<img src=x" not in page.text


async def test_the_site_account_outlives_a_refused_first_order(app, client, session_factory):
    """The account is made in its own transaction: a first order rolled back (here: a
    county that does not exist) does not take the account the later orders name."""
    from cti.public.account import USERNAME
    from cti.store.users import User

    async with session_factory() as db:  # as on a fresh install: no site account yet
        await db.execute(
            update(User)
            .where(User.username == USERNAME)
            .values(username=f"old-site-{secrets.token_hex(3)}")
        )
        await db.commit()
    first = await client.post("/site/order", data=order(app, county="nowhere"))
    assert first.status_code == 422
    data = order(app)
    got = await client.post("/site/order", data=data)
    assert got.status_code == 200, got.text
    (ticket,) = await tickets_for(session_factory, data["phone"])
    async with session_factory() as db:
        assert ticket.author_id == (await site_account(db)).id
