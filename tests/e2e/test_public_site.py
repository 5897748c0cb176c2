"""The public site in a real browser, JavaScript off: order a service on a phone-sized
screen, get the ticket number, follow the link to the status page and see the order by
number and phone; a form sent at once is refused with a page saying why."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from tests.live import live_server

pytestmark = pytest.mark.e2e

PHONE_SCREEN = {"width": 375, "height": 740}


def mobile() -> str:
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


async def test_order_then_follow_it_without_javascript(browser, app):
    phone = mobile()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    async with live_server(app) as base:
        context = await browser.new_context(
            base_url=base, java_script_enabled=False, viewport=PHONE_SCREEN
        )
        page = await context.new_page()
        await page.goto("/site")
        await page.click("text=Order a service")
        await page.select_option("select[name=county]", "north")
        await page.select_option("select[name=category]", "maintenance.water")
        await page.fill("textarea[name=description]", "Tap drips <b>all night</b>")
        await page.fill("input[name=preferred_date]", tomorrow)
        await page.select_option("select[name=preferred_slot]", "afternoon")
        await page.fill("input[name=name]", "Chen Jing")
        await page.fill("input[name=phone]", f"+86 {phone}")
        box = await page.locator("input[name=website]").bounding_box()
        assert box is None or box["x"] + box["width"] <= 0, "the honeypot is off the screen"
        await page.wait_for_timeout(2200)  # a person takes longer than the minimum
        await page.click("button[type=submit]")
        number = await page.text_content("[data-testid=ticket-number]")
        assert number and number.startswith("T")
        await page.click("[data-testid=status-link]")
        assert await page.input_value("input[name=ticket]") == number
        await page.fill("input[name=phone]", phone)
        await page.click("button[type=submit]")
        assert await page.text_content("[data-testid=status-value]") == "Received"
        assert number in await page.text_content("h2")

        await page.fill("input[name=ticket]", number)
        await page.fill("input[name=phone]", mobile())
        await page.click("button[type=submit]")
        assert "No order matches" in await page.text_content("[data-testid=not-found]")
        await context.close()


async def test_the_pages_fit_a_phone_screen(browser, app):
    async with live_server(app) as base:
        context = await browser.new_context(base_url=base, viewport=PHONE_SCREEN)
        page = await context.new_page()
        for path in ("/site", "/site/counties/north", "/site/order", "/site/status?lang=zh"):
            await page.goto(path)
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE_SCREEN["width"], f"{path} scrolls sideways ({width}px)"
        await context.close()


async def test_an_order_sent_at_once_is_refused_with_a_page(browser, app):
    async with live_server(app) as base:
        context = await browser.new_context(base_url=base, java_script_enabled=False)
        page = await context.new_page()
        await page.goto("/site/order?lang=zh")
        await page.select_option("select[name=county]", "south")
        await page.select_option("select[name=category]", "family")
        await page.fill("textarea[name=description]", "保洁")
        await page.fill("input[name=name]", "王芳")
        await page.fill("input[name=phone]", mobile())
        await page.click("button[type=submit]")
        refusal = page.locator("[data-testid=refused]")
        assert await refusal.get_attribute("data-reason") == "too_fast"
        assert "太快" in await refusal.text_content()
        await context.close()
