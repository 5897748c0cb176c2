"""The company portal (``/portal``) and the companies' API (``/api/company/jobs``): a
company sees and answers its own jobs, and only its own.

Hostile input tried: another company's dispatch ids on every portal and API route (read
and answer, page and API, session and token), ids that exist nowhere, a decline without a
reason, an answer out of order (finish before accept, accept twice), an answer that is not
one (``delete``), markup and NUL in the notes, answers while the company is suspended.
"""

from __future__ import annotations

import httpx
import pytest

from cti.store.users import Role
from tests.companies import approved_company, offered_job, review_company
from tests.conftest import csrf_of, login


async def company_client(app, make_user, company_id: int) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    await login(client, await make_user(Role.COMPANY, company_id=company_id))
    client.headers["X-CSRF-Token"] = await csrf_of(client)
    return client


@pytest.fixture
async def two_companies(app, make_user, session_factory):
    """Companies A and B, each with a login and one offered job: (client, dispatch id,
    ticket number) for each."""
    out = []
    for _ in range(2):
        company_id = await approved_company(session_factory)
        dispatch_id, number = await offered_job(session_factory, company_id)
        out.append(
            (await company_client(app, make_user, company_id), dispatch_id, number, company_id)
        )
    yield out
    for client, *_ in out:
        await client.aclose()


async def test_a_company_sees_its_job_with_the_citizen_while_it_is_active(two_companies):
    (a, a_job, a_number, _), (_, _, b_number, _) = two_companies
    listed = (await a.get("/api/company/jobs")).json()
    assert [j["ticket_number"] for j in listed] == [a_number]
    (job,) = listed
    assert job["status"] == "offered" and job["actions"] == ["accept", "decline"]
    assert job["category_code"] == "maintenance" and job["county"] == "north"
    assert job["address"] == "7 Pine Street, flat 2"
    assert job["citizen_name"].startswith("Chen Jie") and job["citizen_phone"] == "13912345678"

    page = await a.get("/portal")
    assert page.status_code == 200 and a_number in page.text and b_number not in page.text
    detail = await a.get(f"/portal/jobs/{a_job}")
    assert "13912345678" in detail.text and 'data-testid="answer-accept"' in detail.text


async def test_accept_start_finish_and_the_citizen_is_gone_after(two_companies):
    (a, job, _, _), _ = two_companies
    base = f"/api/company/jobs/{job}"
    early = await a.post(f"{base}/start", json={})
    assert early.status_code == 409
    accepted = await a.post(f"{base}/accept", json={})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["actions"] == ["start", "finish"]
    twice = await a.post(f"{base}/accept", json={})
    assert twice.status_code == 409
    assert (await a.post(f"{base}/start", json={})).json()["status"] == "in_service"
    note = "<script>alert(1)</script> replaced the washer"
    done = await a.post(f"{base}/finish", json={"note": note})
    assert done.status_code == 200
    body = done.json()
    assert body["status"] == "done" and body["done_note"] == note and body["actions"] == []
    assert body["citizen_name"] is None and body["citizen_phone"] is None

    page = await a.get(f"/portal/jobs/{job}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; replaced the washer" in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "13912345678" not in page.text and 'data-testid="answers"' not in page.text


async def test_the_portal_forms_answer_and_show_refusals(two_companies):
    (a, job, _, _), _ = two_companies
    csrf = a.headers["X-CSRF-Token"]
    no_reason = await a.post(f"/portal/jobs/{job}/decline", data={"csrf_token": csrf, "note": " "})
    assert no_reason.status_code == 422 and "say why the company declines" in no_reason.text
    nul = await a.post(f"/portal/jobs/{job}/decline", data={"csrf_token": csrf, "note": "a\x00"})
    assert nul.status_code == 422
    declined = await a.post(
        f"/portal/jobs/{job}/decline", data={"csrf_token": csrf, "note": "no plumber free"}
    )
    assert declined.status_code == 303
    assert declined.headers["location"] == f"/portal/jobs/{job}?saved=decline"
    page = await a.get(declined.headers["location"])
    assert "Declined: the centre will find another company." in page.text
    assert "no plumber free" in page.text and "13912345678" not in page.text
    late = await a.post(f"/portal/jobs/{job}/accept", data={"csrf_token": csrf})
    assert late.status_code == 409 and 'data-testid="form-error"' in late.text
    assert (
        await a.post(f"/portal/jobs/{job}/delete", data={"csrf_token": csrf})
    ).status_code == 422
    listed = (await a.get("/api/company/jobs")).json()
    assert listed == []  # declined: not among the open and done ones
    everything = (await a.get("/api/company/jobs", params={"status": "all"})).json()
    assert [j["status"] for j in everything] == ["declined"]


def _routes(job: int) -> list[tuple[str, str]]:
    return [
        ("GET", f"/api/company/jobs/{job}"),
        ("GET", f"/portal/jobs/{job}"),
        *[
            ("POST", f"/api/company/jobs/{job}/{a}")
            for a in ("accept", "decline", "start", "finish")
        ],
        *[("POST", f"/portal/jobs/{job}/{a}") for a in ("accept", "decline", "start", "finish")],
    ]


async def test_another_companys_job_is_not_found_on_every_route(two_companies, session_factory):
    (a, a_job, _, _), (b, b_job, b_number, _) = two_companies
    for job in (b_job, 2**31 - 1):
        for method, url in _routes(job):
            if method == "GET":
                answer = await a.get(url)
            elif url.startswith("/api/"):
                answer = await a.post(url, json={"note": "taking it"})
            else:
                answer = await a.post(
                    url, data={"csrf_token": a.headers["X-CSRF-Token"], "note": "x"}
                )
            assert answer.status_code == 404, f"{method} {url}: {answer.status_code}"
            assert b_number not in answer.text
    # B's job is untouched and still B's to answer.
    job = (await b.get(f"/api/company/jobs/{b_job}")).json()
    assert job["status"] == "offered" and job["accepted_at"] is None
    assert (await b.post(f"/api/company/jobs/{b_job}/accept", json={})).status_code == 200
    assert (await a.get(f"/api/company/jobs/{a_job}")).json()["status"] == "offered"


async def test_a_token_of_a_company_login_sees_only_its_company(two_companies, app, make_user):
    (_, a_job, a_number, a_company), (_, b_job, _, _) = two_companies
    admin = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    async with admin:
        await login(admin, await make_user(Role.ADMIN))
        username = await make_user(Role.COMPANY, company_id=a_company)
        issued = await admin.post(
            "/api/tokens",
            json={"username": username, "name": "ERP link"},
            headers={"X-CSRF-Token": await csrf_of(admin)},
        )
    assert issued.status_code == 201
    bot = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {issued.json()['secret']}"},
    )
    async with bot:
        assert [j["ticket_number"] for j in (await bot.get("/api/company/jobs")).json()] == [
            a_number
        ]
        assert (await bot.get(f"/api/company/jobs/{b_job}")).status_code == 404
        assert (await bot.post(f"/api/company/jobs/{b_job}/accept", json={})).status_code == 404
        accepted = await bot.post(f"/api/company/jobs/{a_job}/accept", json={})  # no CSRF needed
        assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"


async def test_suspended_a_company_reads_its_jobs_and_answers_none_until_reinstated(
    two_companies, session_factory
):
    """Suspension keeps the company's logins and their sessions (nothing to restore on
    reinstatement) and makes its work read-only."""
    (a, job, _, company_id), _ = two_companies

    await review_company(session_factory, company_id, "suspend")
    page = await a.get("/portal")
    assert page.status_code == 200 and 'data-testid="read-only"' in page.text
    detail = await a.get(f"/portal/jobs/{job}")
    assert detail.status_code == 200 and 'data-testid="answers"' not in detail.text
    assert (await a.get(f"/api/company/jobs/{job}")).json()["actions"] == []
    refused = await a.post(f"/api/company/jobs/{job}/accept", json={})
    assert refused.status_code == 409 and "suspended" in refused.json()["detail"]
    form = await a.post(
        f"/portal/jobs/{job}/accept", data={"csrf_token": a.headers["X-CSRF-Token"]}
    )
    assert form.status_code == 409

    await review_company(session_factory, company_id, "reinstate")
    assert (await a.get(f"/api/company/jobs/{job}")).json()["actions"] == ["accept", "decline"]
    accepted = await a.post(f"/api/company/jobs/{job}/accept", json={})
    assert accepted.status_code == 200, accepted.text
