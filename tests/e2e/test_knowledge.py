"""The knowledge base in a real browser: an agent searches and opens an article; an editor
edits it (the agent then reads the new text, the history shows both versions); and the
done-when of issue 15: a caller's pop suggests the article for their open ticket, the
agent opens it from the pop and answers the ticket with it.

The call is the captured answered queue call (``ami-answered-queue-call.txt``) replayed by
a small AMI server to the backend's real AMI listener, with the caller's number and the
agent's phone changed to ones only this test uses (as ``test_screen_pop`` does).
"""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import delete, select

from cti.app import create_app
from cti.bus import InMemoryBus
from cti.citizens.service import create_citizen
from cti.knowledge import articles
from cti.store.knowledge import Article, TicketArticleAnswer
from cti.store.users import Role, User
from cti.tickets.service import create_ticket
from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_login
from tests.integration.ami.fake_asterisk import FakeAsterisk
from tests.live import live_server
from tests.unit.ami.support import is_event, split_after, trace, without_login

pytestmark = pytest.mark.e2e

PHONE = "PJSIP/8821"


@pytest.fixture
async def article(session_factory, make_user):
    """An article of this test's own about tax office hours (removed at the end)."""
    editor_name = await make_user(Role.EDITOR)
    tag = secrets.token_hex(3)
    async with session_factory() as db:
        editor = await db.scalar(select(User).where(User.username == editor_name))
        created = await articles.create(
            db,
            editor,
            articles.Draft(
                f"Tax office {tag} hours",
                "Open **Monday to Friday**, 9-17.",
                "info.tax",
                "north",
            ),
        )
        await db.commit()
        article_id = created.id
    yield article_id, tag, editor_name
    async with session_factory() as db:
        await db.execute(
            delete(TicketArticleAnswer).where(TicketArticleAnswer.article_id == article_id)
        )
        await db.execute(delete(Article).where(Article.id == article_id))
        await db.commit()


async def test_agent_searches_and_opens_then_editor_edits(browser, app, make_user, article):
    article_id, tag, editor_name = article
    agent = await make_user(Role.AGENT)
    async with live_server(app) as base:
        page = await browser_login(browser, base, agent, PASSWORD)
        await page.click("nav.main-nav >> text=Knowledge")
        await page.fill("[data-testid=kb-q]", f"tax {tag}")
        await page.keyboard.press("Enter")
        result = page.locator("[data-testid=kb-result]")
        await result.first.wait_for()
        assert await result.count() == 1
        await result.first.click()
        await page.wait_for_url(f"**/knowledge/articles/{article_id}")
        body = page.locator("[data-testid=kb-body]")
        assert await body.locator("strong").text_content() == "Monday to Friday"
        assert await page.locator("[data-testid=kb-edit]").count() == 0  # agents read only

        editor = await browser_login(browser, base, editor_name, PASSWORD)
        await editor.goto(f"/knowledge/articles/{article_id}")
        await editor.click("[data-testid=kb-edit]")
        await editor.fill(
            "[data-testid=kb-form-body]",
            "Open **Monday to Saturday**, 9-17. <script>alert(1)</script>",
        )
        await editor.fill("[data-testid=kb-form-note]", "Saturdays too")
        await editor.click("[data-testid=kb-save]")
        await editor.wait_for_url(f"**/knowledge/articles/{article_id}")
        assert "version 2" in await editor.locator("[data-testid=kb-meta]").text_content()
        await editor.click("[data-testid=kb-history]")
        rows = editor.locator("[data-testid=kb-versions] tbody tr")
        assert await rows.count() == 2
        assert "Saturdays too" in await rows.first.text_content()

        await page.reload()
        assert await body.locator("strong").text_content() == "Monday to Saturday"
        assert await body.locator("script").count() == 0
        assert "<script>alert(1)</script>" in await body.text_content()  # shown as text
        for p in (page, editor):
            await p.context.close()


def _call(number: str) -> tuple[bytes, bytes]:
    data = (
        trace("ami-answered-queue-call.txt")
        .replace(b"13800138000", number.encode())
        .replace(b"PJSIP/1001", PHONE.encode())
    )
    return split_after(without_login(data), is_event("AgentCalled"))


async def test_the_pop_suggests_the_article_and_the_agent_answers_with_it(
    browser, settings, database_url, engine, session_factory, seeded, make_user, article
):
    article_id, tag, _ = article
    agent = await make_user(Role.AGENT, interface=PHONE, county="north")
    number = "1380014" + "".join(secrets.choice("0123456789") for _ in range(4))
    async with session_factory() as db:
        author = await db.scalar(select(User).where(User.username == agent))
        citizen = await create_citizen(
            db, name="Li Min", phones=[number], plan=settings.number_plan, actor=author
        )
        ticket = await create_ticket(
            db,
            author=author,
            category_code="info.tax",
            description="When is the tax office open?",
            citizen_id=citizen.id,
            county_code="north",
        )
        await db.commit()
        ticket_number = ticket.number
    ringing, _ = _call(number)
    asterisk = FakeAsterisk()
    await asterisk.start()
    node = settings.model_copy(
        update={"ami_url": [f"ami://hotline:hotline-secret@127.0.0.1:{asterisk.port}"]}
    )
    app = create_app(node, database_url, roles={"api", "ami"}, engine=engine, bus=InMemoryBus())
    try:
        async with live_server(app) as base:
            session = await asterisk.next_session()
            assert await session.login()
            session.serve_actions(trace("resync-empty.txt"))
            await session.resynced.wait()
            page = await browser_login(browser, base, agent, PASSWORD)
            await page.goto("/agent")
            await page.wait_for_selector("[data-testid=link-state]:text('connected')")
            await session.write(ringing)
            pop = page.locator("[data-testid=pop]")
            await pop.wait_for()
            suggested = pop.locator("[data-testid=kb-suggestions] a", has_text=tag)
            await suggested.wait_for()
            assert ticket_number in await pop.locator("[data-testid=kb-suggestions]").text_content()
            # the pop's own search finds it too
            await pop.locator("[data-testid=kb-pop-q]").fill(f"tax {tag}")
            await pop.locator("[data-testid=kb-pop-q]").press("Enter")
            await pop.locator("[data-testid=kb-found] a", has_text=tag).wait_for()
            async with page.context.expect_page() as opened:
                await suggested.click()
            tab = await opened.value
            await tab.wait_for_load_state()
            assert "Monday to Friday" in await tab.locator("[data-testid=kb-body]").text_content()
            await tab.close()

            await page.goto(f"/tickets/{ticket_number}")
            await page.select_option("[data-testid=answer-article] select", str(article_id))
            await page.click("[data-testid=action-answer]")
            await page.wait_for_selector("[data-testid=status]:text('answered')")
            answered = page.locator("[data-testid=answered-with]")
            assert tag in await answered.text_content()
            assert (
                f"Answered with article #{article_id}"
                in await page.locator("[data-testid=timeline]").text_content()
            )
            await page.context.close()
    finally:
        await asterisk.stop()
