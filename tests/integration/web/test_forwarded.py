"""The client's address behind a trusted proxy, through the real app and Postgres: the
public site's per-address limit, login throttling, the session and the audit row all see
the address ``X-Forwarded-For`` names when the peer (10.9.8.7, the test client) is a
trusted proxy, and the peer itself for a header that cannot be read or from a peer that
is not trusted.

Hostile headers tried on the public form and the login: garbage, 5 kB, 300 hops, a script
tag, Latin-1 bytes, a spoofed hop left of the real one; IPv6 and IPv4-mapped hops."""

from __future__ import annotations

import secrets

import httpx
import pytest
from sqlalchemy import select

from cti.app import create_app
from cti.bus import InMemoryBus
from cti.store.audit import AuditEntry
from cti.store.users import LoginAttempt, Role, WebSession
from tests.conftest import login
from tests.integration.web.test_public_site import mobile, token

PEER = "10.9.8.7"


@pytest.fixture
async def proxied_app(settings, database_url, engine, seeded):
    behind = settings.model_copy(update={"trusted_proxies": ["10.9.8.0/24", "2001:db8::/32"]})
    return create_app(
        behind, database_url, roles={"api"}, engine=engine, bus=InMemoryBus(), services=[]
    )


@pytest.fixture
async def proxied(proxied_app):
    transport = httpx.ASGITransport(app=proxied_app, client=(PEER, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def volunteer(app) -> dict[str, str]:
    return {
        "token": token(app, "volunteer"),
        "website": "",
        "name": "Wang",
        "phone": mobile(),
        "county": "south",
        "skills": "errands",
        "availability": "",
        "note": "",
    }


def via(address: str | bytes) -> dict[str, str | bytes]:
    return {"x-forwarded-for": address}


async def test_the_public_limit_counts_the_forwarded_client(proxied_app, proxied):
    async def sign_up(headers: dict[str, str | bytes]) -> int:
        got = await proxied.post("/site/volunteer", data=volunteer(proxied_app), headers=headers)
        assert got.status_code != 500
        return got.status_code

    client = "203.0.113.10"
    for _ in range(10):  # ten an hour from one address
        assert await sign_up(via(f"1.1.1.{secrets.randbelow(250)}, {client}")) == 200
    assert await sign_up(via(client)) == 429
    assert await sign_up(via(f"{client}, 10.9.8.1")) == 429  # through a second proxy of ours
    assert await sign_up(via("::ffff:203.0.113.10")) == 429  # the same address, mapped
    # Another client behind the same proxy is not held up by the first one.
    assert await sign_up(via("2001:db8:1::1, 203.0.113.11")) == 200
    # Unreadable headers count for the proxy itself (ten of them, then refused).
    hostile: list[str | bytes] = [
        "garbage",
        "203.0.113.12, " + "9" * 5000,
        ", ".join(["10.9.8.2"] * 300),
        "<script>alert(1)</script>",
        "203.0.113.12 , ,",
        "203.0.113.12\xe9".encode("latin-1"),
        "[2001:db8::1",
        "unknown",
        "",
        "10.9.8.2, garbage",
    ]
    for header in hostile:
        assert await sign_up(via(header)) == 200, header
    assert await sign_up({}) == 429, "every unreadable header above counted for the peer"


async def test_login_throttling_sessions_and_audit_see_the_forwarded_client(
    proxied, session_factory, make_user
):
    username = await make_user(Role.AGENT)
    proxied.headers["x-forwarded-for"] = "198.51.100.1, 203.0.113.20"
    assert (await login(proxied, username, "wrong password!")).status_code == 401
    assert (await login(proxied, username)).status_code == 303
    proxied.headers["x-forwarded-for"] = "x" * 5000  # unreadable: the peer
    assert (await login(proxied, username, "wrong password!")).status_code == 401
    async with session_factory() as db:
        attempts = (
            await db.execute(
                select(LoginAttempt.success, LoginAttempt.ip)
                .where(LoginAttempt.username == username)
                .order_by(LoginAttempt.id)
            )
        ).all()
        user_id = await db.scalar(
            select(AuditEntry.actor_id).where(AuditEntry.actor_name == username)
        )
        session_ips = (
            await db.scalars(select(WebSession.ip).where(WebSession.user_id == user_id))
        ).all()
        audit = (
            await db.execute(
                select(AuditEntry.action, AuditEntry.ip).where(
                    AuditEntry.actor_name == username, AuditEntry.action == "user.login"
                )
            )
        ).all()
    assert [(ok, str(ip)) for ok, ip in attempts] == [
        (False, "203.0.113.20"),
        (True, "203.0.113.20"),
        (False, PEER),
    ]
    assert [str(ip) for ip in session_ips] == ["203.0.113.20"]
    assert [(action, str(ip)) for action, ip in audit] == [("user.login", "203.0.113.20")]


async def test_a_peer_that_is_not_trusted_is_the_client(client, session_factory, make_user):
    """The default settings trust no proxy: the header is ignored."""
    username = await make_user(Role.AGENT)
    client.headers["x-forwarded-for"] = "203.0.113.30"
    assert (await login(client, username, "wrong password!")).status_code == 401
    async with session_factory() as db:
        ips = (
            await db.scalars(select(LoginAttempt.ip).where(LoginAttempt.username == username))
        ).all()
    assert [str(ip) for ip in ips] == [PEER]
