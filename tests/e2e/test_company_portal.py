"""A service company's day in a real browser, driven like a person would: an admin
approves the company's application and creates its portal login; the company logs in with
the password shown once, finds the job the centre dispatched to it, accepts it and
finishes it with a note; the citizen's phone is shown while the job is the company's and
gone once it is done."""

import secrets

import pytest

from cti.store.users import Role
from tests.companies import applied_company, offered_job
from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_login
from tests.live import live_server

pytestmark = pytest.mark.e2e


async def test_admin_approves_and_the_company_accepts_and_finishes_a_job(
    browser, app, make_user, session_factory
):
    admin = await make_user(Role.ADMIN)
    name = f"Swift Plumbing {secrets.token_hex(3)}"
    company_id = await applied_company(session_factory, name=name)
    login_name = f"swift-{secrets.token_hex(3)}"
    async with live_server(app) as base:
        page = await browser_login(browser, base, admin, PASSWORD)
        await (
            page.get_by_role("navigation", name="Main")
            .get_by_role("link", name="Companies")
            .click()
        )
        await page.wait_for_url("**/admin/companies")
        await page.get_by_label("Status").select_option("applied")
        await page.get_by_role("button", name="Filter").click()
        await page.get_by_role("link", name=name).click()
        assert await page.get_by_test_id("status").text_content() == "applied"

        review = page.get_by_test_id("review")
        await review.get_by_label("Decision").select_option("approve")
        await review.get_by_label("Reason").fill("Licence and insurance checked")
        await review.get_by_role("button", name="Record the decision").click()
        assert await page.get_by_test_id("message").text_content() == (
            "Approved: it can receive work."
        )
        assert await page.get_by_test_id("status").text_content() == "approved"

        add_login = page.get_by_test_id("add-login")
        await add_login.get_by_label("Login username").fill(login_name)
        await add_login.get_by_label("Login username").press("Enter")
        await page.get_by_test_id("created-login").wait_for()
        password = await page.get_by_test_id("new-password").text_content()
        assert len(password) >= 15
        await page.context.close()

        dispatch_id, number = await offered_job(
            session_factory, company_id, description="Water under the sink <again>"
        )

        company = await browser_login(browser, base, login_name, password)
        await (
            company.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
        )
        await company.wait_for_url("**/portal")
        await company.get_by_role("link", name=number).click()
        await company.wait_for_url(f"**/portal/jobs/{dispatch_id}")
        assert await company.get_by_test_id("description").text_content() == (
            "Water under the sink <again>"
        )
        assert await company.get_by_test_id("citizen-phone").text_content() == "13912345678"

        await company.get_by_role("button", name="Accept").click()
        assert await company.get_by_test_id("message").text_content() == (
            "Accepted: the job is yours."
        )
        assert await company.get_by_test_id("job-status").text_content() == "accepted"

        finish = company.get_by_test_id("answer-finish")
        await finish.get_by_label("What was done").fill("Replaced the trap and the seal")
        await finish.get_by_role("button", name="Finish").click()
        assert await company.get_by_test_id("message").text_content() == (
            "Finished: the centre will ask the citizen how it went."
        )
        assert await company.get_by_test_id("job-status").text_content() == "done"
        assert await company.get_by_test_id("done-note").text_content() == (
            "Replaced the trap and the seal"
        )
        assert await company.get_by_test_id("citizen-phone").count() == 0
        assert await company.get_by_test_id("answers").count() == 0
        await company.context.close()
