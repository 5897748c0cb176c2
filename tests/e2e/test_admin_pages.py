"""The administrator's pages in a real browser, driven from the keyboard: a new admin adds
an agent with a county and a phone, reads the audit entry, and disables the agent."""

import secrets

import pytest

from cti.store.users import Role
from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_login
from tests.live import live_server

pytestmark = pytest.mark.e2e


async def test_admin_adds_an_agent_and_reads_the_audit_entry(browser, app, make_user):
    admin = await make_user(Role.ADMIN)
    phone = f"PJSIP/{60000 + secrets.randbelow(10**4)}"  # the run's database is shared
    app.state.agent_phones = frozenset({phone, "PJSIP/1001"})  # as if in pjsip.conf
    desk = f"desk-{secrets.token_hex(3)}"
    async with live_server(app) as base:
        page = await browser_login(browser, base, admin, PASSWORD)
        # From the home page to Users with the keyboard only: Tab until the bar's link.
        for _ in range(10):
            await page.keyboard.press("Tab")
            if await page.evaluate("document.activeElement.textContent") == "Users":
                break
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/admin/users")

        form = page.get_by_test_id("add-user")
        await form.get_by_label("Username").fill(desk)
        await form.get_by_label("Name shown").fill("Lan Wei")
        await form.get_by_label("Role").select_option("agent")
        await form.get_by_label("County").select_option("west")
        await form.get_by_label("Phone (agents)").select_option(phone)
        await form.get_by_label("Name shown").press("Enter")  # submits, like a click
        await page.get_by_test_id("created").wait_for()
        password = await page.get_by_test_id("new-password").text_content()
        assert len(password) >= 15
        row = page.locator(f'tr[data-username="{desk}"]')
        assert phone in await row.text_content() and "west" in await row.text_content()

        await page.get_by_role("link", name="Audit log").click()
        await page.get_by_label("Action").fill("user.create")
        await page.get_by_label("Action").press("Enter")
        entry = page.locator("table[data-testid=audit] tbody tr").first
        text = await entry.text_content()
        assert "user.create" in text and admin in text and desk in text
        assert password not in await page.content()

        await page.goto("/admin/users")
        await page.get_by_role("link", name=desk).click()
        await page.get_by_role("button", name="Disable (logs them out)").click()
        assert await page.get_by_test_id("message").text_content() == (
            "Disabled: logged out everywhere."
        )
        assert await page.get_by_role("button", name="Enable").is_visible()
        await page.context.close()
