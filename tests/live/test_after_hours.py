"""After hours, through a real Asterisk 22: a county that is closed at test time (by its
opening hours, or by a holiday) takes the call with its after-hours action, voicemail or
a callback request, and the call is logged like every other. The clock is not touched:
the routing is changed, with the product's own ``cti routing import`` / ``apply``, so
that the county is closed now, and restored afterwards.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from sqlalchemy import select

from cti.store.callbacks import CallbackRequest
from cti.store.counties import County
from cti.store.recordings import Recording
from tests.live import pbx
from tests.live.conftest import DIDS, Live

pytestmark = pytest.mark.live
if reason := pbx.missing():
    pytest.skip(f"live suite skipped: {reason}", allow_module_level=True)

#: What a phone that withholds its number sends as the From user.
WITHHELD = "anonymous"
ALL_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def closed_now(now: datetime) -> list[dict]:
    """Opening hours that exclude ``now`` (UTC) for the next three hours: every day, one
    hour starting three hours from now."""
    start = (now + timedelta(hours=3)).hour
    return [{"days": list(ALL_DAYS), "start": f"{start:02d}:00", "end": f"{start + 1:02d}:00"}]


def with_policies(rules: dict, *policies: dict) -> dict:
    """``rules`` with these county policies in place of the counties' own."""
    mine = {p["county"] for p in policies}
    kept = [c for c in rules.get("counties", []) if c["county"] not in mine]
    return {**rules, "counties": [*kept, *policies]}


def export(live: Live) -> dict:
    exported = live.backend.command("routing", "export", "--format", "json")
    assert exported.returncode == 0, exported.stderr
    return yaml.safe_load(exported.stdout)


async def test_a_closed_county_takes_voicemail_or_a_callback_request(live: Live):
    now = datetime.now(UTC)
    before = export(live)
    today = now.date()
    holidays = [(today + timedelta(days=d)).isoformat() for d in (-1, 0, 1)]
    live.routing(
        yaml.safe_dump(
            with_policies(
                before,
                # West: closed by its hours (GotoIfTime); voicemail to box 4000.
                {
                    "county": "west",
                    "timezone": "UTC",
                    "hours": closed_now(now),
                    "after_hours": {"action": "voicemail", "mailbox": "4000"},
                },
                # East: open all day, but today is a holiday (in UTC, either side of
                # midnight too); a callback request.
                {
                    "county": "east",
                    "timezone": "UTC",
                    "hours": [{"days": list(ALL_DAYS), "start": "00:00", "end": "24:00"}],
                    "holidays": holidays,
                    "after_hours": {"action": "callback"},
                },
            )
        )
    )
    try:
        voicemail_caller = live.caller("1390008")
        callback_caller = live.caller("1390009")
        # The voicemail caller talks 20 s (the greeting, the instructions and the beep take
        # 13 s on the core sounds), then hangs up; the callback callers hear their prompt
        # and Asterisk hangs up. One of them withholds the number (From sip:anonymous@,
        # as a phone with CLIR sends it): nothing to call back, the request is kept.
        await asyncio.gather(
            live.call([(voicemail_caller, DIDS["west"])], hold_ms=20000, tag="voicemail"),
            live.call([(callback_caller, DIDS["east"])], hold_ms=30000, tag="callback"),
            live.call([(WITHHELD, DIDS["east"])], hold_ms=30000, tag="withheld"),
        )
        voicemail = await live.ended_call(voicemail_caller)
        callback = await live.ended_call(callback_caller)
        withheld = await live.ended_call("", caller_number_raw=WITHHELD)
    finally:
        live.routing(yaml.safe_dump(before))

    async with live.db() as db:
        counties = dict((await db.execute(select(County.code, County.id))).all())
        requests = (
            await db.scalars(
                select(CallbackRequest).where(
                    CallbackRequest.call_id.in_([voicemail.id, callback.id, withheld.id])
                )
            )
        ).all()
    requested = {r.call_id: (r.county_id, r.number, r.status, r.attempts) for r in requests}

    # Voicemail: the row, and the message in the county's mailbox with the caller's ID.
    assert voicemail.disposition == "voicemail" and voicemail.direction == "inbound"
    assert (voicemail.did, voicemail.county_id) == (DIDS["west"], counties["west"])
    assert voicemail.agent_interface is None and voicemail.answered_at is None
    assert voicemail.linkedid == voicemail.uniqueid
    inbox = live.site.voicemail / "4000" / "INBOX"
    messages = [m for m in inbox.glob("msg*.txt") if voicemail_caller in m.read_text()]
    assert len(messages) == 1, sorted(p.name for p in inbox.iterdir())
    message = messages[0].read_text()
    assert f'callerid="Citizen {voicemail_caller}" <{voicemail_caller}>' in message
    duration = int(message.split("\nduration=")[1].split("\n")[0])
    assert 4 <= duration <= 8, message  # the caller's talk after the beep
    assert (
        messages[0].with_suffix(".wav").stat().st_size > 8000 * 2 * 4
    )  # 4 s of 8 kHz 16-bit audio

    # Callback: the row, and one open request for the caller's number in the county.
    assert callback.disposition == "callback" and callback.direction == "inbound"
    assert (callback.did, callback.county_id) == (DIDS["east"], counties["east"])
    assert callback.agent_interface is None and callback.answered_at is None
    assert requested == {
        callback.id: (counties["east"], callback_caller, "open", 0),
        withheld.id: (counties["east"], "", "unreachable", 0),
    }
    assert withheld.disposition == "callback" and withheld.caller_number == ""
    # Each heard its prompt (extensions.conf CTI_PROMPT_CALLBACK / CTI_PROMPT_NO_NUMBER).
    log = live.asterisk.log_text()
    assert f'Playback("{callback.channel}", "auth-thankyou&vm-goodbye")' in log
    assert f'Playback("{withheld.channel}", "vm-goodbye")' in log

    # No queue was joined: nobody rang, nobody popped, nothing was recorded by MixMonitor.
    await asyncio.sleep(0.5)
    assert live.frames_for(voicemail.linkedid) == {}
    assert live.frames_for(callback.linkedid) == {}
    assert live.frames_for(withheld.linkedid) == {}
    async with live.db() as db:
        recorded = (
            await db.scalars(
                select(Recording).where(
                    Recording.call_id.in_([voicemail.id, callback.id, withheld.id])
                )
            )
        ).all()
    assert recorded == []
    assert not list(live.site.recordings.rglob(f"{voicemail.uniqueid}.wav"))
    live.no_errors()
