"""A county's wallboard settings on ``/admin/counties/{code}``: the service-level N (the
reports read the same row), the alert thresholds and the email switch; validated, audited,
and the AMI side told (bus channel ``wallboard_settings``).

Hostile input tried: negative, decimal, exponent, hexadecimal and over-range numbers, a
number with markup around it, a threshold under its minimum, a checkbox value that is
neither ticked nor empty; all refused with the field's reason, the form shown again as
typed (escaped), nothing saved and nothing audited.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from cti.counties.validate import FormErrors, check_wallboard
from cti.stats.queries import thresholds
from cti.store.reports import CountyServiceLevel
from cti.store.users import Role, User
from cti.wallboard.watch import SETTINGS_CHANNEL, load_config
from tests.integration.web.test_admin_counties import add, admin, code, county, county_form, entries

__all__ = ["admin"]  # the fixture, imported for these tests


def board_form(csrf: str, **values: str) -> dict:
    defaults = {
        "wallboard": "1",
        "answer_within_s": "20",
        "alert_waiting_above": "",
        "alert_longest_wait_s": "",
    }
    return county_form(csrf, **{**defaults, **values})


async def level(session_factory, county_id: int) -> CountyServiceLevel | None:
    async with session_factory() as db:
        return await db.get(CountyServiceLevel, county_id)


async def test_save_the_wallboard_settings_shared_with_the_reports(admin, session_factory):
    client, csrf = admin
    c = code()
    assert (await add(client, csrf, code=c)).status_code == 303
    row = await county(session_factory, c)
    assert await level(session_factory, row.id) is None  # defaults until saved
    page = await client.get(f"/admin/counties/{c}")
    assert (
        'name="answer_within_s" required inputmode="numeric" maxlength="6" value="20"' in page.text
    )

    bus = client._transport.app.state.bus
    told = await bus.subscribe(SETTINGS_CHANNEL)
    saved = await client.post(
        f"/admin/counties/{c}",
        data=board_form(
            csrf,
            answer_within_s="30",
            alert_waiting_above="0",
            alert_longest_wait_s=" 90 ",
            alert_no_agent="on",
            alert_email="on",
        ),
    )
    assert saved.status_code == 303, saved.text
    message = await asyncio.wait_for(told.__anext__(), 5)
    assert message == {"type": "settings_changed"}
    told.close()

    stored = await level(session_factory, row.id)
    assert (
        stored.answer_within_s,
        stored.alert_waiting_above,
        stored.alert_longest_wait_s,
        stored.alert_no_agent,
        stored.alert_email,
    ) == (30, 0, 90, True, True)
    [entry] = await entries(session_factory, "county.wallboard", c)
    assert entry.detail == {
        "answer_within_s": {"from": 20, "to": 30},
        "alert_waiting_above": {"from": None, "to": 0},
        "alert_longest_wait_s": {"from": None, "to": 90},
        "alert_no_agent": {"from": False, "to": True},
        "alert_email": {"from": False, "to": True},
    }
    async with session_factory() as db:
        # the reports and the wallboard read the same N
        assert (await thresholds(db, 5)).service_level_for(row.id) == 30
        config = (await load_config(db))[c]
    assert config.sl_s == 30
    assert (config.thresholds.waiting_above, config.thresholds.longest_wait_above_s) == (0, 90)
    assert config.thresholds.no_agent and config.thresholds.email

    page = await client.get(f"/admin/counties/{c}")
    assert 'name="alert_longest_wait_s" inputmode="numeric" maxlength="6" value="90"' in page.text
    assert 'name="alert_email" value="on" checked' in page.text

    # Emptied thresholds turn the alerts off; saving the same again audits nothing more.
    off = board_form(csrf, answer_within_s="30")
    assert (await client.post(f"/admin/counties/{c}", data=off)).status_code == 303
    assert (await client.post(f"/admin/counties/{c}", data=off)).status_code == 303
    stored = await level(session_factory, row.id)
    assert (stored.alert_waiting_above, stored.alert_longest_wait_s, stored.alert_email) == (
        None,
        None,
        False,
    )
    assert len(await entries(session_factory, "county.wallboard", c)) == 2

    # A form without the wallboard part (the page before it had one) leaves it alone.
    await client.post(
        f"/admin/counties/{c}", data=board_form(csrf, answer_within_s="45", alert_no_agent="on")
    )
    assert (await client.post(f"/admin/counties/{c}", data=county_form(csrf))).status_code == 303
    stored = await level(session_factory, row.id)
    assert (stored.answer_within_s, stored.alert_no_agent) == (45, True)


@pytest.mark.parametrize(
    ("values", "field", "why"),
    [
        ({"answer_within_s": "0"}, "answer_within_s", "from 1 to 600"),
        ({"answer_within_s": "601"}, "answer_within_s", "from 1 to 600"),
        ({"answer_within_s": ""}, "answer_within_s", "from 1 to 600"),
        ({"answer_within_s": " "}, "answer_within_s", "from 1 to 600"),
        ({"answer_within_s": "2e1"}, "answer_within_s", "from 1 to 600"),
        ({"alert_waiting_above": "-1"}, "alert_waiting_above", "or empty for no alert"),
        ({"alert_waiting_above": "1000"}, "alert_waiting_above", "from 0 to 999"),
        ({"alert_waiting_above": "0x10"}, "alert_waiting_above", "from 0 to 999"),
        ({"alert_longest_wait_s": "4"}, "alert_longest_wait_s", "from 5 to 3600"),
        ({"alert_longest_wait_s": "12.5"}, "alert_longest_wait_s", "from 5 to 3600"),
        ({"alert_no_agent": "maybe"}, "alert_no_agent", "tick the box"),
        ({"alert_email": "1; DROP TABLE users"}, "alert_email", "tick the box"),
    ],
)
def test_check_wallboard_refuses(values, field, why) -> None:
    form = {
        "answer_within_s": "20",
        "alert_waiting_above": "",
        "alert_longest_wait_s": "",
        "alert_no_agent": "",
        "alert_email": "",
        **values,
    }
    with pytest.raises(FormErrors) as refused:
        check_wallboard(**form)
    assert set(refused.value.fields) == {field}
    assert why in refused.value.fields[field]


async def test_refused_with_the_form_as_typed_and_nothing_saved(admin, session_factory):
    client, csrf = admin
    c = code()
    assert (await add(client, csrf, code=c)).status_code == 303
    row = await county(session_factory, c)
    page = await client.post(
        f"/admin/counties/{c}",
        data=board_form(
            csrf,
            name="Renamed",
            answer_within_s="<b>20</b>",
            alert_waiting_above="-3",
            alert_longest_wait_s="99999",
            alert_email="on",
        ),
    )
    assert page.status_code == 422
    assert "a whole number of seconds from 1 to 600" in page.text
    assert "a whole number of calls from 0 to 999, or empty for no alert" in page.text
    assert 'value="&lt;b&gt;20&lt;/b&gt;"' in page.text and "<b>20</b>" not in page.text
    assert 'value="-3"' in page.text and 'name="alert_email" value="on" checked' in page.text
    assert await level(session_factory, row.id) is None
    assert (await county(session_factory, c)).name == "Test County"  # all or nothing
    assert await entries(session_factory, "county.wallboard", c) == []
    assert await entries(session_factory, "county.update", c) == []


async def test_a_supervisors_alert_email_is_set_on_their_user_page(
    admin, session_factory, make_user
):
    """Hostile addresses tried: a CR/LF with a Bcc header after it, two addresses, an
    address in angle brackets with a name, none at all, markup."""
    client, csrf = admin
    username = await make_user(Role.SUPERVISOR, county="south")
    async with session_factory() as db:
        user = await db.scalar(select(User).where(User.username == username))
    form = {"csrf_token": csrf, "display_name": "Sue", "role": "supervisor", "county": "south"}
    for bad in (
        "sue@example.org\r\nBcc: all@example.org",
        "a@example.org, b@example.org",
        "Sue <sue@example.org>",
        "sue",
        "<b>@example.org",
    ):
        refused = await client.post(f"/admin/users/{user.id}", data={**form, "email": bad})
        assert refused.status_code == 422, bad
        assert "email must be one address like name@example.org" in refused.text
    saved = await client.post(
        f"/admin/users/{user.id}", data={**form, "email": " sue.south@example.org "}
    )
    assert saved.status_code == 303
    page = await client.get(f"/admin/users/{user.id}")
    assert 'name="email" type="email" maxlength="254" value="sue.south@example.org"' in page.text
    # an empty one removes it
    assert (
        await client.post(f"/admin/users/{user.id}", data={**form, "email": ""})
    ).status_code == 303
    async with session_factory() as db:
        assert (await db.get(User, user.id)).email is None
