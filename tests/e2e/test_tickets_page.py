"""The ticket pages in a real browser, from the keyboard only: an agent finds an
information ticket by a word of its description, opens it, writes a note, answers it and
closes it, and the timeline shows each step."""

import secrets

import pytest

from cti.store.users import Role
from tests.conftest import PASSWORD, csrf_of, login
from tests.e2e.conftest import browser_login
from tests.live import live_server

pytestmark = pytest.mark.e2e


async def _tab_to(page, text: str, limit: int = 40) -> None:
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if (await page.evaluate("document.activeElement.textContent")).strip() == text:
            return
    raise AssertionError(f"no focusable {text!r} reached by Tab")


async def test_agent_searches_opens_notes_answers_and_closes(browser, app, client, make_user):
    agent = await make_user(Role.AGENT, county="north")
    word = f"opening{secrets.token_hex(3)}"
    await login(client, agent)
    created = await client.post(
        "/api/tickets",
        json={
            "category": "family",
            "description": f"Asks the {word} hours of the <b>library</b>",
            "county": "north",
        },
        headers={"X-CSRF-Token": await csrf_of(client)},
    )
    number = created.json()["number"]
    async with live_server(app) as base:
        page = await browser_login(browser, base, agent, PASSWORD)
        await _tab_to(page, "Tickets")
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/tickets")

        await page.get_by_label("Words in description or notes").focus()
        await page.keyboard.type(word)
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"**/tickets?*q={word}*")
        rows = page.locator("table[data-testid=results] tbody tr")
        assert await rows.count() == 1
        assert "<b>library</b>" in await rows.first.text_content()  # text, not markup

        await page.get_by_role("link", name=number).focus()
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"**/tickets/{number}")
        assert await page.get_by_test_id("status").text_content() == "new"

        await page.get_by_label("Note", exact=True).focus()
        await page.keyboard.type("Read out the summer hours")
        await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")  # Add note
        timeline = page.get_by_test_id("timeline")
        await timeline.get_by_text("Read out the summer hours").wait_for()

        await page.get_by_label("Note for this step (optional)").focus()
        await page.keyboard.type("Answered on the call")
        await page.keyboard.press("Tab")  # the first button: Answer
        assert await page.evaluate("document.activeElement.textContent") == "Answer"
        await page.keyboard.press("Enter")
        await timeline.get_by_text("answer: new → answered").wait_for()
        assert await page.get_by_test_id("status").text_content() == "answered"

        await page.get_by_label("Note for this step (optional)").focus()
        await _tab_to(page, "Close", limit=5)
        await page.keyboard.press("Enter")
        await timeline.get_by_text("close: answered → closed").wait_for()
        assert await page.get_by_test_id("status").text_content() == "closed"
        entries = await timeline.locator("li").all_text_contents()
        assert len(entries) == 4  # created, the note, answered, closed
        await page.context.close()


async def test_a_pop_becomes_a_ticket_with_the_new_fields_and_links_to_it(
    browser, app, client, make_user
):
    phone = f"PJSIP/{70000 + secrets.randbelow(10**4)}"
    agent = await make_user(Role.AGENT, county="north", interface=phone)
    await login(client, agent)
    number = "1390013" + "".join(secrets.choice("0123456789") for _ in range(4))
    citizen = await client.post(
        "/api/citizens",
        json={"name": "Zhao Min", "phones": [number], "address": "7 Lake Rd, <flat 2>"},
        headers={"X-CSRF-Token": await csrf_of(client)},
    )
    pop = {
        "node": "pbx1",
        "linkedid": f"1801{secrets.randbelow(10**6)}.1",
        "state": "ringing",
        "caller": {"number": number, "name": "Zhao", "withheld": False},
        "county": "north",
        "did": "4000",
        "queue": "north",
        "citizens": [
            {
                "id": citizen.json()["id"],
                "name": "Zhao Min",
                "address": "7 Lake Rd, <flat 2>",
                "flags": [],
            }
        ],
        "open_tickets": [],
        "last_calls": [],
    }
    async with live_server(app) as base:
        page = await browser_login(browser, base, agent, PASSWORD)
        await page.goto("/agent")
        await page.wait_for_selector("[data-testid=link-state]:text('connected')")
        app.state.hub.dispatch(
            {
                "type": "pop",
                "interface": phone,
                "pop_id": f"pbx1:{pop['linkedid']}:{phone}",
                "pop": pop,
            }
        )
        card = page.get_by_test_id("pop")
        await card.wait_for()
        form = card.locator(".ticket-form")
        assert await form.get_by_label("Address").input_value() == "7 Lake Rd, <flat 2>"
        await form.get_by_label("Service").focus()
        await form.get_by_label("Service").select_option("maintenance.water")
        await page.keyboard.press("Tab")  # Priority
        await form.get_by_label("Priority").select_option("high")
        await page.keyboard.press("Tab")
        await page.keyboard.type("Pipe burst under the sink")
        await form.get_by_label("From", exact=True).fill("2026-12-09T09:00")
        await form.get_by_label("To", exact=True).fill("2026-12-09T12:00")
        await form.get_by_label("To", exact=True).press("Tab")
        await page.keyboard.press("Enter")  # Create ticket
        link = card.get_by_test_id("ticket-result").get_by_role("link")
        await link.wait_for()
        created = await link.text_content()
        await link.focus()
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"**/tickets/{created}")
        details = await page.get_by_test_id("details").text_content()
        assert "maintenance / maintenance.water" in details and "high" in details
        assert "7 Lake Rd, <flat 2>" in details and "Zhao Min" in details
        assert "2026-12-09T" in details  # the window, with the browser's offset
        kinds = await page.locator("[data-testid=timeline] li").evaluate_all(
            "els => els.map(e => e.dataset.kind)"
        )
        assert kinds == ["call", "event"]  # the call it was taken on, then its creation
        await page.context.close()


async def test_a_complaint_about_a_closed_ticket_opens_a_linked_ticket(
    browser, app, client, make_user
):
    """From the keyboard: the complaint form of a closed ticket opens a new ticket that names
    it, with the same service, county and citizen; the complaint text is kept as typed."""
    agent = await make_user(Role.AGENT, county="north")
    await login(client, agent)
    headers = {"X-CSRF-Token": await csrf_of(client)}
    created = await client.post(
        "/api/tickets",
        json={
            "category": "maintenance",
            "subcategory": "maintenance.water",
            "description": "Leaking tap",
            "county": "north",
        },
        headers=headers,
    )
    number = created.json()["number"]
    for action in ("answer", "close"):
        moved = await client.post(
            f"/api/tickets/{number}/transitions", json={"action": action}, headers=headers
        )
        assert moved.status_code == 201, moved.text
    async with live_server(app) as base:
        page = await browser_login(browser, base, agent, PASSWORD)
        await page.goto(f"/tickets/{number}")
        summary = page.get_by_text("Open a complaint ticket about it")
        await summary.focus()
        await page.keyboard.press("Enter")  # opens the <details>
        await page.get_by_label("What the citizen complains about").focus()
        await page.keyboard.type("Still leaking <again>")
        await page.keyboard.press("Tab")
        await page.keyboard.press("Enter")
        await page.wait_for_url(lambda url: "/tickets/T" in url and number not in url)
        complaint = page.url.rsplit("/", 1)[1]
        details = await page.get_by_test_id("details").text_content()
        assert "Complaint about" in details and number in details
        assert "maintenance / maintenance.water" in details and "north" in details
        assert await page.get_by_test_id("description").text_content() == "Still leaking <again>"
        await page.get_by_role("link", name=number).click()
        await page.wait_for_url(f"**/tickets/{number}")
        assert complaint in await page.get_by_test_id("details").text_content()
        await page.context.close()
