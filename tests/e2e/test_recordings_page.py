"""An inspector finds a call by the caller's number and replays it, in a real chromium:
the captured MixMonitor file (call (a)) indexed against its call row, searched with the
number in another form, played from the compressed copy, seeked on the waveform, sped up;
the plays are in the access log."""

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
from cti.store.recordings import RecordingAccess
from cti.store.users import Role
from tests.conftest import PASSWORD
from tests.e2e.conftest import browser_login
from tests.integration.recordings.conftest import age
from tests.live import live_server

pytestmark = pytest.mark.e2e


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
    rid = outcome.recording_id
    app_settings = settings.model_copy(update={"recordings_dir": root, "data_dir": tmp_path / "d"})
    app = create_app(
        app_settings, database_url, roles={"api"}, engine=engine, bus=InMemoryBus(), services=[]
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
