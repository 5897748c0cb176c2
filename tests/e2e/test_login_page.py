"""The login page in a real browser: log in, land on the home page, log out."""

import pytest

from cti.store.users import Role
from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_login
from tests.live import live_server

pytestmark = pytest.mark.e2e


async def test_login_home_and_logout(browser, app, make_user):
    username = await make_user(Role.SUPERVISOR)
    async with live_server(app) as base:
        page = await browser_login(browser, base, username, PASSWORD)
        assert await page.text_content("h1") == f"Welcome, {username}"
        await page.click("text=Log out")
        await page.wait_for_url("**/login")
        await page.goto("/")
        assert "/login" in page.url  # the session is gone
        await page.context.close()


async def test_wrong_password_shows_an_error(browser, app, make_user):
    username = await make_user(Role.AGENT)
    async with live_server(app) as base:
        context = await browser.new_context(base_url=base)
        page = await context.new_page()
        await page.goto("/login")
        await page.fill("input[name=username]", username)
        await page.fill("input[name=password]", "wrong password here")
        await page.click("button[type=submit]")
        assert await page.text_content("[role=alert]") == "Wrong username or password."
        await context.close()
