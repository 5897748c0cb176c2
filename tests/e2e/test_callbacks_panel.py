"""A citizen calls a closed county whose after-hours action is a callback: the call's
FastAGI requests (as [hotline-after-hours] sends them) become a callback request, which
the county's agent sees on the console and closes after calling back."""

from __future__ import annotations

import re
import secrets

import pytest
from sqlalchemy import select

from cti.agi.service import AgiService
from cti.agi.writer import WriterOptions
from cti.settings import Settings
from cti.store.callbacks import CallbackRequest
from cti.store.calls import Call
from cti.store.users import Role
from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_login
from tests.integration.agi.conftest import wait_for
from tests.integration.agi.fake_asterisk import play
from tests.integration.agi.traffic import environment, linkedid, started
from tests.live import live_server

pytestmark = pytest.mark.e2e


def _query(i: int, end: bool) -> str:
    common = (
        f"linkedid={linkedid(i)}&county=north&queue=county-north&did=9615601&node="
        "&afterhours=callback"
    )
    if not end:
        return f"call-start?{common}&t={started(i)}"
    return (
        f"call-end?{common}&started={started(i)}&queued=&cause=16&answered=&dialed=&hold="
        f"&member=&queuestatus=&blindxfer=&attxfer=&t={started(i) + 9}"
    )


async def test_an_after_hours_callback_reaches_the_agent_and_is_closed(
    browser, app, make_user, session_factory, tmp_path
):
    node = f"e2e-{secrets.token_hex(4)}"
    settings = Settings(
        _env_file=None, data_dir=tmp_path / "agi", agi_bind="127.0.0.1:0", node_name=node
    )
    service = AgiService(
        settings, session_factory, writer_options=WriterOptions(poll_interval=0.05)
    )
    await service.start()
    try:
        i = 7_000_000 + secrets.randbelow(999_000)
        for end in (False, True):
            raw = environment(i, _query(i, end), "hotline-after-hours")
            assert (await play(service.port, [raw])).status == "OK"

        async def stored() -> CallbackRequest | None:
            async with session_factory() as db:
                return await db.scalar(
                    select(CallbackRequest)
                    .join(Call, Call.id == CallbackRequest.call_id)
                    .where(Call.node == node)
                )

        await wait_for(stored)
    finally:
        await service.stop()
    request = await stored()
    async with session_factory() as db:
        call = await db.get(Call, request.call_id)
    assert call.disposition == "callback" and request.status == "open"

    agent = await make_user(Role.AGENT, county="north", interface=None)
    async with live_server(app) as base:
        page = await browser_login(browser, base, agent, PASSWORD)
        await page.goto("/agent")
        item = page.locator(f"[data-testid=callback][data-id='{request.id}']")
        await item.wait_for()
        assert await item.locator("[data-field=number]").text_content() == request.number
        assert "not tried yet" in await item.text_content()

        await item.locator("input[name=note]").fill("<b>rang twice</b>")
        await item.locator("button[value=no_answer]").click()
        await (
            page.locator("[data-testid=callbacks] .result").filter(has_text="no answer").wait_for()
        )
        item = page.locator(f"[data-testid=callback][data-id='{request.id}']")
        assert re.search(r"1 attempt\(s\)", await item.text_content())
        # The note is shown as the text typed, not as markup.
        assert await item.locator("[data-field=note]").text_content() == "<b>rang twice</b>"
        assert await item.locator("[data-field=note] b").count() == 0

        await item.locator("button[value=reached]").click()
        await item.wait_for(state="detached")
        await page.context.close()
    async with session_factory() as db:
        closed = await db.get(CallbackRequest, request.id)
    assert (closed.status, closed.attempts, closed.note) == ("done", 2, "<b>rang twice</b>")
