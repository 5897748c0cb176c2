"""The screen-pop end to end, in real browsers: a small AMI server replays the captured
answered queue call (``ami-answered-queue-call.txt``: 13800138000 dials 9615601, the
north queue rings PJSIP/1001, who answers) to the backend's real AMI listener, and the
agent whose phone rings sees the caller; the other agent sees nothing.

Three things are changed in the captured bytes, and only these: the caller's name becomes
``<img src=x onerror=...>`` (what a hostile caller can put in a SIP From display name;
it has no quote or backslash, so Asterisk would send it unescaped), the caller's number
becomes one only this test uses (so citizens made by other tests cannot match), and the
agent's phone PJSIP/1001 becomes PJSIP/8801 (interfaces are unique per user, and other
tests in the same database use 1001).
"""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from cti.app import create_app
from cti.bus import InMemoryBus
from cti.citizens.service import create_citizen
from cti.settings import Settings
from cti.store.users import Role, User
from cti.tickets.service import create_ticket
from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_login
from tests.integration.ami.fake_asterisk import FakeAsterisk
from tests.live import live_server
from tests.unit.ami.support import is_event, split_after, trace, without_login

pytestmark = pytest.mark.e2e

HOSTILE_NAME = "<img src=x onerror=alert(1)>"
CAPTURED_NUMBER = b"13800138000"
CAPTURED_NAME = b"Citizen North"
CAPTURED_PHONE = b"PJSIP/1001"
RINGING_PHONE = "PJSIP/8801"


def _call_stream(number: str, phone: str = RINGING_PHONE) -> tuple[bytes, bytes, bytes]:
    """The captured call, cut into: up to the agent's phone ringing, up to the answer,
    and the rest (hangup)."""
    data = trace("ami-answered-queue-call.txt")
    assert CAPTURED_NUMBER in data and CAPTURED_NAME in data
    data = (
        data.replace(CAPTURED_NUMBER, number.encode())
        .replace(CAPTURED_NAME, HOSTILE_NAME.encode())
        .replace(CAPTURED_PHONE, phone.encode())
    )
    ringing, rest = split_after(without_login(data), is_event("AgentCalled"))
    answered, ended = split_after(rest, is_event("AgentConnect"))
    return ringing, answered, ended


async def _known_caller(session_factory, number: str, agent: str) -> str:
    """A citizen on file for the caller's number, with one open ticket; returns its number."""
    async with session_factory() as db:
        author = await db.scalar(select(User).where(User.username == agent))
        citizen = await create_citizen(
            db,
            name="Wang Fang",
            phones=[number],
            plan=Settings(_env_file=None).number_plan,
            address="12 Elm Road, North County",
            flags=["elderly"],
            actor=author,
        )
        ticket = await create_ticket(
            db,
            author=author,
            category_code="family.nanny",
            description="Nanny for twins, weekday mornings",
            citizen_id=citizen.id,
            county_code="north",
        )
        await db.commit()
        return ticket.number


async def test_the_ringing_agent_sees_the_caller_and_nobody_else_does(
    browser, settings, database_url, engine, session_factory, seeded, make_user
):
    ringing_agent = await make_user(Role.AGENT, interface=RINGING_PHONE)
    other_agent = await make_user(Role.AGENT, interface="PJSIP/8802")
    number = "1380013" + "".join(secrets.choice("0123456789") for _ in range(4))
    ticket_number = await _known_caller(session_factory, number, other_agent)
    ringing, answered, ended = _call_stream(number)

    asterisk = FakeAsterisk()
    await asterisk.start()
    node_settings = settings.model_copy(
        update={"ami_url": [f"ami://hotline:hotline-secret@127.0.0.1:{asterisk.port}"]}
    )
    # The real wiring: build_services makes the AMI listener and the relay to the hub.
    app = create_app(
        node_settings, database_url, roles={"api", "ami"}, engine=engine, bus=InMemoryBus()
    )
    try:
        async with live_server(app) as base:
            session = await asterisk.next_session()
            assert await session.login()
            session.serve_actions(trace("resync-empty.txt"))
            await session.resynced.wait()

            pages = {}
            for username in (ringing_agent, other_agent):
                page = await browser_login(browser, base, username, PASSWORD)
                alerts: list[str] = []
                page.on("dialog", lambda d, seen=alerts: (seen.append(d.message), d.dismiss()))
                await page.goto("/agent")
                await page.wait_for_selector("[data-testid=link-state]:text('connected')")
                pages[username] = (page, alerts)
            page, alerts = pages[ringing_agent]
            other, other_alerts = pages[other_agent]

            await session.write(ringing)
            pop = page.locator("[data-testid=pop]")
            await pop.wait_for()
            assert await pop.locator("[data-testid=caller-name]").text_content() == HOSTILE_NAME
            assert await pop.locator("img").count() == 0  # shown as text, never as markup
            assert await pop.locator("[data-testid=caller-number]").text_content() == number
            assert "Wang Fang" in await pop.locator("[data-testid=citizen]").text_content()
            tickets = await pop.locator("[data-testid=open-tickets]").text_content()
            assert ticket_number in tickets and "Nanny for twins" in tickets
            assert await pop.locator("[data-field=status]").text_content() == "ringing"

            await session.write(answered)
            await page.wait_for_selector("[data-testid=pop] [data-field=status]:text('in call')")
            await session.write(ended)
            await page.wait_for_selector("[data-testid=pop] [data-field=status]:text('ended')")

            # The other agent's socket was open the whole time and got nothing.
            assert await other.locator("[data-testid=pop]").count() == 0
            assert await other.locator("#idle").is_visible()
            assert alerts == [] and other_alerts == []

            # A reload while the agent is still writing: the ended pop is still there
            # (the caller's name still text), until the agent closes it; then it stays gone.
            await page.reload()
            await page.wait_for_selector("[data-testid=link-state]:text('connected')")
            await page.wait_for_selector("[data-testid=pop] [data-field=status]:text('ended')")
            assert await pop.count() == 1
            assert await pop.locator("[data-testid=caller-name]").text_content() == HOSTILE_NAME
            await pop.locator("[data-testid=close-pop]").click()
            await pop.wait_for(state="detached")
            await page.reload()
            await page.wait_for_selector("[data-testid=link-state]:text('connected')")
            await page.wait_for_timeout(300)  # the snapshot follows hello at once
            assert await pop.count() == 0
            assert alerts == []
            for page_, _ in pages.values():
                await page_.context.close()
    finally:
        await asterisk.stop()


async def test_a_dropped_agent_socket_reconnects_to_the_current_pop_once(
    browser, settings, database_url, engine, session_factory, seeded, make_user
):
    """The agent's page is ringing; its WebSocket is dropped (Playwright stands between
    page and server and closes both sides, as a network blip would). The page reconnects
    and shows the pop it had, once; the call is answered while the page is connected again
    and the same card follows; a second drop during which the call ends reconnects to the
    one ended card, no duplicate. The caller's name is the hostile ``<img onerror>``; the
    phone is drawn per run (the other test here holds PJSIP/8801)."""
    phone = "PJSIP/88" + "".join(secrets.choice("0123456789") for _ in range(4))
    agent = await make_user(Role.AGENT, interface=phone)
    number = "1380013" + "".join(secrets.choice("0123456789") for _ in range(4))
    ringing, answered, ended = _call_stream(number, phone)

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

            page = await browser_login(browser, base, agent, PASSWORD)
            alerts: list[str] = []
            page.on("dialog", lambda d: (alerts.append(d.message), d.dismiss()))
            sockets = []

            def relay(route):
                route.connect_to_server()
                sockets.append(route)

            await page.route_web_socket("**/ws/agent", relay)
            link = "[data-testid=link-state]"
            await page.goto("/agent")
            await page.wait_for_selector(f"{link}:text('connected')")
            assert len(sockets) == 1

            await session.write(ringing)
            pop = page.locator("[data-testid=pop]")
            await pop.wait_for()
            assert await pop.locator("[data-field=status]").text_content() == "ringing"

            # Drop 1, mid-ring.
            await sockets[-1].close(code=1001, reason="network blip")
            await page.wait_for_selector(f"{link}:text('reconnecting')")
            await page.wait_for_selector(f"{link}:text('connected')")
            assert len(sockets) == 2
            await page.wait_for_timeout(300)  # the snapshot follows hello at once
            assert await pop.count() == 1
            assert await pop.locator("[data-field=status]").text_content() == "ringing"
            assert await pop.locator("[data-testid=caller-name]").text_content() == HOSTILE_NAME
            assert await pop.locator("img").count() == 0

            # The reconnected socket is live: the answer reaches the same card.
            await session.write(answered)
            await page.wait_for_selector("[data-testid=pop] [data-field=status]:text('in call')")
            assert await pop.count() == 1

            # Drop 2, mid-call; the call ends while the page is away.
            await sockets[-1].close(code=1001, reason="laptop sleep")
            await page.wait_for_selector(f"{link}:text('reconnecting')")
            await session.write(ended)
            await page.wait_for_selector(f"{link}:text('connected')")
            await page.wait_for_selector("[data-testid=pop] [data-field=status]:text('ended')")
            await page.wait_for_timeout(300)
            assert await pop.count() == 1
            assert len(sockets) == 3
            assert alerts == []
            await page.context.close()
    finally:
        await asterisk.stop()
