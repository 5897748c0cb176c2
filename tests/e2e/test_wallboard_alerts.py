"""A wallboard alert end to end, in a real browser, with the real wiring (``build_services``
adds the alert watch and the publisher to the AMI side): an admin sets north to alert
above 0 calls waiting on the county page; a small AMI server replays the captured
answered queue call; the north supervisor's open board shows the alert while the caller
waits and drops it once the call is answered. A south supervisor's board never shows it.
north's settings are put back afterwards (the database is shared by the run)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from cti.app import create_app
from cti.bus import InMemoryBus
from cti.store.counties import County
from cti.store.reports import CountyServiceLevel
from cti.store.users import Role
from cti.store.wallboard import WallboardAlert
from tests.conftest import PASSWORD
from tests.e2e.conftest import answered_today, browser_login
from tests.integration.ami.fake_asterisk import FakeAsterisk, until
from tests.live import live_server
from tests.unit.ami.support import is_event, split_after, trace, without_login

pytestmark = pytest.mark.e2e


async def _restore_north(session_factory, before: CountyServiceLevel | None) -> None:
    async with session_factory() as db, db.begin():
        north = await db.scalar(select(County.id).where(County.code == "north"))
        row = await db.get(CountyServiceLevel, north)
        if before is None and row is not None:
            await db.delete(row)
        elif row is not None:
            for name in (
                "answer_within_s",
                "alert_waiting_above",
                "alert_longest_wait_s",
                "alert_no_agent",
                "alert_email",
            ):
                setattr(row, name, getattr(before, name))
        await db.execute(
            update(WallboardAlert)
            .where(WallboardAlert.county_id == north, WallboardAlert.cleared_at.is_(None))
            .values(cleared_at=WallboardAlert.raised_at)
        )


async def test_a_threshold_crossed_by_a_replayed_call_shows_the_alert(
    browser, settings, database_url, engine, session_factory, seeded, make_user
):
    admin = await make_user(Role.ADMIN)
    supervisor = await make_user(Role.SUPERVISOR, county="north")
    south = await make_user(Role.SUPERVISOR, county="south")
    async with session_factory() as db:
        north = await db.scalar(select(County.id).where(County.code == "north"))
        before = await db.get(CountyServiceLevel, north)
        if before is not None:
            db.expunge(before)
    data = without_login(trace("ami-answered-queue-call.txt"))
    ringing, rest = split_after(data, is_event("QueueMemberStatus", Status="6"))

    answered_before = await answered_today(session_factory, "north")  # the board starts there
    asterisk = FakeAsterisk()
    await asterisk.start()
    node_settings = settings.model_copy(
        update={
            "ami_url": [f"ami://hotline:hotline-secret@127.0.0.1:{asterisk.port}"],
            "alert_raise_after_s": 0.0,
            "alert_clear_after_s": 0.0,
        }
    )
    app = create_app(
        node_settings, database_url, roles={"api", "ami"}, engine=engine, bus=InMemoryBus()
    )
    watch = next(s for s in app.state.services if s.name == "wallboard-alerts")
    try:
        async with live_server(app) as base:
            session = await asterisk.next_session()
            assert await session.login()
            session.serve_actions(trace("resync-empty.txt"))
            await session.resynced.wait()

            setup = await browser_login(browser, base, admin, PASSWORD)
            await setup.goto("/admin/counties/north")
            await setup.fill("input[name=alert_waiting_above]", "0")
            await setup.click("[data-testid=edit-county] button[type=submit]")
            await setup.wait_for_selector("[data-testid=message]:text-is('Saved.')")
            # The save tells the AMI side over the bus; it re-reads north's settings.
            await until(lambda: watch.config["north"].thresholds.waiting_above == 0)

            page = await browser_login(browser, base, supervisor, PASSWORD)
            await page.goto("/supervisor?wall=1")
            await page.wait_for_selector("[data-testid=link-state]:text-is('live')")
            other = await browser_login(browser, base, south, PASSWORD)
            await other.goto("/supervisor")
            await other.wait_for_selector("[data-testid=link-state]:text-is('live')")

            await session.write(ringing)
            alert = page.locator("[data-testid=alerts-north] [data-testid=alert]")
            await alert.wait_for()
            assert await alert.get_attribute("data-kind") == "waiting"
            assert (await alert.text_content()).startswith("1 calls waiting (limit 0)")
            assert await page.locator("[data-testid=board-north].has-alert").count() == 1
            await other.wait_for_selector("[data-testid=waiting-south]")
            assert await other.locator("[data-testid=alert]").count() == 0

            # A board opened now gets the raised alert from the hub at once.
            late = await browser_login(browser, base, supervisor, PASSWORD)
            await late.goto("/supervisor")
            await late.locator("[data-testid=alerts-north] [data-testid=alert]").wait_for()

            await session.write(rest)
            answered = f"[data-testid=answered-north]:text-is('{answered_before + 1}')"
            await page.wait_for_selector(answered)
            await alert.wait_for(state="detached")
            assert await page.locator("[data-testid=board-north].has-alert").count() == 0
            for p in (setup, page, other, late):
                await p.context.close()
    finally:
        await asterisk.stop()
        await _restore_north(session_factory, before)
