"""An inspector finds a call by the caller's number and replays it, in a real chromium:
the captured MixMonitor file (call (a)) indexed against its call row, searched with the
number in another form, played from the compressed copy, seeked on the waveform, sped up;
the plays are in the access log. Then scoring with the form, a complaint with its legal hold,
and the admin's access-log view."""

from __future__ import annotations

import secrets
import shutil
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from cti.app import create_app
from cti.bus import InMemoryBus
from cti.recordings.indexer import Indexer
from cti.store.calls import Call
from cti.store.recordings import Complaint, Criterion, RecordingAccess, Score, Scorecard
from cti.store.tickets import Ticket
from cti.store.users import Role
from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_login
from tests.integration.recordings.conftest import age
from tests.live import live_server

pytestmark = pytest.mark.e2e


async def _indexed_call(traces_dir, tmp_path, settings, database_url, engine, session_factory):
    """The captured north file filed as the recording of a fresh answered call; returns
    (app serving it, recording id, caller number)."""
    caller = "137" + "".join(secrets.choice("0123456789") for _ in range(8))
    epoch = 1_950_000_000 + secrets.randbelow(10**7)
    uid = f"{epoch}.5"
    root = tmp_path / "rec"
    rel = f"{datetime.fromtimestamp(epoch, UTC):%Y%m%d}/{uid}.wav"
    (root / rel).parent.mkdir(parents=True)
    shutil.copyfile(traces_dir / "recordings" / "north-13800138000-1795710920.0.wav", root / rel)
    age(root / rel)
    async with session_factory() as db:
        db.add(
            Call(
                node="asterisk",
                linkedid=uid,
                uniqueid=uid,
                caller_number=caller,
                did="9615601",
                disposition="answered",
                started_at=datetime.fromtimestamp(epoch, UTC),
            )
        )
        await db.commit()
    indexer = Indexer(root, session_factory)
    try:
        (outcome,) = await indexer.index_paths([rel])
    finally:
        indexer.close()
    app_settings = settings.model_copy(update={"recordings_dir": root, "data_dir": tmp_path / "d"})
    app = create_app(
        app_settings, database_url, roles={"api"}, engine=engine, bus=InMemoryBus(), services=[]
    )
    return app, outcome.recording_id, caller


async def test_inspector_searches_and_replays(
    browser,
    traces_dir,
    tmp_path,
    settings,
    database_url,
    engine,
    session_factory,
    seeded,
    make_user,
):
    inspector = await make_user(Role.INSPECTOR)
    app, rid, caller = await _indexed_call(
        traces_dir, tmp_path, settings, database_url, engine, session_factory
    )
    async with live_server(app) as base:
        page = await browser_login(browser, base, inspector, PASSWORD)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await page.goto("/")
        await page.click("a[href='/recordings']")
        await page.fill("input[name=caller]", f"+86 {caller[:3]}-{caller[3:7]}-{caller[7:]}")
        await page.click("#search button[type=submit]")
        row = page.locator("[data-testid=result]")
        await row.wait_for()
        assert await row.count() == 1
        assert caller in await row.text_content()
        assert await page.locator("[data-testid=result-count]").text_content() == "1 recording(s)"

        await row.click()
        await page.wait_for_selector("[data-testid=waveform][data-peaks='800']")
        assert await page.locator("[data-testid=duration]").text_content() == "0:06"
        assert await page.get_attribute("[data-testid=download]", "href") == (
            f"/api/recordings/{rid}/audio?download=true"
        )
        await page.evaluate("document.getElementById('audio').muted = true")
        await page.click("[data-testid=play]")
        await page.wait_for_function("() => document.getElementById('audio').currentTime > 0.3")
        assert await page.locator("[data-testid=play]").text_content() == "Pause"
        await page.click("[data-testid=play]")
        await page.wait_for_function("() => document.getElementById('audio').paused")

        # seek: a click at three quarters of the waveform
        box = await page.locator("[data-testid=waveform]").bounding_box()
        await page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
        await page.wait_for_function(
            "() => Math.abs(document.getElementById('audio').currentTime - 4.515) < 0.2"
        )
        await page.select_option("[data-testid=speed]", "1.5")
        assert await page.evaluate("document.getElementById('audio').playbackRate") == 1.5

        # a comment pinned at the current position
        await page.fill("#comment-form input[name=text]", "agent explains the fee")
        await page.click("#comment-form button[type=submit]")
        comment = page.locator("[data-testid=comments] li")
        await comment.wait_for()
        assert "agent explains the fee" in await comment.text_content()
        assert (await comment.locator("button").text_content()).startswith("0:04")
        await page.context.close()
    assert not [e for e in errors if "Failed to load" not in e], errors
    async with session_factory() as db:
        plays = (
            await db.scalars(select(RecordingAccess).where(RecordingAccess.recording_id == rid))
        ).all()
    assert plays and {p.username for p in plays} == {inspector}
    assert {p.variant for p in plays} == {"opus"} and {p.action for p in plays} == {"play"}


async def test_inspector_scores_files_a_complaint_and_admin_reads_the_access_log(
    browser,
    traces_dir,
    tmp_path,
    settings,
    database_url,
    engine,
    session_factory,
    seeded,
    make_user,
):
    inspector = await make_user(Role.INSPECTOR)
    admin = await make_user(Role.ADMIN)
    app, rid, caller = await _indexed_call(
        traces_dir, tmp_path, settings, database_url, engine, session_factory
    )
    card_name = f"E2E card {secrets.token_hex(3)}"
    ticket = f"T2099-{secrets.randbelow(10**6):06d}"
    async with session_factory() as db:
        card = Scorecard(name=card_name)
        db.add(card)
        await db.flush()
        card_id = card.id
        for position, (label, weight, max_points) in enumerate(
            [("Greeting", 1, 5), ("Solved the problem", 3, 10)]
        ):
            db.add(
                Criterion(
                    scorecard_id=card_id,
                    position=position,
                    label=label,
                    weight=weight,
                    max_points=max_points,
                )
            )
        db.add(Ticket(number=ticket, description="fee dispute", status="new"))
        await db.commit()
    hostile = "<img src=x onerror=window.__xss=1> charged a fee twice"
    errors: list[str] = []
    async with live_server(app) as base:
        page = await browser_login(browser, base, inspector, PASSWORD)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await page.goto("/recordings")
        assert await page.locator("[data-testid=access-log]").count() == 0  # admins only
        await page.fill("input[name=caller]", caller)
        await page.click("#search button[type=submit]")
        row = page.locator("[data-testid=result]")
        await row.wait_for()
        assert await row.count() == 1
        await row.click()
        await page.wait_for_selector("[data-testid=waveform][data-peaks='800']")
        await page.evaluate("document.getElementById('audio').muted = true")
        await page.click("[data-testid=play]")
        await page.wait_for_function("() => document.getElementById('audio').currentTime > 0.3")
        await page.click("[data-testid=play]")
        await page.wait_for_function("() => document.getElementById('audio').paused")
        box = await page.locator("[data-testid=waveform]").bounding_box()
        await page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
        await page.wait_for_function(
            "() => Math.abs(document.getElementById('audio').currentTime - 3.01) < 0.2"
        )

        # score with the form: one input per weighted criterion, within its bounds
        await page.select_option("[data-testid=scorecard]", str(card_id))
        criteria = page.locator("[data-testid=criterion]")
        await criteria.nth(1).wait_for()
        assert await criteria.count() == 2
        assert await criteria.nth(0).get_attribute("max") == "5"
        assert await criteria.nth(1).get_attribute("max") == "10"
        await criteria.nth(0).fill("4")
        await criteria.nth(1).fill("7")
        await page.fill("#score-form textarea[name=comment]", "polite, fee explained late")
        await page.check("#score-form input[name=pin]")
        async with page.expect_response(
            lambda r: r.url.endswith(f"/api/recordings/{rid}/scores") and r.request.method == "POST"
        ) as answer:
            await page.click("#score-form button[type=submit]")
        response = await answer.value
        assert response.status == 201
        api_total = (await response.json())["total"]
        assert api_total == 72.5  # (1 * 4/5 + 3 * 7/10) / 4 * 100
        shown = page.locator("[data-testid=score-total]")
        await shown.wait_for()
        assert await shown.text_content() == f"{api_total:.2f}"
        scored = page.locator("[data-testid=score]")
        await scored.wait_for()
        assert card_name in await scored.text_content()
        assert f"{api_total:.2f}" in await scored.text_content()
        assert inspector in await scored.text_content()

        # the score's comment, pinned at the moment the inspector was at
        pinned = page.locator("[data-testid=comments] li")
        await pinned.wait_for()
        assert "polite, fee explained late" in await pinned.text_content()
        assert (await pinned.locator("button").text_content()) == "0:03"

        # a complaint linked to a ticket puts the recording on legal hold
        hold = page.locator("[data-testid=legal-hold]")
        assert await hold.get_attribute("data-hold") == "false"
        await page.fill("#complaint-form input[name=ticket]", ticket)
        await page.fill("#complaint-form textarea[name=reason]", hostile)
        await page.click("#complaint-form button[type=submit]")
        await page.wait_for_selector("[data-testid=legal-hold][data-hold=true]")
        assert "On legal hold" in await hold.text_content()
        complaint = page.locator("[data-testid=complaint]")
        assert ticket in await complaint.text_content()
        assert await complaint.locator("[data-testid=complaint-reason]").text_content() == hostile
        assert await page.locator("[data-testid=complaints] img").count() == 0
        assert await page.evaluate("window.__xss") is None

        # closing the only open complaint releases the hold
        await complaint.locator("input[name=resolution]").fill("refund issued")
        await complaint.locator("button[type=submit]").click()
        await page.wait_for_selector("[data-testid=legal-hold][data-hold=false]")
        assert "closed" in await complaint.text_content()
        await page.context.close()

        # the admin reads the inspector's plays in the access-log view
        page = await browser_login(browser, base, admin, PASSWORD)
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await page.goto("/recordings")
        await page.fill("#access-form input[name=recording_id]", str(rid))
        await page.click("#access-form button[type=submit]")
        entries = page.locator("[data-testid=access-row]")
        await entries.first.wait_for()
        texts = await entries.all_text_contents()
        await page.context.close()
    assert not [e for e in errors if "Failed to load" not in e], errors
    async with session_factory() as db:
        plays = (
            await db.scalars(select(RecordingAccess).where(RecordingAccess.recording_id == rid))
        ).all()
        (score,) = (await db.scalars(select(Score).where(Score.recording_id == rid))).all()
        (held,) = (await db.scalars(select(Complaint).where(Complaint.recording_id == rid))).all()
    assert float(score.total) == api_total and held.reason == hostile
    assert plays and len(texts) == len(plays)
    for text in texts:
        assert inspector in text and str(rid) in text and "play" in text and "opus" in text
