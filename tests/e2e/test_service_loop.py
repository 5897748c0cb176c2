"""The whole service loop in a real browser, each role in its own browser: a call pops on
the agent's console and becomes a ticket; the agent dispatches it from the ticket page to
one of the companies suggested; the company accepts and finishes it in its portal; the agent
revisits it with a click-to-call from the ticket page (a small AMI server replays the real
Originate exchange), the revisit call's recording lands on the ticket, and the company's
rating moves.

What Asterisk would do between the Originate and the revisit form is done here the way the
product's own parts leave it: the FastAGI writer's call row for the revisit leg (its
Linkedid is the Originate's ChannelId) and the recordings indexer run on the captured
MixMonitor file of the real follow-up call, named by that Uniqueid.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from cti import accounts
from cti.citizens.service import create_citizen
from cti.numbers import NumberPlan
from cti.recordings.indexer import Indexer
from cti.store.calls import Call
from cti.store.counties import County
from cti.store.recordings import Recording
from cti.store.revisits import OutboundCall
from cti.store.tickets import Ticket
from cti.store.users import Role, User
from tests.companies import approved_company
from tests.conftest import PASSWORD, TRACES_DIR
from tests.e2e.conftest import browser_login
from tests.integration.revisits.support import answers, dialing_app, hangup_of
from tests.integration.revisits.test_click_to_call import phone
from tests.live import live_server

pytestmark = pytest.mark.e2e

FOLLOWUP_WAV = TRACES_DIR / "recordings" / "followup-13800138000-1795710973.6.wav"


async def _reputation(browser, base, admin: str, company_id: int) -> tuple[int, str]:
    """The score and its explanation, as the admin's company page shows them."""
    page = await browser_login(browser, base, admin, PASSWORD)
    await page.goto(f"/admin/companies/{company_id}")
    text = " ".join((await page.get_by_test_id("reputation").text_content()).split())
    await page.context.close()
    score = re.match(r"Reputation (\d+) / 100: (.*)", text)
    assert score, text
    return int(score.group(1)), score.group(2)


async def test_a_call_becomes_a_ticket_dispatched_done_revisited_and_rated(
    browser, settings, database_url, engine, session_factory, seeded, make_user, tmp_path
):
    company_name = f"Swift Plumbing {secrets.token_hex(3)}"
    company_id = await approved_company(session_factory, name=company_name)
    company_login = f"swift-{secrets.token_hex(3)}"
    interface = phone()
    agent = await make_user(Role.AGENT, county="north", interface=interface)
    admin = await make_user(Role.ADMIN)
    number = "1390014" + "".join(secrets.choice("0123456789") for _ in range(4))
    async with session_factory() as db:
        await accounts.create_user(
            db, username=company_login, role="company", password=PASSWORD, company_id=company_id
        )
        actor = await db.scalar(select(User).where(User.username == admin))
        citizen = await create_citizen(
            db, name="Zhou Lan", phones=[number], plan=NumberPlan(), actor=actor
        )
        await db.commit()
        citizen_id = citizen.id
        agent_row = await db.scalar(select(User).where(User.username == agent))
        north = await db.scalar(select(County).where(County.code == "north"))

    root = tmp_path / "recordings"
    root.mkdir()
    app_settings = settings.model_copy(update={"recordings_dir": root})
    async with (
        dialing_app(app_settings, database_url, engine, session_factory) as (app, _, ami, _d),
        live_server(app) as base,
    ):
        before, why = await _reputation(browser, base, admin, company_id)
        assert before == 50, why  # no facts yet: neutral

        # 1. The call pops on the agent's console; the agent writes the ticket from it.
        page = await browser_login(browser, base, agent, PASSWORD)
        await page.goto("/agent")
        await page.wait_for_selector("[data-testid=link-state]:text('connected')")
        linkedid = f"1801{secrets.randbelow(10**6)}.1"
        pop = {
            "node": "pbx1",
            "linkedid": linkedid,
            "state": "ringing",
            "caller": {"number": number, "name": "Zhou", "withheld": False},
            "county": "north",
            "did": "9615601",
            "queue": "county-north",
            "citizens": [{"id": citizen_id, "name": "Zhou Lan", "address": "", "flags": []}],
            "open_tickets": [],
            "last_calls": [],
        }
        app.state.hub.dispatch(
            {"type": "pop", "interface": interface, "pop_id": f"pbx1:{linkedid}", "pop": pop}
        )
        card = page.get_by_test_id("pop")
        await card.wait_for()
        form = card.locator(".ticket-form")
        await form.get_by_label("Service").select_option("maintenance.water")
        await form.get_by_label("Address").fill("5 River Road, flat 9")
        await form.get_by_label("Priority").press("Tab")
        await page.keyboard.type("The water heater leaks onto the floor")
        await form.get_by_role("button", name="Create ticket").click()
        link = card.get_by_test_id("ticket-result").get_by_role("link")
        await link.wait_for()
        ticket_number = (await link.text_content()).strip()
        await link.click()
        await page.wait_for_url(f"**/tickets/{ticket_number}")

        # 2. Dispatched from the ticket page to our company, among the suggestions (the
        # run's database has other tests' companies in the same county and category).
        ours = page.get_by_test_id("suggestions").locator(f'tr[data-company-id="{company_id}"]')
        await ours.wait_for()
        assert "no history yet" in await ours.text_content()
        await ours.get_by_role("button", name=f"Dispatch to {company_name}").click()
        await page.get_by_test_id("status").filter(has_text="dispatched").wait_for()

        # 3. The company accepts and finishes it in its portal.
        portal = await browser_login(browser, base, company_login, PASSWORD)
        await portal.goto("/portal")
        await portal.get_by_role("link", name=ticket_number).click()
        await portal.get_by_role("button", name="Accept").click()
        assert await portal.get_by_test_id("job-status").text_content() == "accepted"
        finish = portal.get_by_test_id("answer-finish")
        await finish.get_by_label("What was done").fill("New valve, heater dry")
        await finish.get_by_role("button", name="Finish").click()
        assert await portal.get_by_test_id("job-status").text_content() == "done"
        await portal.context.close()

        # 4. The agent revisits it from the ticket page: click-to-call rings the agent's
        # phone, then the citizen; the call's state and the form are on the revisits page.
        ami.canned["Originate"] = answers("queued", "answered")
        await page.reload()
        assert await page.get_by_test_id("status").text_content() == "done"
        await page.get_by_role("button", name="Call the citizen for the revisit").click()
        await page.wait_for_url(f"**/revisits#revisit-{ticket_number}")
        item = page.locator(f'li.revisit[data-ticket="{ticket_number}"]')
        await page.locator('[data-testid=call-state][data-status="connected"]').wait_for()
        assert ami.actions().count("Originate") == 1
        async with session_factory() as db:
            call = await db.scalar(
                select(OutboundCall).where(OutboundCall.agent_id == agent_row.id)
            )
        assert (call.number, call.interface, call.purpose) == (number, interface, "revisit")

        # What Asterisk and the FastAGI writer leave for that call, and its recording.
        started = datetime.now(UTC)
        async with session_factory() as db:
            db.add(
                Call(
                    node="pbx1",
                    linkedid=call.linkedid,
                    uniqueid=call.linkedid,
                    channel=f"{interface}-00000009",
                    direction="outbound",
                    caller_number=number,
                    county_id=north.id,
                    agent_interface=interface,
                    agent_id=agent_row.id,
                    started_at=started,
                    disposition="answered",
                )
            )
            await db.commit()
        await ami.write(hangup_of(call.linkedid))
        rel = f"{started:%Y%m%d}/{call.linkedid}.wav"
        (root / rel).parent.mkdir(parents=True)
        shutil.copyfile(FOLLOWUP_WAV, root / rel)
        indexer = Indexer(root, session_factory, settle_s=0)
        try:
            (outcome,) = await indexer.index_paths([rel])
        finally:
            indexer.close()
        assert outcome.recording_id is not None

        for _ in range(200):  # the Hangup ends the agent's call in progress
            async with session_factory() as db:
                if (await db.get(OutboundCall, call.id)).status == "ended":
                    break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the revisit call did not end on the agent's Hangup")

        # 5. The revisit form: very satisfied, the work was done.
        await item.locator("input[name=satisfaction][value='5']").check()
        await item.locator("input[name=service_done][value=yes]").check()
        await item.get_by_label("Comment").fill("Quick and tidy")
        await item.get_by_role("button", name="Save revisit").click()
        await page.locator("[data-testid=message]", has_text="revisited").wait_for()

        # 6. The ticket page: closed, and the revisit call with its recording, playable.
        await page.goto(f"/tickets/{ticket_number}")
        assert await page.get_by_test_id("status").text_content() == "closed"
        audio = page.locator(f'audio[src="/api/recordings/{outcome.recording_id}/audio"]')
        assert await audio.count() == 1
        await page.context.close()

        # 7. The company's rating moved with the revisit's score.
        after, why = await _reputation(browser, base, admin, company_id)
        assert after > before, why  # done in time, not declined, satisfaction 5

    async with session_factory() as db:
        ticket = await db.scalar(select(Ticket).where(Ticket.number == ticket_number))
        recording = await db.get(Recording, outcome.recording_id)
    assert ticket.status == "closed"
    assert recording.uniqueid == call.linkedid
