"""The knowledge base API: who may read and write, versions (edit, stale edit, history,
old version, restore), answering a ticket with an article (and the count per article for
the reports), the screen-pop's suggestions, the starter articles of the seed.

Hostile input tried: markup, script and javascript: links in titles and bodies (stored
verbatim; the rendering holds nothing active), NUL characters, oversized text, unknown
categories and counties, an article id for a move that is not an answer, a missing
article, ticket numbers that are not numbers, other counties' tickets for suggestions.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from cti.knowledge import usage
from cti.knowledge.starter import seed_key
from cti.store.counties import County
from cti.store.knowledge import Article, TicketArticleAnswer
from cti.store.tickets import TicketEvent
from cti.store.users import Role
from tests.conftest import csrf_of, login

HOSTILE_BODY = (
    "<script>alert(1)</script> [click](javascript:alert(1)) <img src=x onerror=alert(2)> "
    "'); DROP TABLE knowledge_articles;-- **bold**"
)


async def _as(client, make_user, role, county=None):
    await login(client, await make_user(role, county=county))
    return {"X-CSRF-Token": await csrf_of(client)}


@pytest.fixture
async def cleanup(session_factory):
    """Articles the test writes (by id) are removed at its end, with what cites them."""
    ids: list[int] = []
    yield ids
    async with session_factory() as db:
        await db.execute(delete(TicketArticleAnswer).where(TicketArticleAnswer.article_id.in_(ids)))
        await db.execute(delete(Article).where(Article.id.in_(ids)))
        await db.commit()


async def _article(client, headers, cleanup, **extra):
    body = {
        "title": f"Water heater {secrets.token_hex(3)}",
        "body": "Turn the **red** knob.",
        "category": "maintenance.water",
    } | extra
    response = await client.post("/api/knowledge/articles", json=body, headers=headers)
    assert response.status_code == 201, response.text
    cleanup.append(response.json()["id"])
    return response.json()


async def test_editors_and_admins_write_staff_read_companies_do_not(client, make_user, cleanup):
    for role in (Role.EDITOR, Role.ADMIN):
        headers = await _as(client, make_user, role)
        created = await _article(client, headers, cleanup)
        assert created["version"] == 1
    article_id = created["id"]
    for role in (Role.AGENT, Role.INSPECTOR, Role.SUPERVISOR):
        headers = await _as(client, make_user, role)
        assert (await client.get(f"/api/knowledge/articles/{article_id}")).status_code == 200
        assert (await client.get("/api/knowledge/articles?q=heater")).status_code == 200
        refused = await client.post(
            "/api/knowledge/articles",
            json={"title": "x", "category": "family"},
            headers=headers,
        )
        assert refused.status_code == 403
        edit = {"title": "x", "category": "family", "base_version": 1}
        put = await client.put(f"/api/knowledge/articles/{article_id}", json=edit, headers=headers)
        assert put.status_code == 403
        assert (
            await client.get(f"/api/knowledge/articles/{article_id}/versions")
        ).status_code == 403
    await _as(client, make_user, Role.COMPANY)
    assert (await client.get(f"/api/knowledge/articles/{article_id}")).status_code == 403
    assert (await client.get("/knowledge")).status_code == 403


async def test_every_edit_is_a_version_and_any_can_be_restored(client, make_user, cleanup):
    headers = await _as(client, make_user, Role.EDITOR)
    a = await _article(client, headers, cleanup, note="first text")
    url = f"/api/knowledge/articles/{a['id']}"
    edit = {
        "title": a["title"],
        "body": "Turn the **blue** knob.",
        "category": "maintenance.water",
        "county": "north",
        "note": "the knob is blue",
        "base_version": 1,
    }
    second = await client.put(url, json=edit, headers=headers)
    assert second.status_code == 200 and second.json()["version"] == 2
    assert second.json()["county"] == "north"
    # an edit made from version 1 again is stale: refused, nothing lost
    stale = await client.put(url, json=edit | {"body": "green"}, headers=headers)
    assert stale.status_code == 409 and "version 2" in stale.json()["detail"]
    # saving the same text again changes nothing: refused
    same = await client.put(url, json=edit | {"base_version": 2}, headers=headers)
    assert same.status_code == 422 and same.json()["fields"] == {"body": "nothing changed"}

    versions = (await client.get(f"{url}/versions")).json()
    assert [(v["version"], v["change"], v["note"]) for v in versions] == [
        (2, "body, county", "the knob is blue"),
        (1, "created", "first text"),
    ]
    assert all(v["editor"].startswith("editor-") for v in versions)
    old = (await client.get(f"{url}/versions/1")).json()
    assert old["body"] == "Turn the **red** knob." and "<strong>red</strong>" in old["html"]
    assert (await client.get(f"{url}/versions/9")).status_code == 404

    restored = await client.post(
        f"{url}/versions/1/restore", json={"note": "back"}, headers=headers
    )
    assert restored.status_code == 200
    assert (restored.json()["version"], restored.json()["body"]) == (3, "Turn the **red** knob.")
    assert restored.json()["county"] is None
    assert (await client.get(f"{url}/versions")).json()[0]["change"] == "restored version 1"
    again = await client.post(f"{url}/versions/3/restore", json={}, headers=headers)
    assert again.status_code == 422  # the current one


async def test_hostile_text_is_stored_verbatim_and_rendered_inert(client, make_user, cleanup):
    headers = await _as(client, make_user, Role.EDITOR)
    a = await _article(client, headers, cleanup, title="<b>Title</b> & 'quote'", body=HOSTILE_BODY)
    got = (await client.get(f"/api/knowledge/articles/{a['id']}")).json()
    assert got["title"] == "<b>Title</b> & 'quote'" and got["body"] == HOSTILE_BODY
    assert "<script" not in got["html"] and "<img" not in got["html"]
    assert "&lt;img src=x onerror=alert(2)&gt;" in got["html"]  # shown as the text it is
    assert 'href="javascript' not in got["html"] and "<strong>bold</strong>" in got["html"]
    page = await client.get(f"/knowledge/articles/{a['id']}")
    assert "<b>Title</b>" not in page.text and "&lt;b&gt;Title&lt;/b&gt;" in page.text
    assert "<script>alert(1)" not in page.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "", "category": "family"}, "title"),
        ({"title": "   ", "category": "family"}, "title"),
        ({"title": "x\x00", "category": "family"}, "title"),
        ({"title": "x" * 201, "category": "family"}, "title"),
        ({"title": "x", "body": "y" * 50_001, "category": "family"}, "body"),
        ({"title": "x", "category": "no.such"}, "category"),
        ({"title": "x", "category": "family", "county": "atlantis"}, "county"),
    ],
)
async def test_bad_input_names_the_field(client, make_user, body, field):
    headers = await _as(client, make_user, Role.EDITOR)
    response = await client.post("/api/knowledge/articles", json=body, headers=headers)
    assert response.status_code == 422
    assert field in response.json().get("fields", {}) or field in str(response.json())


async def test_unknown_filters_are_named(client, make_user):
    await _as(client, make_user, Role.AGENT)
    bad = await client.get("/api/knowledge/articles?category=nope")
    assert bad.status_code == 422 and "category" in bad.json()["fields"]
    assert (await client.get("/api/knowledge/articles?county=atlantis")).status_code == 422


async def _ticket(client, headers, category="info.tax", county="north", citizen_id=None):
    body = {"category": category, "description": "When is the tax office open?", "county": county}
    if citizen_id:
        body["citizen_id"] = citizen_id
    response = await client.post("/api/tickets", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["number"]


async def test_an_agent_answers_a_ticket_with_an_article_and_it_is_counted(
    client, make_user, cleanup, session_factory
):
    editor = await _as(client, make_user, Role.EDITOR)
    a = await _article(client, editor, cleanup, title="Tax office hours", category="info.tax")
    agent = await _as(client, make_user, Role.AGENT, "north")
    number = await _ticket(client, agent)
    url = f"/api/tickets/{number}/transitions"
    # only an answer names an article; a missing article is named
    refused = await client.post(
        url, json={"action": "cancel", "article_id": a["id"]}, headers=agent
    )
    assert refused.status_code == 422 and "article" in refused.json()["fields"]
    missing = await client.post(
        url, json={"action": "answer", "article_id": 2**31 - 1}, headers=agent
    )
    assert missing.status_code == 422 and "article" in missing.json()["fields"]
    assert (await client.get(f"/api/tickets/{number}")).json()["status"] == "new"

    since = datetime.now(UTC) - timedelta(seconds=5)
    answered = await client.post(
        url, json={"action": "answer", "note": "told her", "article_id": a["id"]}, headers=agent
    )
    assert answered.status_code == 201, answered.text
    assert (
        answered.json()["note"]
        == f"told her\nAnswered with article #{a['id']} “Tax office hours” (version 1)"
    )
    got = (await client.get(f"/api/tickets/{number}")).json()
    assert [(c["article_id"], c["version"]) for c in got["answered_with"]] == [(a["id"], 1)]
    page = await client.get(f"/tickets/{number}")
    assert f'href="/knowledge/articles/{a["id"]}"' in page.text and "answered-with" in page.text

    until = datetime.now(UTC) + timedelta(seconds=5)
    async with session_factory() as db:
        north = await db.scalar(select(County.id).where(County.code == "north"))
        south = await db.scalar(select(County.id).where(County.code == "south"))
        counted = await usage.answered_with_article(db, since, until, north)
        mine = [u for u in counted if u.article_id == a["id"]]
        assert mine == [usage.ArticleUsage(a["id"], "Tax office hours", answers=1, tickets=1)]
        assert not [
            u
            for u in await usage.answered_with_article(db, since, until, south)
            if u.article_id == a["id"]
        ]
        assert not [
            u
            for u in await usage.answered_with_article(db, until, until + timedelta(days=1))
            if u.article_id == a["id"]
        ]
        # the answer row is the event's
        event = await db.scalar(
            select(TicketEvent)
            .where(TicketEvent.note.like("told her%"))
            .order_by(TicketEvent.id.desc())
        )
        link = await db.get(TicketArticleAnswer, event.id)
        assert (link.article_id, link.county_id) == (a["id"], north)


async def test_suggestions_for_the_callers_open_tickets(client, make_user, cleanup):
    editor = await _as(client, make_user, Role.EDITOR)
    tag = secrets.token_hex(3)
    item = await _article(
        client,
        editor,
        cleanup,
        title=f"A {tag} legal aid north",
        category="legal.aid",
        county="north",
    )
    top = await _article(
        client, editor, cleanup, title=f"B {tag} legal in general", category="legal"
    )
    south = await _article(
        client,
        editor,
        cleanup,
        title=f"C {tag} legal aid south",
        category="legal.aid",
        county="south",
    )
    agent = await _as(client, make_user, Role.AGENT, "north")
    citizen = await client.post(
        "/api/citizens",
        json={"name": f"Kb {tag}", "phones": [f"139{secrets.randbelow(10**8):08d}"]},
        headers=agent,
    )
    assert citizen.status_code == 201, citizen.text
    citizen_id = citizen.json()["id"]
    number = await _ticket(client, agent, "legal.aid", "north", citizen_id)
    for query in (f"ticket={number}", f"citizen={citizen_id}"):
        got = await client.get(f"/api/knowledge/suggestions?{query}&limit=20")
        assert got.status_code == 200, got.text
        ids = [s["id"] for s in got.json()]
        # the item's articles before the category's; the south county's not at all
        assert item["id"] in ids and top["id"] in ids and south["id"] not in ids
        assert ids.index(item["id"]) < ids.index(top["id"])
        assert {s["ticket"] for s in got.json()} == {number}
    # another county's agent does not see the ticket: no suggestions from it
    await _as(client, make_user, Role.AGENT, "south")
    assert (await client.get(f"/api/knowledge/suggestions?ticket={number}")).json() == []
    assert (await client.get("/api/knowledge/suggestions?ticket=1;DROP")).status_code == 422
    assert (await client.get("/api/knowledge/suggestions")).status_code == 422
    await _as(client, make_user, Role.EDITOR)
    assert (await client.get(f"/api/knowledge/suggestions?ticket={number}")).status_code == 403


async def test_the_seed_made_starter_articles_once(client, make_user, session_factory):
    from cti.seed import seed

    async with session_factory() as db:
        keys = set(await db.scalars(select(Article.seed_key).where(Article.seed_key.isnot(None))))
        assert seed_key("family.nanny") in keys and seed_key("info.tax") in keys
        assert (await seed(db)).articles == 0  # a re-seed adds nothing
        await db.rollback()
    await _as(client, make_user, Role.AGENT)
    found = (await client.get("/api/knowledge/articles?q=nanny&category=family")).json()["results"]
    assert found[0]["title"] == "Live-in nanny" and found[0]["category"] == "family.nanny"
