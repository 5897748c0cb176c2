"""Service companies through the admin's API (``/api/companies``): an application entered,
reviewed, its staff edited, its portal login and API token made.

Hostile input tried: a licence number another company has (in other letter case), a
sub-item or unknown code as a category, a retired or unknown county, a field the
application does not have, a megabyte name, review actions without a reason or from the
wrong status, a certification for a category the company does not serve, a login for a
company that is not approved, a username with markup.
"""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from cti.companies import applications
from cti.store.audit import AuditEntry
from cti.store.base import utcnow
from cti.store.companies import Company
from cti.store.counties import County
from cti.store.users import Role
from tests.companies import application
from tests.conftest import csrf_of, login


@pytest.fixture
async def admin(client, make_user):
    await login(client, await make_user(Role.ADMIN))
    client.headers["X-CSRF-Token"] = await csrf_of(client)
    return client


async def apply(client, **changes):
    return await client.post("/api/companies", json=application(**changes))


async def test_an_application_is_stored_verbatim_and_waits_for_review(admin, session_factory):
    data = application(
        name="<b>Bold</b> & Sons'; DROP TABLE companies;--",
        webhook_url="https://hooks.example.org/cti",
    )
    created = await admin.post("/api/companies", json=data)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["status"] == "applied" and body["name"] == data["name"]
    assert body["phone"] == "5515550199"  # normalised as a caller ID is
    assert body["categories"] == ["maintenance"] and body["counties"] == ["north"]
    assert body["contacts"][0]["phone"] == "13800138001"
    (member,) = body["staff"]
    assert member["certifications"][0]["category"] == "maintenance"
    assert body["review_actions"] == ["approve", "reject"]
    secret = body["webhook_secret"]
    assert len(secret) == 64

    again = await admin.get(f"/api/companies/{body['id']}")
    assert again.status_code == 200 and "webhook_secret" not in again.json()
    assert secret not in again.text  # shown once
    async with session_factory() as db:
        entry = (
            await db.execute(
                AuditEntry.__table__.select().where(
                    AuditEntry.action == "company.apply",
                    AuditEntry.object_id == str(body["id"]),
                )
            )
        ).one()
        assert entry.detail["licence_number"] == data["licence_number"]
        assert secret not in str(entry.detail)


async def test_two_applications_with_one_licence_at_once_give_one_company(admin, monkeypatch):
    """The race the check cannot see: the other application commits between the check and
    the insert (the check is made to miss it); the unique constraint refuses the second
    with the same 409 as the check would, not a 500."""
    first = await apply(admin)
    licence = first.json()["licence_number"]

    async def unseen(db, number):
        return False

    monkeypatch.setattr(applications, "licence_taken", unseen)
    taken = await apply(admin, licence_number=licence)
    assert taken.status_code == 409, taken.text
    assert taken.json()["fields"] == {"licence_number": "another company has this licence number"}
    assert (await apply(admin)).status_code == 201  # the session and the API carry on


async def test_a_licence_number_belongs_to_one_company(admin):
    first = await apply(admin)
    licence = first.json()["licence_number"]
    taken = await apply(admin, licence_number=licence.lower())
    assert taken.status_code == 409
    assert taken.json()["fields"] == {"licence_number": "another company has this licence number"}


@pytest.fixture
async def retired_county(session_factory) -> str:
    code = f"old_{secrets.token_hex(3)}"
    async with session_factory() as db:
        db.add(County(code=code, name="Old County", queue_name=f"q-{code}", retired_at=utcnow()))
        await db.commit()
    return code


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"categories": ["maintenance.water"], "staff": []},
            "categories[0]",
        ),  # an item, not a category
        ({"categories": ["nosuch"], "staff": []}, "categories[0]"),
        ({"counties": ["atlantis"]}, "counties[0]"),
        ({"phone": "call us"}, "phone"),
        ({"webhook_url": "javascript:alert(1)"}, "webhook_url"),
        ({"webhook_url": "http://user:pass@hooks.example.org/"}, "webhook_url"),
        ({"name": "a\x00b"}, "name"),
    ],
)
async def test_bad_applications_are_refused_by_field(admin, changes, field):
    refused = await apply(admin, **changes)
    assert refused.status_code == 422, refused.text
    assert list(refused.json()["fields"]) == [field]


async def test_a_retired_county_is_not_served(admin, retired_county):
    refused = await apply(admin, counties=["north", retired_county])
    assert refused.status_code == 422 and list(refused.json()["fields"]) == ["counties[1]"]


@pytest.mark.parametrize(
    "changes",
    [{"unknown_field": 1}, {"name": "x" * 1_000_000}, {"staff": [{"name": "x", "age": 3}]}],
)
async def test_the_body_is_bounded_before_any_check(admin, changes):
    refused = await apply(admin, **changes)
    assert refused.status_code == 422 and refused.json()["detail"][0]["type"]


async def test_review_needs_a_reason_and_the_right_status(admin, session_factory):
    company_id = (await apply(admin)).json()["id"]
    url = f"/api/companies/{company_id}/review"
    no_reason = await admin.post(url, json={"action": "approve", "reason": "  "})
    assert no_reason.status_code == 422 and no_reason.json()["fields"] == {"reason": "is required"}
    wrong = await admin.post(url, json={"action": "reinstate", "reason": "why not"})
    assert wrong.status_code == 409 and "applied cannot be reinstated" in wrong.json()["detail"]

    steps = [("approve", "approved"), ("suspend", "suspended"), ("reinstate", "approved")]
    for action, status in steps:
        done = await admin.post(url, json={"action": action, "reason": f"<i>{action}</i> ok"})
        assert done.status_code == 200, done.text
        assert done.json()["status"] == status
        assert done.json()["review_reason"] == f"<i>{action}</i> ok"
    twice = await admin.post(url, json={"action": "reinstate", "reason": "again"})
    assert twice.status_code == 409

    async with session_factory() as db:
        entries = (
            await db.execute(
                AuditEntry.__table__.select()
                .where(AuditEntry.object_type == "company", AuditEntry.object_id == str(company_id))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [e.action for e in entries] == [
        "company.apply",
        "company.approve",
        "company.suspend",
        "company.reinstate",
    ]
    assert entries[2].detail == {
        "from": "approved",
        "to": "suspended",
        "reason": "<i>suspend</i> ok",
    }


async def test_the_list_filters_by_status_category_and_county(admin):
    tag = secrets.token_hex(3)
    family_east = (
        await apply(admin, name=f"FE {tag}", categories=["family"], counties=["east"], staff=[])
    ).json()
    maint_north = (await apply(admin, name=f"MN {tag}")).json()
    await admin.post(
        f"/api/companies/{maint_north['id']}/review", json={"action": "approve", "reason": "ok"}
    )

    async def ids(**params):
        listed = await admin.get("/api/companies", params=params)
        assert listed.status_code == 200
        return {c["id"] for c in listed.json()} & {family_east["id"], maint_north["id"]}

    assert await ids() == {family_east["id"], maint_north["id"]}
    assert await ids(status="approved") == {maint_north["id"]}
    assert await ids(status="applied", category="family") == {family_east["id"]}
    assert await ids(county="east") == {family_east["id"]}
    assert await ids(county="north", category="family") == set()
    assert (await admin.get("/api/companies", params={"status": "bogus"})).status_code == 422


async def test_staff_and_certifications_are_edited_later(admin):
    company_id = (await apply(admin, categories=["maintenance", "elderly"])).json()["id"]
    added = await admin.post(f"/api/companies/{company_id}/staff", json={"name": "Zhao Lei"})
    assert added.status_code == 201
    staff_id = added.json()["id"]
    cert = {"category": "elderly", "title": "Care assistant", "valid_until": "2030-01-01"}
    url = f"/api/companies/{company_id}/staff/{staff_id}/certifications"
    made = await admin.post(url, json=cert)
    assert made.status_code == 201 and made.json()["category"] == "elderly"
    not_served = await admin.post(url, json={**cert, "category": "family"})
    assert not_served.status_code == 422
    assert "not a category the company serves" in not_served.json()["detail"]
    backwards = await admin.post(url, json={**cert, "valid_from": "2031-01-01"})
    assert backwards.status_code == 422

    other = (await apply(admin)).json()["id"]
    elsewhere = await admin.post(
        f"/api/companies/{other}/staff/{staff_id}/certifications", json=cert
    )
    assert elsewhere.status_code == 404  # the staff member is another company's

    off = await admin.post(
        f"/api/companies/{company_id}/staff/{staff_id}/active", json={"active": False}
    )
    assert off.status_code == 200 and off.json()["active"] is False
    detail = (await admin.get(f"/api/companies/{company_id}")).json()
    zhao = next(s for s in detail["staff"] if s["id"] == staff_id)
    assert zhao["active"] is False and zhao["certifications"][0]["title"] == "Care assistant"


async def test_a_portal_login_and_its_api_token(admin, app):
    import httpx

    company_id = (await apply(admin)).json()["id"]
    username = f"co-{secrets.token_hex(3)}"
    refused = await admin.post(f"/api/companies/{company_id}/logins", json={"username": username})
    assert refused.status_code == 409 and "applied gets no portal login" in refused.json()["detail"]
    await admin.post(
        f"/api/companies/{company_id}/review", json={"action": "approve", "reason": "ok"}
    )
    markup = await admin.post(f"/api/companies/{company_id}/logins", json={"username": "<b>x</b>"})
    assert markup.status_code == 422
    made = await admin.post(f"/api/companies/{company_id}/logins", json={"username": username})
    assert made.status_code == 201, made.text
    password = made.json()["password"]
    taken = await admin.post(f"/api/companies/{company_id}/logins", json={"username": username})
    assert taken.status_code == 409
    detail = (await admin.get(f"/api/companies/{company_id}")).json()
    assert [login_["username"] for login_ in detail["logins"]] == [username]

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as company:
        assert (await login(company, username, password)).status_code == 303
        me = (await company.get("/api/me")).json()
        assert me["role"] == "company"
        assert (await company.get("/portal")).status_code == 200
        assert (await company.get("/api/companies")).status_code == 403

    token = await admin.post("/api/tokens", json={"username": username, "name": "dispatch bot"})
    assert token.status_code == 201 and token.json()["role"] == "company"
    bearer = {"Authorization": f"Bearer {token.json()['secret']}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as bot:
        assert (await bot.get("/api/company/jobs", headers=bearer)).json() == []
        assert (await bot.get("/api/companies", headers=bearer)).status_code == 403


async def test_the_company_page_counts_its_work_and_shows_its_reputation(admin, session_factory):
    from tests.companies import approved_company, offered_job

    company_id = await approved_company(session_factory)
    _, number = await offered_job(session_factory, company_id)
    detail = (await admin.get(f"/api/companies/{company_id}")).json()
    assert [(d["ticket_number"], d["status"]) for d in detail["recent_dispatches"]] == [
        (number, "offered")
    ]
    assert detail["dispatches"]["offered"] == 1 and detail["dispatches"]["declined"] == 0
    assert set(detail["reputation"]) == {"score", "facts", "why"}
    assert 0 <= detail["reputation"]["score"] <= 100
    page = await admin.get(f"/admin/companies/{company_id}")
    assert 'data-testid="reputation"' in page.text
    assert f'<a href="/tickets/{number}">{number}</a>' in page.text


async def test_a_new_webhook_gets_a_new_secret_and_none_removes_it(admin, session_factory):
    """Hostile input: a webhook with credentials, and one to this machine."""
    created = (await apply(admin, webhook_url="https://a.example.org/hook")).json()
    url = f"/api/companies/{created['id']}/webhook"
    for bad in ("http://u:p@b.example.org/", "http://127.0.0.1:8000/api/me"):
        refused = await admin.post(url, json={"url": bad})
        assert refused.status_code == 422 and list(refused.json()["fields"]) == ["webhook_url"]
    moved = await admin.post(url, json={"url": "https://b.example.org/hook"})
    assert moved.status_code == 200
    secret = moved.json()["webhook_secret"]
    assert len(secret) == 64 and secret != created["webhook_secret"]
    assert (await admin.get(f"/api/companies/{created['id']}")).json()["webhook_url"] == (
        "https://b.example.org/hook"
    )
    removed = await admin.post(url, json={"url": ""})
    assert removed.json() == {"webhook_url": None, "webhook_secret": None}
    async with session_factory() as db:
        company = await db.get(Company, created["id"])
        assert company.webhook_url is None and company.webhook_secret is None
        details = (
            await db.scalars(
                select(AuditEntry.detail)
                .where(
                    AuditEntry.action == "company.webhook",
                    AuditEntry.object_id == str(created["id"]),
                )
                .order_by(AuditEntry.id)
            )
        ).all()
    assert details == [{"url": "https://b.example.org/hook"}, {"url": None}]
