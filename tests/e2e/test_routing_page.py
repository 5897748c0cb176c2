"""The routing admin page in a real browser, against the real API, database and asterisklint
and a small AMI server (``FakePbx``) standing in for Asterisk: an admin applies the current
rules, adds a caller-prefix rule (a hostile value is refused next to the field, then
fixed), simulates a call, previews the diffs of both files apply writes (the dialplan
include, and the county queues once a county is added), applies them, sees the new
version in the history and rolls back to the version before."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect
from sqlalchemy import delete

from cti.app import create_app
from cti.bus import InMemoryBus
from cti.routing.queues import FILENAME as QUEUES_FILENAME
from cti.routing.render import FILENAME
from cti.store.counties import County
from cti.store.users import Role
from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_login
from tests.integration.routing.fake_pbx import FakePbx
from tests.integration.web.test_routing_api import (
    restore_seeded_rules,
    routing_conf_dir,
    routing_settings,
)
from tests.live import live_server

pytestmark = pytest.mark.e2e

HOSTILE = "1380013;${SHELL(id)}"
NEW_QUEUE = "[county-central](county-template)"
APPLIED = re.compile(r"^Applied: version (\d+) is live\.$")


async def applied_version(page, after: int = 0) -> int:
    """Wait for the apply result to name a version newer than ``after`` and for that
    version to be the newest row of the history; returns its id."""
    message = page.get_by_test_id("apply-message")
    if after:  # the message of the previous apply is still shown until this one answers
        await expect(message).not_to_have_text(f"Applied: version {after} is live.", timeout=30_000)
    await expect(message).to_have_text(APPLIED, timeout=30_000)
    version = int(APPLIED.match(await message.text_content()).group(1))
    assert version > after
    newest = page.locator("[data-testid=version]").first
    await expect(newest).to_have_attribute("data-version-id", str(version))
    await expect(newest.locator("[data-field=result]")).to_have_text("applied")
    return version


async def test_an_admin_edits_simulates_previews_applies_and_rolls_back(
    browser, settings, database_url, engine, session_factory, seeded, make_user, tmp_path
):
    conf_dir = routing_conf_dir(tmp_path)
    pbx = FakePbx(conf_dir)
    await pbx.start()
    await restore_seeded_rules(session_factory)
    admin = await make_user(Role.ADMIN)
    app = create_app(
        routing_settings(settings, conf_dir, pbx),
        database_url,
        roles={"api"},
        engine=engine,
        bus=InMemoryBus(),
        services=[],
    )
    try:
        async with live_server(app) as base:
            page = await browser_login(browser, base, admin, PASSWORD)
            dialogs: list[str] = []

            async def accept(dialog) -> None:
                dialogs.append(dialog.message)
                await dialog.accept()

            page.on("dialog", accept)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "console",
                lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
            )

            await page.goto("/")
            nav = page.get_by_role("navigation", name="Main")
            await nav.get_by_role("link", name="County routing").click()
            await page.wait_for_url("**/admin/routing")
            await page.wait_for_selector("#routing[data-ready=true]")
            assert await page.locator("[data-testid=did-rule]").count() == 4

            # The seeded rules go live first: the version to roll back to.
            await page.get_by_test_id("apply").click()
            first_id = await applied_version(page)
            first_text = (conf_dir / FILENAME).read_text()
            queues_text = (conf_dir / QUEUES_FILENAME).read_text()

            # Nothing to apply now: both files say so.
            status = page.get_by_test_id("preview-status")
            await page.get_by_test_id("preview").click()
            await expect(status).to_have_text(
                "No change: Asterisk already has what the saved rules and the counties render to."
            )
            await expect(page.get_by_test_id("diff-note")).to_have_text("no change")
            await expect(page.get_by_test_id("queues-diff-note")).to_have_text("no change")
            await expect(page.get_by_test_id("queues-reload")).to_have_text(
                "The county queues do not change: applying does not reload app_queue."
            )
            await expect(page.get_by_test_id("queues-diff")).to_be_hidden()

            # A queues.conf the county queues cannot be rendered against: a clear refusal.
            main = conf_dir / "queues.conf"
            main_text = main.read_text()
            main.write_text(main_text.replace("[county-template](!)", "[county-settings](!)"))
            await page.get_by_test_id("preview").click()
            await expect(status).to_have_text(
                "Apply would be refused: cannot render the county queues: queues.conf has no "
                "[county-template](!) template"
            )
            await expect(page.get_by_test_id("preview-files")).to_be_hidden()
            main.write_text(main_text)

            # A new caller-prefix rule; the hostile value is refused next to the field.
            await page.click("#add-prefix")
            prefix = page.locator("input[data-path='prefixes.0.prefix']")
            await prefix.fill(HOSTILE)
            error = page.locator("[data-error-for='prefixes.0.prefix']")
            await expect(error).to_have_text("digits only (a leading + allowed), 1 to 20 of them")
            await expect(prefix).to_have_class("invalid")
            await expect(page.get_by_test_id("rules-status")).to_contain_text("problem(s)")
            await prefix.fill("1380013")
            await page.select_option("select[data-path='prefixes.0.county']", "south")
            await expect(page.get_by_test_id("rules-status")).to_contain_text("Valid (unsaved)")
            await expect(error).to_have_text("")
            await page.get_by_test_id("save").click()
            await expect(page.get_by_test_id("rules-status")).to_contain_text("Saved.")

            # Which way would this call go?
            await page.get_by_test_id("sim-caller").fill("13800138000")
            await page.get_by_test_id("sim-did").fill("9615601")
            await page.get_by_test_id("sim-run").click()
            result = page.get_by_test_id("sim-result")
            await expect(result.locator("[data-field=queue]")).to_have_text("county-south")
            await expect(result.locator("[data-field=county]")).to_have_text("south")
            await expect(result.locator("[data-field=matched_rule]")).to_have_text("prefixes.0")
            await page.get_by_test_id("sim-did").fill("96156;01")
            await page.get_by_test_id("sim-run").click()
            await expect(page.locator("[data-error-for=did]")).to_contain_text("digits only")

            # A county added meanwhile: apply will also write its queue.
            async with session_factory() as db:
                db.add(County(code="central", name="Central", queue_name="county-central"))
                await db.commit()

            # The diffs before applying: the new prefix, and the new county queue.
            await page.get_by_test_id("preview").click()
            await expect(status).to_have_text("What applying would change:")
            diff = page.get_by_test_id("diff")
            await expect(diff).to_be_visible()
            added = diff.locator("span.add")
            await expect(added.filter(has_text="1380013").first).to_be_visible()
            assert "south" in " ".join(await added.all_text_contents())
            queues_diff = page.get_by_test_id("queues-diff")
            await expect(queues_diff).to_be_visible()
            await expect(page.get_by_test_id("queues-diff-note")).to_have_text("changes:")
            await expect(queues_diff.locator("span.file").first).to_have_text(
                f"--- live/{QUEUES_FILENAME}"
            )
            assert [
                t for t in await queues_diff.locator("span.add").all_text_contents() if t != "+"
            ] == [f"+{NEW_QUEUE}"]
            await expect(page.get_by_test_id("queues-reload")).to_have_text(
                "The county queues change: applying also reloads app_queue."
            )
            # a preview writes nothing
            assert (conf_dir / FILENAME).read_text() == first_text
            assert (conf_dir / QUEUES_FILENAME).read_text() == queues_text

            # Apply: the live result, the file, and the new version on top of the history.
            await page.get_by_test_id("apply").click()
            second_id = await applied_version(page, after=first_id)
            rows = page.locator("[data-testid=version]")
            await expect(page.get_by_test_id("apply-steps")).to_contain_text(
                "reloaded and verified"
            )
            await expect(rows.first.locator("[data-field=result]")).to_have_text("applied")
            applied_text = (conf_dir / FILENAME).read_text()
            assert "1380013" in applied_text and applied_text != first_text
            assert pbx.reloads == 2
            assert f"\n{NEW_QUEUE}\n" in (conf_dir / QUEUES_FILENAME).read_text()
            assert pbx.queue_reloads == 1 and "county-central" in pbx.queues
            await expect(page.get_by_test_id("preview-files")).to_be_hidden()

            # The version's diff in the history shows both files.
            await rows.first.get_by_role("button", name="Diff").click()
            version_diff = page.get_by_test_id("version-diff")
            await expect(version_diff).to_contain_text(f"+++ {QUEUES_FILENAME}")
            await expect(version_diff.locator("span.add", has_text=NEW_QUEUE)).to_have_count(1)
            await expect(version_diff.locator("span.add", has_text="1380013").first).to_be_visible()

            # Roll back to the first version.
            old = page.locator(f"[data-testid=version][data-version-id='{first_id}']")
            await old.get_by_test_id("rollback").click()
            await applied_version(page, after=second_id)
            await expect(rows.first).to_contain_text(f"rollback to version {first_id}")
            assert (conf_dir / FILENAME).read_text() == first_text
            await expect(page.get_by_test_id("rules-status")).to_have_text(
                f"Rules restored from version {first_id}."
            )
            assert await page.locator("[data-testid=prefix-rule]").count() == 0
            assert dialogs == [
                f"Apply version {first_id} again? Its rules replace the saved rules if the "
                "apply succeeds."
            ]
            assert errors == []
            await page.context.close()
    finally:
        await pbx.stop()
        await restore_seeded_rules(session_factory)
        async with session_factory() as db:
            await db.execute(delete(County).where(County.code == "central"))
            await db.commit()
