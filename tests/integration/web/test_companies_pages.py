"""``/admin/companies`` as plain HTML forms, driven over HTTP: an application entered on the
form, reviewed, staff and certifications added, a portal login created.

Hostile input tried: markup and SQL in the company's name and a contact's name (shown
escaped, kept for the admin to fix), a phone with letters, a javascript: webhook, a
licence number already taken, a review without a reason or from the wrong status, a
certification with its validity backwards, a missing CSRF token.
"""

from __future__ import annotations

import re
import secrets

import pytest

from cti.store.users import Role
from tests.conftest import login

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET = re.compile(r'data-testid="webhook-secret">([0-9a-f]+)<')
PASSWORD = re.compile(r'data-testid="new-password">([^<]+)<')


@pytest.fixture
async def admin(client, make_user):
    await login(client, await make_user(Role.ADMIN))
    page = await client.get("/admin/companies/new")
    assert page.status_code == 200
    return client, CSRF.search(page.text).group(1)


def form(csrf: str, **changes) -> dict:
    tag = secrets.token_hex(3)
    data = {
        "csrf_token": csrf,
        "name": f"Bright <Homes> {tag}",
        "licence_number": f"BH-{tag}",
        "address": "1 Quay Street",
        "phone": "0551-555-0100",
        "email": f"desk-{tag}@bright.example.org",
        "webhook_url": "https://bright.example.org/hook",
        "categories": ["family", "maintenance"],
        "counties": ["north"],
        "contact_name": ["Bob'); DROP TABLE companies;--", "", ""],
        "contact_role": ["owner", "", ""],
        "contact_phone": ["13800138002", "", ""],
        "contact_email": ["", "", ""],
        "staff_name": ["Zhou Yan", "Sun Li", "", "", ""],
        "cert_category": ["family", "", "", "", ""],
        "cert_title": ["Childcare certificate", "", "", "", ""],
        "cert_issuer": ["City board", "", "", "", ""],
        "cert_number": ["CC-1", "", "", "", ""],
        "cert_valid_from": ["2026-01-01", "", "", "", ""],
        "cert_valid_until": ["", "", "", "", ""],
    }
    data.update(changes)
    return data


async def enter(client, csrf, **changes):
    return await client.post("/admin/companies/new", data=form(csrf, **changes))


def company_id_of(page: str) -> int:
    return int(re.search(r'action="/admin/companies/(\d+)/review"', page).group(1))


async def test_an_application_entered_on_the_form(admin):
    client, csrf = admin
    data = form(csrf)
    page = await client.post("/admin/companies/new", data=data)
    assert page.status_code == 201, page.text
    (secret,) = SECRET.findall(page.text)
    name = data["name"].replace("<", "&lt;").replace(">", "&gt;")
    assert name in page.text and data["name"] not in page.text
    assert "Bob&#39;); DROP TABLE companies;--" in page.text
    assert "5515550100" in page.text  # the phone, normalised
    assert "Zhou Yan" in page.text and "Childcare certificate" in page.text
    assert "Sun Li" in page.text  # a staff member without a certification yet
    company_id = company_id_of(page.text)

    again = await client.get(f"/admin/companies/{company_id}")
    assert again.status_code == 200 and secret not in again.text  # shown once
    listed = await client.get("/admin/companies", params={"status": "applied", "county": "north"})
    assert f'data-company="{company_id}"' in listed.text
    other = await client.get("/admin/companies", params={"status": "approved"})
    assert f'data-company="{company_id}"' not in other.text


@pytest.mark.parametrize(
    ("changes", "status", "why"),
    [
        ({"phone": "call us maybe"}, 422, "phone: is not a phone number"),
        ({"webhook_url": "javascript:alert(1)"}, 422, "webhook_url: must start with"),
        ({"categories": []}, 422, "categories: name at least one"),
        ({"cert_category": ["", "", "", "", ""]}, 422, "staff[0].certifications[0].category"),
        (
            {"cert_valid_until": ["2025-01-01", "", "", "", ""]},
            422,
            "valid_until: must not be before valid_from",
        ),
    ],
)
async def test_bad_input_is_refused_and_kept_in_the_form(admin, changes, status, why):
    client, csrf = admin
    data = form(csrf, **changes)
    page = await client.post("/admin/companies/new", data=data)
    assert page.status_code == status and why in page.text
    assert 'value="Bob&#39;); DROP TABLE companies;--"' in page.text  # kept, escaped
    assert not SECRET.search(page.text)
    listed = await client.get("/admin/companies")
    assert data["licence_number"] not in listed.text


async def test_a_taken_licence_number_is_a_conflict(admin):
    client, csrf = admin
    first = form(csrf)
    assert (await client.post("/admin/companies/new", data=first)).status_code == 201
    taken = await enter(client, csrf, licence_number=first["licence_number"])
    assert taken.status_code == 409 and "another company has this licence number" in taken.text


async def test_review_on_the_page(admin):
    client, csrf = admin
    company_id = company_id_of((await enter(client, csrf)).text)
    url = f"/admin/companies/{company_id}/review"
    no_reason = await client.post(url, data={"csrf_token": csrf, "action": "approve"})
    assert no_reason.status_code == 422 and "reason: is required" in no_reason.text
    approved = await client.post(
        url, data={"csrf_token": csrf, "action": "approve", "reason": "<b>papers</b> checked"}
    )
    assert approved.status_code == 303
    page = await client.get(approved.headers["location"])
    assert "Approved: it can receive work." in page.text
    assert "&lt;b&gt;papers&lt;/b&gt; checked" in page.text
    assert '<option value="suspend">' in page.text and '<option value="approve">' not in page.text
    wrong = await client.post(url, data={"csrf_token": csrf, "action": "reject", "reason": "x"})
    assert wrong.status_code == 409 and "approved cannot be rejected" in wrong.text
    no_csrf = await client.post(url, data={"action": "suspend", "reason": "x"})
    assert no_csrf.status_code == 403


async def test_staff_certifications_and_a_login_on_the_page(admin, app):
    import httpx

    client, csrf = admin
    company_id = company_id_of((await enter(client, csrf)).text)
    base = f"/admin/companies/{company_id}"
    added = await client.post(f"{base}/staff", data={"csrf_token": csrf, "name": "Wu Hao"})
    assert added.status_code == 303
    page = (await client.get(added.headers["location"])).text
    assert "Staff member added." in page
    staff_id = int(re.search(r'<tr data-staff="(\d+)">\s*<td>Wu Hao', page).group(1))
    cert = {
        "csrf_token": csrf,
        "category": "maintenance",
        "title": "Electrician",
        "valid_until": "",
    }
    made = await client.post(f"{base}/staff/{staff_id}/certifications", data=cert)
    assert made.status_code == 303
    bad = await client.post(
        f"{base}/staff/{staff_id}/certifications", data={**cert, "valid_until": "someday"}
    )
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text
    off = await client.post(
        f"{base}/staff/{staff_id}/active", data={"csrf_token": csrf, "active": "false"}
    )
    assert off.status_code == 303
    page = (await client.get(off.headers["location"])).text
    row = page.split(f'<tr data-staff="{staff_id}">')[1].split("</tr>")[0]
    assert "Electrician" in row and "inactive" in row and "Reactivate" in row

    username = f"bright-{secrets.token_hex(3)}"
    early = await client.post(f"{base}/logins", data={"csrf_token": csrf, "username": username})
    assert early.status_code == 409 and "applied gets no portal login" in early.text
    await client.post(
        f"{base}/review", data={"csrf_token": csrf, "action": "approve", "reason": "ok"}
    )
    made = await client.post(f"{base}/logins", data={"csrf_token": csrf, "username": username})
    assert made.status_code == 201
    (password,) = PASSWORD.findall(made.text)
    assert f'">{username}</a>' in made.text
    assert password not in (await client.get(base)).text

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as company:
        assert (await login(company, username, password)).status_code == 303
        portal = await company.get("/portal")
        assert portal.status_code == 200 and "Jobs of Bright &lt;Homes&gt;" in portal.text
        assert (await company.get(base)).status_code == 403


async def test_the_webhook_on_the_page(admin):
    client, csrf = admin
    company_id = company_id_of((await enter(client, csrf)).text)
    url = f"/admin/companies/{company_id}/webhook"
    bad = await client.post(url, data={"csrf_token": csrf, "url": "file:///etc/passwd"})
    assert bad.status_code == 422 and "webhook_url: must start with" in bad.text
    page = await client.post(url, data={"csrf_token": csrf, "url": "https://c.example.org/h"})
    assert page.status_code == 200 and "Webhook set, with a new secret." in page.text
    (secret,) = SECRET.findall(page.text)
    assert secret not in (await client.get(f"/admin/companies/{company_id}")).text
    gone = await client.post(url, data={"csrf_token": csrf, "url": ""})
    assert "Webhook removed: email only." in gone.text and not SECRET.search(gone.text)
