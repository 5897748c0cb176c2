"""Real-browser tests: Playwright driving Debian's chromium (no browser download)."""

from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@pytest.fixture(scope="session")
async def browser():
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        await browser.close()


async def browser_login(browser, base: str, username: str, password: str):
    """A fresh browser context logged in through the real login form; returns the page."""
    context = await browser.new_context(base_url=base)
    page = await context.new_page()
    await page.goto("/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/login" not in url)
    return page


async def answered_today(session_factory, county: str) -> int:
    """The calls of ``county`` answered today by the call rows: what the wallboard starts
    its "answered today" from (the run's other tests may have written some)."""
    from cti.wallboard.watch import AlertWatch

    watch = AlertWatch(session_factory)
    await watch.load()
    _day, figures = await watch.today()
    return figures[county].answered if county in figures else 0
