"""API tokens: an admin issues one for a user (secret shown once, stored hashed), a machine
client calls the API with it (no cookie, no CSRF), and it stops when revoked, expired, or
when its user is disabled or changes role. Hostile input tried: control characters and an
empty name, a lifetime of 0 and of 100 years, an unknown user, a malformed username, an
empty or made-up bearer secret, another auth scheme."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, text, update

from cti.store.audit import AuditEntry
from cti.store.base import utcnow
from cti.store.users import ApiToken, User
from tests.conftest import csrf_of, login


@pytest.fixture
async def admin(client, make_user):
    await login(client, await make_user("admin"))
    return {"X-CSRF-Token": await csrf_of(client)}


@pytest.fixture
async def machine(app):
    """A client with no cookies at all: it has only the token it is given."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def issue(client, headers, username, **extra):
    body = {"username": username, "name": "CRM sync", **extra}
    return await client.post("/api/tokens", json=body, headers=headers)


async def test_issue_use_and_revoke(client, admin, machine, make_user, session_factory):
    username = await make_user("admin")
    issued = await issue(client, admin, username)
    assert issued.status_code == 201
    token = issued.json()
    secret = token["secret"]
    assert secret.startswith("cti_") and len(secret) > 40
    assert secret.startswith(token["prefix"]) and token["role"] == "admin"

    listed = (await client.get("/api/tokens")).json()
    assert listed[0]["id"] == token["id"]  # newest first
    assert "secret" not in listed[0] and secret not in str(listed)
    async with session_factory() as db:  # hashed at rest: the secret is in no column
        query = text("SELECT * FROM api_tokens WHERE id = :id").bindparams(id=token["id"])
        row = (await db.execute(query)).mappings().one()
        assert secret not in str(dict(row))
        details = (await db.scalars(select(AuditEntry.detail))).all()
        assert secret not in str(details)

    me = await machine.get("/api/me", headers=bearer(secret))
    assert me.status_code == 200 and me.json()["username"] == username
    created = await machine.post(  # an unsafe method needs no CSRF token with a bearer token
        "/api/users",
        json={"username": "made-by-crm", "role": "agent", "password": "correct horse 12"},
        headers=bearer(secret),
    )
    assert created.status_code == 201
    async with session_factory() as db:
        used = await db.get(ApiToken, token["id"])
        assert used.last_used_at is not None

    revoked = await client.post(f"/api/tokens/{token['id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    again = await client.post(f"/api/tokens/{token['id']}/revoke", headers=admin)
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]
    refused = await machine.get("/api/me", headers=bearer(secret))
    assert refused.status_code == 401 and refused.json()["error"] == "not_authenticated"
    assert (await client.post("/api/tokens/999999/revoke", headers=admin)).status_code == 404

    async with session_factory() as db:
        actions = (
            await db.scalars(
                select(AuditEntry.action).where(
                    AuditEntry.object_type == "api_token",
                    AuditEntry.object_id == str(token["id"]),  # other tests issue tokens too
                )
            )
        ).all()
    assert sorted(actions) == ["token.issue", "token.revoke", "token.revoke"]


async def test_a_token_has_its_users_role_only(client, admin, machine, make_user):
    agent = await make_user("agent")
    secret = (await issue(client, admin, agent)).json()["secret"]
    assert (await machine.get("/api/me", headers=bearer(secret))).status_code == 200
    refused = await machine.get("/api/users", headers=bearer(secret))
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"active": False}, id="user disabled"),
        pytest.param({"role": "supervisor"}, id="user's role changed"),
        pytest.param("expired", id="expired"),
    ],
)
async def test_a_token_stops(change, client, admin, machine, make_user, session_factory):
    username = await make_user("agent")
    token = (await issue(client, admin, username, days=30)).json()
    assert (await machine.get("/api/me", headers=bearer(token["secret"]))).status_code == 200
    async with session_factory() as db:
        if change == "expired":
            await db.execute(
                update(ApiToken)
                .where(ApiToken.id == token["id"])
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        else:
            await db.execute(update(User).where(User.username == username).values(**change))
        await db.commit()
    assert (await machine.get("/api/me", headers=bearer(token["secret"]))).status_code == 401


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "bad\x00name"}, 422),
        ({"name": "   "}, 422),
        ({"name": "x" * 81}, 422),
        ({"days": 0}, 422),
        ({"days": 36500}, 422),
        ({"username": "nobody-here"}, 422),
        ({"username": "Robert'); DROP TABLE users;--"}, 422),
    ],
)
async def test_hostile_requests_are_refused(
    body, status, client, admin, make_user, session_factory
):
    username = await make_user("agent")
    count = text("SELECT count(*) FROM api_tokens")
    async with session_factory() as db:
        before = await db.scalar(count)
    response = await client.post(
        "/api/tokens", json={"username": username, "name": "ok", **body}, headers=admin
    )
    assert response.status_code == status
    async with session_factory() as db:
        assert await db.scalar(count) == before  # nothing half-made


async def test_a_disabled_user_gets_no_token(client, admin, make_user, session_factory):
    username = await make_user("agent")
    async with session_factory() as db:
        await db.execute(update(User).where(User.username == username).values(active=False))
        await db.commit()
    refused = await issue(client, admin, username)
    assert refused.status_code == 422 and "disabled" in refused.json()["detail"]


@pytest.mark.parametrize(
    "authorization",
    ["Bearer ", "Bearer cti_made-up-secret", "Bearer not-even-ours", "bearer  " + "x" * 500],
)
async def test_bad_bearer_secrets_are_401(authorization, machine):
    response = await machine.get("/api/me", headers={"Authorization": authorization})
    assert response.status_code == 401


async def test_another_scheme_is_not_a_token(machine):
    response = await machine.get("/api/me", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert response.status_code == 401 and response.json()["detail"] == "log in first"
