"""The wallboard end to end, in a real browser: a small AMI server replays the captured
answered queue call (``ami-answered-queue-call.txt``) to the backend's real AMI listener
(real wiring: ``build_services`` adds the wallboard publisher), and the supervisor's open
board shows the caller waiting, the agent ringing, then in a call, then idle with the call
counted. Then the AMI link drops and the page says the board is stale, until the
reconnect. A south-only supervisor's board never shows north."""

from __future__ import annotations

import pytest

from cti.app import create_app
from cti.bus import InMemoryBus
from cti.store.users import Role
from tests.conftest import PASSWORD
from tests.e2e.conftest import answered_today, browser_login
from tests.integration.ami.fake_asterisk import FakeAsterisk
from tests.live import live_server
from tests.unit.ami.support import is_event, split_after, trace, without_login

pytestmark = pytest.mark.e2e


async def test_the_board_moves_with_a_replayed_call_and_says_when_it_is_stale(
    browser, settings, database_url, engine, session_factory, seeded, make_user
):
    supervisor = await make_user(Role.SUPERVISOR, county="north")
    south = await make_user(Role.SUPERVISOR, county="south")
    data = without_login(trace("ami-answered-queue-call.txt"))
    ringing, rest = split_after(data, is_event("QueueMemberStatus", Status="6"))
    answered, ended = split_after(rest, is_event("AgentConnect"))

    before = await answered_today(session_factory, "north")  # the board starts from it
    asterisk = FakeAsterisk()
    await asterisk.start()
    node_settings = settings.model_copy(
        update={"ami_url": [f"ami://hotline:hotline-secret@127.0.0.1:{asterisk.port}"]}
    )
    app = create_app(
        node_settings, database_url, roles={"api", "ami"}, engine=engine, bus=InMemoryBus()
    )
    try:
        async with live_server(app) as base:
            session = await asterisk.next_session()
            assert await session.login()
            session.serve_actions(trace("resync-empty.txt"))
            await session.resynced.wait()

            page = await browser_login(browser, base, supervisor, PASSWORD)
            await page.goto("/supervisor")
            link = page.locator("[data-testid=link-state]")
            await page.wait_for_selector("[data-testid=link-state]:text-is('live')")
            assert await page.locator("[data-testid=board-south]").count() == 0

            await session.write(ringing)
            await page.wait_for_selector("[data-testid=waiting-north]:text-is('1')")
            agent = page.locator("[data-testid=agents-north] [data-agent='PJSIP/1001']")
            await agent.locator("[data-testid=agent-state]:text-is('ringing')").wait_for()
            assert await agent.text_content() == "Agent 1001ringing"

            await session.write(answered)
            await page.wait_for_selector("[data-testid=waiting-north]:text-is('0')")
            answered = f"[data-testid=answered-north]:text-is('{before + 1}')"
            await page.wait_for_selector(answered)
            await agent.locator("[data-testid=agent-state]:text-is('in call')").wait_for()
            await session.write(ended)
            await agent.locator("[data-testid=agent-state]:text-is('idle')").wait_for()

            session.close()  # the AMI link drops: the board says so
            await page.wait_for_selector("[data-testid=link-state]:text-matches('stale')")
            assert "AMI link down" in await link.text_content()
            again = await asterisk.next_session()
            assert await again.login()
            again.serve_actions(trace("resync-empty.txt"))
            await again.resynced.wait()
            await page.wait_for_selector("[data-testid=link-state]:text-is('live')")
            # resync-empty lists 1001 idle in north: still right after the re-read.
            await agent.locator("[data-testid=agent-state]:text-is('idle')").wait_for()

            other = await browser_login(browser, base, south, PASSWORD)
            await other.goto("/supervisor")
            await other.wait_for_selector("[data-testid=link-state]:text-is('live')")
            assert await other.locator("[data-testid=board-north]").count() == 0
            assert await other.locator("[data-testid=board-south]").count() == 1
            for p in (page, other):
                await p.context.close()
    finally:
        await asterisk.stop()
