"""``/admin/users`` and ``/admin/audit`` as plain HTML forms, driven over HTTP.

Hostile input tried: markup and SQL in the username, a phone outside pjsip.conf, a phone
with dialplan punctuation, another user's phone, a missing CSRF token, an admin disabling
or demoting themselves, audit filters with markup and without a UTC offset.

The database is shared by the run, so the app's phones are made up per test (the reading
of the real pjsip.conf is tested in tests/unit/test_pjsip_conf.py and, here, by refusals).
"""

from __future__ import annotations

import re
import secrets

import httpx
import pytest

from cti.store.users import Role
from tests.conftest import login

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD_SHOWN = re.compile(r'data-testid="new-password">([^<]+)<')


@pytest.fixture
def phones(app) -> list[str]:
    """Five phones no other test gives out, as if they were pjsip.conf's agent endpoints."""
    base = 50000 + secrets.randbelow(10**4) * 5
    made_up = [f"PJSIP/{base + i}" for i in range(5)]
    app.state.agent_phones = frozenset(made_up)
    return made_up


@pytest.fixture
async def admin(client, make_user, phones):
    await login(client, await make_user(Role.ADMIN))
    page = await client.get("/admin/users")
    return client, CSRF.search(page.text).group(1)


def name() -> str:
    return f"page-{secrets.token_hex(3)}"


async def add(client, csrf, **form):
    return await client.post("/admin/users", data={"csrf_token": csrf, **form})


async def test_add_an_agent_who_then_logs_in(admin, app, phones):
    client, csrf = admin
    username = name()
    page = await add(
        client, csrf, username=username, role="agent", county="north", interface=phones[0]
    )
    assert page.status_code == 201
    (password,) = PASSWORD_SHOWN.findall(page.text)
    listed = await client.get("/admin/users", params={"role": "agent", "county": "north"})
    row = listed.text.split(f'data-username="{username}"')[1].split("</tr>")[0]
    assert phones[0] in row and "north" in row and "yes" in row
    assert password not in listed.text  # shown once, on the answer only

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as agent:
        assert (await login(agent, username, password)).status_code == 303
        me = (await agent.get("/api/me")).json()
        assert me["county"] == "north" and me["interface"] == phones[0]

    audit = await client.get("/admin/audit", params={"action": "user.create"})
    assert f"&#34;username&#34;: &#34;{username}&#34;" in audit.text or username in audit.text


@pytest.mark.parametrize(
    ("form", "status", "why"),
    [
        ({"username": "<script>x</script>"}, 422, "username must be"),
        ({"username": "bob'); DROP TABLE users;--"}, 422, "username must be"),
        ({"interface": "PJSIP/9999"}, 422, "not an agent phone in pjsip.conf"),
        ({"interface": "PJSIP/1001,evil"}, 422, "interface must look like"),
        ({"interface": "PJSIP/trunk"}, 422, "not an agent phone"),
        ({"role": "root"}, 422, "role must be one of"),
        ({"county": "atlantis"}, 422, "unknown county"),
    ],
)
async def test_bad_input_is_refused_and_kept_in_the_form(admin, app, form, status, why):
    client, csrf = admin
    del app.state.agent_phones  # the project's own pjsip.conf: 1001..4001, and the trunk
    body = {"username": name(), "role": "agent", **form}
    page = await add(client, csrf, **body)
    assert page.status_code == status and why in page.text
    assert "<script>x</script>" not in page.text  # escaped wherever it is shown
    if form.get("username", "").startswith("<script>"):
        assert "&lt;script&gt;x&lt;/script&gt;" in page.text  # kept, for the admin to fix
    listed = await client.get("/admin/users")
    assert body["username"] not in listed.text or form.get("username") is None
    assert not PASSWORD_SHOWN.search(page.text)


async def test_a_phone_belongs_to_one_user(admin, phones):
    client, csrf = admin
    assert (
        await add(client, csrf, username=name(), role="agent", interface=phones[0])
    ).status_code == 201
    taken = await add(client, csrf, username=name(), role="agent", interface=phones[0])
    assert taken.status_code == 409 and "already belongs to another user" in taken.text


async def test_no_change_without_the_csrf_token(admin):
    client, _ = admin
    refused = await client.post("/admin/users", data={"username": name(), "role": "agent"})
    assert refused.status_code == 403


async def _user_id(client, username: str) -> int:
    listed = await client.get("/admin/users")
    return int(
        re.search(rf'href="/admin/users/(\d+)">{re.escape(username)}<', listed.text).group(1)
    )


async def test_edit_disable_enable_and_reset(admin, app, phones):
    client, csrf = admin
    username = name()
    first = await add(client, csrf, username=username, role="agent")
    (password,) = PASSWORD_SHOWN.findall(first.text)
    user_id = await _user_id(client, username)

    saved = await client.post(
        f"/admin/users/{user_id}",
        data={
            "csrf_token": csrf,
            "display_name": "Ana Ruiz",
            "role": "agent",
            "county": "south",
            "interface": phones[1],
        },
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("?saved=1")
    page = await client.get(saved.headers["location"])
    assert "Saved." in page.text and f'value="{phones[1]}" selected' in page.text
    assert 'value="south" selected' in page.text and 'value="Ana Ruiz"' in page.text

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as agent:
        await login(agent, username, password)
        assert (await agent.get("/api/me")).status_code == 200
        off = await client.post(
            f"/admin/users/{user_id}/active", data={"csrf_token": csrf, "active": "false"}
        )
        assert off.status_code == 303
        assert (await agent.get("/api/me")).status_code == 401  # logged out everywhere
        assert (await login(agent, username, password)).status_code == 401
        on = await client.post(
            f"/admin/users/{user_id}/active", data={"csrf_token": csrf, "active": "true"}
        )
        assert on.status_code == 303

        reset = await client.post(f"/admin/users/{user_id}/password", data={"csrf_token": csrf})
        (fresh,) = PASSWORD_SHOWN.findall(reset.text)
        assert fresh != password
        assert (await login(agent, username, password)).status_code == 401
        assert (await login(agent, username, fresh)).status_code == 303

    audit = await client.get(
        "/admin/audit", params={"object_type": "user", "object_id": str(user_id)}
    )
    for action in (
        "user.create",
        "user.update",
        "user.disable",
        "user.enable",
        "user.set_password",
    ):
        assert f"<td>{action}</td>" in audit.text
    assert fresh not in audit.text and password not in audit.text


async def test_an_admin_cannot_lock_themselves_out(client, make_user):
    me = await make_user(Role.ADMIN)
    await login(client, me)
    csrf = CSRF.search((await client.get("/admin/users")).text).group(1)
    my_id = await _user_id(client, me)
    demote = await client.post(
        f"/admin/users/{my_id}", data={"csrf_token": csrf, "display_name": me, "role": "agent"}
    )
    assert demote.status_code == 422 and "your own role" in demote.text
    off = await client.post(
        f"/admin/users/{my_id}/active", data={"csrf_token": csrf, "active": "false"}
    )
    assert off.status_code == 422 and "your own account" in off.text
    assert (await client.get("/api/me")).json()["role"] == "admin"


async def test_unknown_user_is_404(admin):
    client, csrf = admin
    assert (await client.get("/admin/users/99999999")).status_code == 404
    gone = await client.post("/admin/users/99999999/password", data={"csrf_token": csrf})
    assert gone.status_code == 404


async def test_audit_pages_and_filters(admin):
    client, csrf = admin
    for _ in range(3):
        await add(client, csrf, username=name(), role="inspector")
    first = await client.get("/admin/audit", params={"action": "user.*", "limit": 2})
    ids = [int(i) for i in re.findall(r'<tr data-id="(\d+)">', first.text)]
    assert len(ids) == 2 and ids == sorted(ids, reverse=True)
    older = re.search(r'href="(/admin/audit\?[^"]+)" data-testid="older"', first.text).group(1)
    assert "action=user.%2A" in older or "action=user.*" in older
    second = await client.get(older.replace("&amp;", "&"))
    more = [int(i) for i in re.findall(r'<tr data-id="(\d+)">', second.text)]
    assert more and max(more) < min(ids)  # keyset: strictly older, no overlap

    hostile = await client.get("/admin/audit", params={"actor": '"><script>alert(1)</script>'})
    assert hostile.status_code == 200 and "<script>alert(1)</script>" not in hostile.text
    naive = await client.get("/admin/audit", params={"since": "2027-01-04T00:00:00"})
    assert naive.status_code == 422


@pytest.mark.parametrize(
    ("since", "why"),
    [
        ("2027-01-04T00:00:00", "since needs a UTC offset: give a UTC offset, e.g. Z"),
        ("yesterday", "bad since: an ISO time, e.g. 2027-01-04T09:30:00Z"),
        ("<b>2027</b>", "bad since: an ISO time"),
    ],
)
async def test_a_bad_time_filter_shows_the_page_again_with_why(admin, since, why):
    """Hostile input tried: a time without offset, a word, markup in the time field."""
    client, _ = admin
    page = await client.get(
        "/admin/audit", params={"since": since, "action": "user.*", "actor": "<i>x</i>"}
    )
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    error = page.text.split('data-testid="form-error">')[1].split("</p>")[0]
    assert why in error
    assert "<b>2027</b>" not in page.text and "<i>x</i>" not in page.text
    form = page.text.split('data-testid="audit-filters"')[1].split("</form>")[0]
    assert 'value="user.*"' in form and 'value="&lt;i&gt;x&lt;/i&gt;"' in form  # kept
    assert (
        f'name="since" maxlength="64" value="{since.replace("<", "&lt;").replace(">", "&gt;")}"'
        in form
    )
    assert "<tr data-id=" not in page.text  # no entries under a filter that was refused
    api = await client.get("/api/audit", params={"action": "user.create", "limit": 1})
    assert api.status_code == 200 and api.json()[0]["action"] == "user.create"
