"""One-time set-password links (``/admin/users`` -> ``/password/{secret}``), over HTTP.

Hostile input tried: a made-up secret, a secret with path and markup characters, a link
used twice, a replaced link, an expired link, two passwords that differ, a short one, a
link for a disabled user; the database holds only the SHA-256 of the secret."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from cti.password_links import link_hash
from cti.store.password_links import PasswordLink
from cti.store.users import Role, User
from tests.conftest import login

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
LINK = re.compile(r'data-testid="password-link">http://testserver/password/([A-Za-z0-9_-]+)<')


@pytest.fixture
async def admin(client, make_user):
    await login(client, await make_user(Role.ADMIN))
    page = await client.get("/admin/users")
    return client, CSRF.search(page.text).group(1)


async def choose(app, secret: str, password: str, again: str | None = None):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anyone:
        return await anyone.post(
            f"/password/{secret}",
            data={"password": password, "password_again": password if again is None else again},
        )


async def test_a_new_user_chooses_their_password_through_the_link_once(admin, app, session_factory):
    client, csrf = admin
    username = f"link-{secrets.token_hex(3)}"
    page = await client.post(
        "/admin/users",
        data={"csrf_token": csrf, "username": username, "role": "inspector", "credential": "link"},
    )
    assert page.status_code == 201 and 'data-testid="new-password"' not in page.text
    (secret,) = LINK.findall(page.text)
    async with session_factory() as db:
        row = await db.scalar(
            select(PasswordLink).where(PasswordLink.token_hash == link_hash(secret))
        )
        assert row is not None and secret not in str(
            (await db.execute(select(PasswordLink.__table__))).all()
        )

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anyone:
        form = await anyone.get(f"/password/{secret}")
        assert form.status_code == 200 and username in form.text
        assert form.headers["referrer-policy"] == "no-referrer"
    differ = await choose(app, secret, "a good long password", "another long password")
    assert differ.status_code == 422 and "the two passwords differ" in differ.text
    short = await choose(app, secret, "short")
    assert short.status_code == 422 and "at least" in short.text
    done = await choose(app, secret, "my own long password")
    assert done.status_code == 303
    again = await choose(app, secret, "a second long password")
    assert again.status_code == 404 and "not valid any more" in again.text

    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as user:
        assert (await login(user, username, "my own long password")).status_code == 303
    audit = await client.get("/admin/audit", params={"action": "user.password_link"})
    assert "user.password_link" in audit.text


@pytest.mark.parametrize("secret", ["x" * 43, "../../etc/passwd", "<script>x</script>", "a" * 64])
async def test_made_up_links_open_nothing(app, secret):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anyone:
        page = await anyone.get(f"/password/{secret}")
        assert page.status_code in (404,) and "<script>x</script>" not in page.text
    assert (await choose(app, secret, "a good long password")).status_code == 404


async def test_a_new_link_replaces_the_old_and_links_expire(admin, app, make_user, session_factory):
    client, csrf = admin
    username = await make_user(Role.AGENT)
    async with session_factory() as db:
        user_id = await db.scalar(select(User.id).where(User.username == username))
    first = LINK.findall(
        (await client.post(f"/admin/users/{user_id}/password-link", data={"csrf_token": csrf})).text
    )[0]
    second = LINK.findall(
        (await client.post(f"/admin/users/{user_id}/password-link", data={"csrf_token": csrf})).text
    )[0]
    assert (await choose(app, first, "a good long password")).status_code == 404
    async with session_factory() as db:
        await db.execute(
            update(PasswordLink)
            .where(PasswordLink.token_hash == link_hash(second))
            .values(expires_at=PasswordLink.created_at - timedelta(seconds=1))
        )
        await db.commit()
    assert (await choose(app, second, "a good long password")).status_code == 404

    await client.post(
        f"/admin/users/{user_id}/active", data={"csrf_token": csrf, "active": "false"}
    )
    refused = await client.post(f"/admin/users/{user_id}/password-link", data={"csrf_token": csrf})
    assert refused.status_code == 422 and "is disabled" in refused.text
