"""``/api/docs`` in a real browser: Swagger UI renders the whole API from the app's own
files, under the app's CSP, and "Try it out" runs as the logged-in user."""

import pytest

from cti.store.users import Role
from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_login
from tests.live import live_server

pytestmark = pytest.mark.e2e


async def test_swagger_ui_shows_every_operation_and_tries_one(browser, app, make_user):
    username = await make_user(Role.SUPERVISOR)
    async with live_server(app) as base:
        page = await browser_login(browser, base, username, PASSWORD)
        problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(str(e)))
        outside: list[str] = []
        page.on("request", lambda r: r.url.startswith(base) or outside.append(r.url))
        await page.goto("/api/docs")
        await page.wait_for_selector(".opblock", timeout=15000)
        schema = await (await page.request.get("/api/openapi.json")).json()
        operations = sum(len(ops) for ops in schema["paths"].values())
        assert await page.locator(".opblock").count() == operations
        assert problems == [] and outside == []  # no CSP violation, no script, no CDN

        me = page.locator(".opblock", has_text="/api/me").first
        await me.locator(".opblock-summary").click()
        await me.locator("button.try-out__btn").click()
        await me.locator("button.execute").click()
        body = me.locator(".responses-table.live-responses-table .microlight").first
        await body.wait_for(timeout=10000)
        assert f'"username": "{username}"' in await body.text_content()
        await page.context.close()


async def test_docs_need_a_login(browser, app):
    async with live_server(app) as base:
        context = await browser.new_context(base_url=base)
        page = await context.new_page()
        await page.goto("/api/docs")
        assert "/login" in page.url
        assert (await page.request.get("/api/openapi.json")).status == 401
        await context.close()
