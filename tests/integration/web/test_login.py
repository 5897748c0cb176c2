"""Login: wrong password, rate limit, CSRF, session expiry and logout."""

from datetime import timedelta

from sqlalchemy import select, update

from cti.store.base import utcnow
from cti.store.users import LoginAttempt, Role, WebSession
from cti.web.sessions import COOKIE_NAME, token_hash
from tests.conftest import PASSWORD, csrf_of, login


async def test_login_sets_httponly_samesite_session_cookie(client, make_user):
    username = await make_user(Role.AGENT)
    response = await login(client, username)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert f"{COOKIE_NAME}=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    me = await client.get("/api/me")
    assert me.status_code == 200 and me.json()["username"] == username


async def test_wrong_password_and_unknown_user_look_the_same(client, make_user):
    username = await make_user(Role.AGENT)
    wrong = await login(client, username, "not the password")
    unknown = await login(client, "nobody-here", "whatever password")
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        assert "Wrong username or password." in response.text
    assert COOKIE_NAME not in client.cookies
    assert (await client.get("/api/me")).status_code == 401


async def test_disabled_user_cannot_log_in(client, make_user, session_factory):
    from cti import accounts

    username = await make_user(Role.AGENT)
    async with session_factory() as db:
        await accounts.set_active(db, await accounts.get_user(db, username), False)
        await db.commit()
    assert (await login(client, username)).status_code == 401


async def test_rate_limit_after_repeated_failures_even_with_right_password(
    client, make_user, session_factory
):
    username = await make_user(Role.AGENT)
    for _ in range(5):
        assert (await login(client, username, "wrong password!")).status_code == 401
    throttled = await login(client, username)  # the right password, too late
    assert throttled.status_code == 429
    assert "Too many failed attempts" in throttled.text
    async with session_factory() as db:
        attempts = (
            await db.scalars(select(LoginAttempt.success).where(LoginAttempt.username == username))
        ).all()
    assert attempts == [False] * 6  # every attempt recorded, the throttled one too


async def test_rate_limit_window_expires(client, make_user, session_factory):
    username = await make_user(Role.AGENT)
    for _ in range(5):
        await login(client, username, "wrong password!")
    async with session_factory() as db:  # the failures age out of the 15-minute window
        await db.execute(
            update(LoginAttempt)
            .where(LoginAttempt.username == username)
            .values(at=utcnow() - timedelta(minutes=16))
        )
        await db.commit()
    assert (await login(client, username)).status_code == 303


async def test_login_form_without_csrf_token_is_refused(client, make_user):
    username = await make_user(Role.AGENT)
    response = await client.post(
        "/login", data={"username": username, "password": PASSWORD, "next": "/"}
    )
    assert response.status_code == 403
    assert COOKIE_NAME not in client.cookies


async def test_login_csrf_token_must_match_the_cookie(client, make_user):
    username = await make_user(Role.AGENT)
    await client.get("/login")  # sets the cookie
    response = await client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": "forged", "next": "/"},
    )
    assert response.status_code == 403


async def test_state_changing_api_needs_the_session_csrf_token(client, make_user):
    admin = await make_user(Role.ADMIN)
    await login(client, admin)
    body = {"username": "csrf-victim", "role": "agent", "password": "long enough pw"}
    missing = await client.post("/api/users", json=body)
    assert missing.status_code == 403 and missing.json()["error"] == "csrf_failed"
    wrong = await client.post("/api/users", json=body, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    ok = await client.post("/api/users", json=body, headers={"X-CSRF-Token": await csrf_of(client)})
    assert ok.status_code == 201


async def test_logout_form_needs_csrf_and_ends_the_session(client, make_user, session_factory):
    username = await make_user(Role.AGENT)
    await login(client, username)
    token = client.cookies[COOKIE_NAME]
    assert (await client.post("/logout")).status_code == 403
    response = await client.post("/logout", data={"csrf_token": await csrf_of(client)})
    assert response.status_code == 303
    async with session_factory() as db:
        assert await db.get(WebSession, token_hash(token)) is None
    client.cookies.set(COOKIE_NAME, token)  # replaying the old cookie gets nothing
    assert (await client.get("/api/me")).status_code == 401


async def test_idle_session_expires(client, make_user, session_factory):
    username = await make_user(Role.AGENT)
    await login(client, username)
    async with session_factory() as db:
        await db.execute(
            update(WebSession)
            .where(WebSession.token_hash == token_hash(client.cookies[COOKIE_NAME]))
            .values(last_seen_at=utcnow() - timedelta(hours=2, seconds=1))
        )
        await db.commit()
    assert (await client.get("/api/me")).status_code == 401


async def test_session_expires_at_its_absolute_age_even_when_active(
    client, make_user, session_factory
):
    username = await make_user(Role.AGENT)
    await login(client, username)
    async with session_factory() as db:
        await db.execute(
            update(WebSession)
            .where(WebSession.token_hash == token_hash(client.cookies[COOKIE_NAME]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        await db.commit()
    assert (await client.get("/api/me")).status_code == 401


async def test_disabling_a_user_ends_their_open_sessions(client, make_user, session_factory):
    from cti import accounts

    username = await make_user(Role.AGENT)
    await login(client, username)
    async with session_factory() as db:
        await accounts.set_active(db, await accounts.get_user(db, username), False)
        await db.commit()
    assert (await client.get("/api/me")).status_code == 401


async def test_html_pages_redirect_to_login_and_back(client, make_user):
    response = await client.get("/", headers={"accept": "text/html"})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2F"


async def test_next_parameter_cannot_redirect_off_site(client, make_user):
    username = await make_user(Role.AGENT)
    page = await client.get("/login")
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    for target in ("//evil.example", "https://evil.example/", "/\\evil.example", "javascript:x"):
        client.cookies.clear()
        page = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        response = await client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": token, "next": target},
        )
        assert response.headers["location"] == "/", target


async def test_login_page_escapes_the_next_parameter(client):
    page = await client.get('/login?next=/"><script>alert(1)</script>')
    assert "<script>alert(1)</script>" not in page.text
