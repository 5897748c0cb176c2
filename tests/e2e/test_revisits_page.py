"""The revisits page in a real browser: an agent opens /revisits from the bar, calls the
citizen of a done ticket (click-to-call against a small AMI server replaying the real
Originate exchange), sees the call connected, fills the revisit form with the keyboard
only, and the ticket ends closed."""

import pytest
from sqlalchemy import select

from cti.store.callbacks import CallbackRequest
from cti.store.revisits import Revisit
from cti.store.tickets import Ticket
from cti.store.users import Role
from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_login
from tests.integration.revisits.support import (
    answers,
    callback_request,
    dialing_app,
    done_ticket,
)
from tests.integration.revisits.test_click_to_call import phone
from tests.live import live_server

pytestmark = pytest.mark.e2e


async def test_agent_calls_the_citizen_and_records_the_revisit(
    browser, settings, database_url, engine, session_factory, seeded, make_user
):
    ticket = await done_ticket(
        session_factory, "north", citizen_name="Li <b>Na</b>", description="Boiler fixed?"
    )
    agent = await make_user(Role.AGENT, county="north", interface=phone())
    async with dialing_app(settings, database_url, engine, session_factory) as (
        app,
        _server,
        session,
        _dialer,
    ):
        session.canned["Originate"] = answers("queued", "answered")
        async with live_server(app) as base:
            page = await browser_login(browser, base, agent, PASSWORD)
            for _ in range(12):  # to the bar's link with the keyboard only
                await page.keyboard.press("Tab")
                if await page.evaluate("document.activeElement.textContent") == "Revisits":
                    break
            await page.keyboard.press("Enter")
            await page.wait_for_url("**/revisits")

            item = page.locator(f'li.revisit[data-ticket="{ticket.number}"]')
            assert "Li <b>Na</b>" in await item.text_content()  # as text, not markup
            call = item.get_by_role("button", name="Call Li <b>Na</b>")
            await call.focus()
            await page.keyboard.press("Enter")
            await page.locator('[data-testid=call-state][data-status="connected"]').wait_for()
            assert "Connected" in await page.get_by_test_id("call-state").text_content()
            assert session.actions().count("Originate") == 1

            # The form, by keyboard: satisfaction 1 -> arrows to 4, done "yes", a comment.
            await item.locator("input[name=satisfaction]").first.focus()
            for _ in range(3):
                await page.keyboard.press("ArrowRight")
            await page.keyboard.press("Tab")
            await page.keyboard.press("Space")
            await page.keyboard.press("Tab")
            await page.keyboard.type("Works again, <i>thanks</i>")
            await page.keyboard.press("Tab")  # the complaint box: left unticked
            await page.keyboard.press("Tab")
            assert await page.evaluate("document.activeElement.textContent") == "Save revisit"
            await page.keyboard.press("Enter")
            message = page.get_by_test_id("message")
            await page.locator("[data-testid=message]", has_text="revisited").wait_for()
            assert await message.text_content() == f"Ticket {ticket.number} revisited: now closed."
            assert await item.count() == 0
            await page.context.close()
    async with session_factory() as db:
        row = await db.scalar(select(Ticket).where(Ticket.number == ticket.number))
        revisit = await db.scalar(select(Revisit).where(Revisit.ticket_id == row.id))
    assert row.status == "closed"
    assert (revisit.satisfaction, revisit.service_done, revisit.complaint) == (4, True, False)
    assert revisit.comment == "Works again, <i>thanks</i>"
    assert revisit.outbound_call_id is not None


async def test_agent_claims_and_releases_a_callback_request(
    browser, settings, database_url, engine, session_factory, seeded, make_user
):
    """Claim shows the agent as holder; Release gives it back (the row says nobody, the
    request has no claim); a second Release says why it is refused."""
    request_id = await callback_request(session_factory, "north")
    agent = await make_user(Role.AGENT, county="north", interface=phone())
    async with dialing_app(settings, database_url, engine, session_factory) as (app, *_):
        async with live_server(app) as base:
            page = await browser_login(browser, base, agent, PASSWORD)
            await page.goto(f"{base}/revisits")
            row = page.locator(f'tr[data-callback="{request_id}"]')
            holder = row.locator("[data-field=claimed_by]")
            message = page.get_by_test_id("message")
            await row.get_by_role("button", name="Claim").click()
            await page.locator("[data-testid=message]", has_text="Claimed").wait_for()
            assert await holder.text_content() == agent
            await row.get_by_role("button", name="Release").click()
            await page.locator("[data-testid=message]", has_text="Released").wait_for()
            assert await holder.text_content() == "—"
            await row.get_by_role("button", name="Release").click()
            await page.locator("[data-testid=message]", has_text="Not released").wait_for()
            assert await message.text_content() == "Not released: the request is not claimed"
            await page.context.close()
    async with session_factory() as db:
        request = await db.get(CallbackRequest, request_id)
    assert request.claimed_by is None and request.claimed_at is None
