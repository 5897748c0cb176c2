"""The ticket page's dispatch panel in a real browser: an agent sees the suggested
companies with why, dispatches to the first from the keyboard, and the county's
supervisor withdraws it. A company name with markup is shown as text."""

from __future__ import annotations

import pytest

from cti.store.companies import CompanyStatus
from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_login
from tests.integration.dispatch.factories import (
    make_account,
    make_company,
    make_county,
    make_ticket,
)
from tests.live import live_server

pytestmark = pytest.mark.e2e


async def test_agent_dispatches_from_the_ticket_page_and_supervisor_withdraws(
    browser, app, session_factory
):
    async with session_factory() as db:
        county = await make_county(db, accept_within_minutes=30)
        best = await make_company(db, [county], name="<i>Fix & Co</i>")
        await make_company(db, [county], status=CompanyStatus.SUSPENDED)
        agent = await make_account(db, "agent", county=county.code)
        lead = await make_account(db, "supervisor", county=county.code)
        ticket = await make_ticket(db, agent, county)
        await db.commit()
    async with live_server(app) as base:
        page = await browser_login(browser, base, agent.username, PASSWORD)
        await page.goto(f"/tickets/{ticket.number}")
        rows = page.get_by_test_id("suggestions").locator("tbody tr")
        await rows.first.wait_for()
        assert await rows.count() == 1
        assert await rows.first.get_attribute("data-company-id") == str(best.id)
        text = await rows.first.text_content()
        assert "<i>Fix & Co</i>" in text and "no history yet" in text
        assert await page.locator("i", has_text="Fix").count() == 0  # text, not markup
        button = page.get_by_role("button", name="Dispatch to <i>Fix & Co</i>")
        await button.focus()
        await page.keyboard.press("Enter")
        # The page reloads: wait for the new status, then for the panel to show the dispatch.
        await page.get_by_test_id("status").filter(has_text="dispatched").wait_for()
        await page.get_by_test_id("dispatch-active").wait_for()
        active = await page.get_by_test_id("dispatch-active").text_content()
        assert "<i>Fix & Co</i>" in active and "offered" in active
        assert not await page.get_by_test_id("withdraw-form").is_visible()
        await page.context.close()

        page = await browser_login(browser, base, lead.username, PASSWORD)
        await page.goto(f"/tickets/{ticket.number}")
        form = page.get_by_test_id("withdraw-form")
        await form.wait_for()
        await form.get_by_label("Why take it back").fill("The citizen asked for another firm")
        await form.get_by_role("button", name="Withdraw from the company").click()
        await page.get_by_test_id("status").filter(has_text="declined").wait_for()
        await page.get_by_test_id("suggestions").locator("tbody tr").first.wait_for()
        assert not await page.get_by_test_id("dispatch-active").is_visible()
        await page.context.close()
