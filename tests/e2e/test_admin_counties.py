"""The county and catalogue pages in a real browser, driven from the keyboard: an admin
renames a county and changes the categories it offers, retires another county, reads both
audit entries, and deactivates a catalogue item.

Hostile input tried: markup in the new county name (shown as text, not run)."""

import secrets

import pytest
from sqlalchemy import delete

from cti.store.catalog import ServiceCategory
from cti.store.counties import County
from cti.store.users import Role
from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_login
from tests.live import live_server

pytestmark = pytest.mark.e2e


@pytest.fixture
async def two_counties(session_factory):
    """Two counties of this test's own (the run shares one database)."""
    codes = [f"e{secrets.token_hex(4)}" for _ in range(2)]
    async with session_factory() as db:
        for code in codes:
            db.add(County(code=code, name=f"County {code}", queue_name=f"county-{code}"))
        db.add(ServiceCategory(code=f"{codes[0]}cat", name="Boat repairs", sort_order=999))
        await db.commit()
    yield codes
    async with session_factory() as db:
        await db.execute(delete(County).where(County.code.in_(codes)))
        await db.execute(delete(ServiceCategory).where(ServiceCategory.code == f"{codes[0]}cat"))
        await db.commit()


async def tab_to(page, text: str, presses: int = 25) -> None:
    """Press Tab until the focused element's text is ``text`` (what a keyboard user does)."""
    for _ in range(presses):
        await page.keyboard.press("Tab")
        if (await page.evaluate("document.activeElement.textContent")).strip() == text:
            return
    raise AssertionError(f"no focusable {text!r} within {presses} tabs")


async def test_admin_edits_a_county_retires_another_and_reads_the_audit(
    browser, app, make_user, two_counties
):
    admin = await make_user(Role.ADMIN)
    edited, retired = two_counties
    async with live_server(app) as base:
        page = await browser_login(browser, base, admin, PASSWORD)
        await tab_to(page, "Counties")
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/admin/counties")

        await tab_to(page, edited, presses=200)
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"**/admin/counties/{edited}")
        form = page.get_by_test_id("edit-county")
        name = form.get_by_label("Name", exact=True)
        await name.focus()
        await page.keyboard.press("Control+A")
        await page.keyboard.type("Harbour <b>County</b>")
        await form.get_by_label("Family services").focus()
        await page.keyboard.press("Space")  # tick it
        await form.get_by_label("Boat repairs").focus()
        await page.keyboard.press("Space")
        await name.press("Enter")  # submits, like a click
        await page.get_by_test_id("message").wait_for()
        assert await page.get_by_test_id("message").text_content() == "Saved."
        assert "Harbour <b>County</b>" in await page.locator("h1").text_content()
        assert await form.get_by_label("Family services").is_checked()

        await page.goto("/admin/counties")
        row = page.locator(f'tr[data-code="{edited}"]')
        assert "family" in await row.text_content()
        assert f"{edited}cat" in await row.text_content()
        await page.get_by_role("link", name=retired, exact=True).focus()
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"**/admin/counties/{retired}")
        await page.get_by_role("button", name="Retire").focus()
        await page.keyboard.press("Enter")
        await page.get_by_test_id("message").wait_for()
        assert (await page.get_by_test_id("message").text_content()).startswith("Retired")
        assert await page.get_by_role("button", name="Bring back into service").is_visible()

        await tab_to(page, "Audit log")
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/admin/audit")
        await page.get_by_label("Action").fill("county.*")
        await page.get_by_label("Action").press("Enter")
        await page.wait_for_url("**action=county.*")
        rows = page.locator("table[data-testid=audit] tbody tr")
        retire_entry = await rows.nth(0).text_content()
        update_entry = await rows.nth(1).text_content()
        assert "county.retire" in retire_entry and retired in retire_entry
        assert admin in retire_entry
        assert "county.update" in update_entry and edited in update_entry
        assert "Harbour <b>County</b>" in update_entry and "family" in update_entry

        # the catalogue: deactivate the new item from the keyboard
        await tab_to(page, "Catalogue")
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/admin/catalogue")
        await page.get_by_role("button", name=f"Deactivate {edited}cat").focus()
        await page.keyboard.press("Enter")
        await page.get_by_role("button", name=f"Reactivate {edited}cat").wait_for()
        line = page.locator(f'tr[data-code="{edited}cat"]')
        assert "deactivated" in await line.text_content()
        await page.context.close()
