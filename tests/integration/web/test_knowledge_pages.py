"""The knowledge pages: search and browse for all staff, the editor's forms (new, edit, a
stale edit shown again with nothing lost, history, an old version, restore).

Hostile input tried: markup in the search box and in a title (shown escaped), unknown
filters (422 with why), a form without its CSRF token (refused).
"""

from __future__ import annotations

import re
import secrets

import pytest
from sqlalchemy import delete

from cti.store.knowledge import Article
from cti.store.users import Role
from tests.conftest import login


@pytest.fixture
async def written(session_factory):
    ids: list[int] = []
    yield ids
    async with session_factory() as db:
        await db.execute(delete(Article).where(Article.id.in_(ids)))
        await db.commit()


async def _csrf(client, url):
    page = await client.get(url)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


async def test_search_page_for_every_centre_role(client, make_user):
    for role in (Role.AGENT, Role.INSPECTOR, Role.SUPERVISOR, Role.ADMIN, Role.EDITOR):
        await login(client, await make_user(role))
        page = await client.get("/knowledge?q=nanny")
        assert page.status_code == 200
        assert 'href="/knowledge"' in page.text  # the navigation link
        assert "Live-in nanny" in page.text
        assert ("New article" in page.text) is (role in (Role.ADMIN, Role.EDITOR))
    hostile = await client.get("/knowledge", params={"q": "<script>alert(1)</script>"})
    assert hostile.status_code == 200 and "<script>alert(1)" not in hostile.text
    assert "&lt;script&gt;" in hostile.text
    bad = await client.get("/knowledge?category=nope&county=atlantis")
    assert bad.status_code == 422 and "no catalogue entry" in bad.text
    browse = await client.get("/knowledge?category=info")
    assert browse.status_code == 200 and "Tax" in browse.text


async def test_editor_writes_edits_and_restores_with_forms(client, make_user, written):
    await login(client, await make_user(Role.EDITOR))
    token = await _csrf(client, "/knowledge/new")
    title = f"Pension office <hours> {secrets.token_hex(2)}"
    refused = await client.post(
        "/knowledge/new",
        data={"title": title, "body": "x", "category": "nope", "csrf_token": token},
    )
    assert refused.status_code == 422 and "unknown catalogue entry" in refused.text
    assert "Pension office &lt;hours&gt;" in refused.text  # what was typed is kept
    no_csrf = await client.post(
        "/knowledge/new", data={"title": title, "category": "info.social_security"}
    )
    assert no_csrf.status_code == 403
    created = await client.post(
        "/knowledge/new",
        data={
            "title": title,
            "body": "Open **9-17**.",
            "category": "info.social_security",
            "county": "north",
            "csrf_token": token,
        },
    )
    assert created.status_code == 303
    url = created.headers["location"]
    article_id = int(url.rsplit("/", 1)[1])
    written.append(article_id)
    page = await client.get(url)
    assert "<strong>9-17</strong>" in page.text and "version 1" in page.text

    edit = {
        "title": title,
        "body": "Open **8-18**.",
        "category": "info.social_security",
        "county": "north",
        "note": "new hours",
        "base_version": "1",
        "csrf_token": token,
    }
    assert (await client.post(f"{url}/edit", data=edit)).status_code == 303
    stale = await client.post(f"{url}/edit", data=edit | {"body": "Open 7-19."})
    assert stale.status_code == 422 and "someone saved version 2" in stale.text
    assert "Open 7-19." in stale.text  # nothing typed is lost

    history = await client.get(f"{url}/history")
    assert history.status_code == 200 and "new hours" in history.text
    old = await client.get(f"{url}/versions/1")
    assert "<strong>9-17</strong>" in old.text and "Version 1 of 2" in old.text
    restored = await client.post(f"{url}/versions/1/restore", data={"csrf_token": token})
    assert restored.status_code == 303
    page = await client.get(url)
    assert "<strong>9-17</strong>" in page.text and "version 3" in page.text

    await login(client, await make_user(Role.AGENT))
    assert (await client.get(url)).status_code == 200
    assert (await client.get(f"{url}/edit")).status_code == 403
    assert (await client.get(f"{url}/history")).status_code == 403
