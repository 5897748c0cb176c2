"""``/admin/counties`` and ``/admin/catalogue`` as plain HTML forms, driven over HTTP.

Hostile input tried: markup and SQL in county and category names, a control character in a
name, county codes with dialplan punctuation (``north;Dial``, ``x,1``, ``x)``), upper case
and an over-long code, queue names that would break queues.conf (``general``, the
``county-template`` template, another county's queue, ``q]`` with a bracket), time zones
that are paths or not on Earth (``../../etc/passwd``, ``Mars/Olympus``, ``UTC+8``),
dispatch windows out of range or not numbers, unknown and deactivated categories, a
crafted ``deleted`` message in the URL, a missing CSRF token; retiring a county the routing
still sends calls to, deleting a county in use.

The database is shared by the run: every test makes up its own counties and categories.
"""

from __future__ import annotations

import html
import re
import secrets

import pytest
from sqlalchemy import delete, select

from cti.routing.rules import RuleErrors, check
from cti.routing.service import RoutingService
from cti.store.audit import AuditEntry
from cti.store.catalog import ServiceCategory
from cti.store.counties import County
from cti.store.routing import RoutingDid
from cti.store.users import Role
from tests.conftest import login

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def admin(client, make_user):
    await login(client, await make_user(Role.ADMIN))
    page = await client.get("/admin/counties")
    assert page.status_code == 200
    return client, CSRF.search(page.text).group(1)


def code() -> str:
    return f"t{secrets.token_hex(4)}"


def county_form(csrf: str, **values) -> dict:
    return {
        "csrf_token": csrf,
        "name": "Test County",
        "time_zone": "Asia/Shanghai",
        "accept_within_minutes": "60",
        "finish_within_hours": "48",
        **values,
    }


async def add(client, csrf, **values):
    return await client.post("/admin/counties", data=county_form(csrf, **values))


async def entries(session_factory, action: str, object_id: str) -> list[AuditEntry]:
    async with session_factory() as db:
        return list(
            await db.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == action, AuditEntry.object_id == object_id)
                .order_by(AuditEntry.id)
            )
        )


async def county(session_factory, c: str) -> County | None:
    async with session_factory() as db:
        return await db.scalar(select(County).where(County.code == c))


async def test_add_a_county_that_the_routing_can_render_and_edit_it(admin, session_factory):
    client, csrf = admin
    c = code()
    added = await add(
        client, csrf, code=c, name="Lake <b>County</b>", categories=["family", "elderly"]
    )
    assert (
        added.status_code == 303
        and added.headers["location"] == f"/admin/counties/{c}?saved=created"
    )
    page = await client.get(added.headers["location"])
    assert "open County routing" in page.text and "Lake &lt;b&gt;County&lt;/b&gt;" in page.text
    row = await county(session_factory, c)
    assert row.queue_name == f"county-{c}" and row.time_zone == "Asia/Shanghai"
    assert (row.accept_within_minutes, row.finish_within_hours, row.auto_dispatch) == (
        60,
        48,
        False,
    )

    listed = await client.get("/admin/counties")
    line = listed.text.split(f'data-code="{c}"')[1].split("</tr>")[0]
    assert "Asia/Shanghai" in line and "family, elderly" in line and f"county-{c}" in line
    assert "in service" in line and "accept within 60 min" in line

    # the routing sees it: a rule may name it, and its queue is rendered
    async with session_factory() as db:
        service = RoutingService(client._transport.app.state.settings.asterisk_conf_dir, None)
        catalog = await service.catalog(db)
        assert catalog.counties[c] == f"county-{c}"
        assert f"[county-{c}](county-template)" in (await service.render_queues(db)).text
    check({"dids": [{"did": "5550001", "county": c}]}, catalog)

    saved = await client.post(
        f"/admin/counties/{c}",
        data=county_form(
            csrf,
            name="Lake County",
            time_zone="Europe/Paris",
            auto_dispatch="on",
            accept_within_minutes="30",
            finish_within_hours="24",
            categories=["medical"],
        ),
    )
    assert saved.status_code == 303
    row = await county(session_factory, c)
    assert (row.name, row.time_zone, row.auto_dispatch) == ("Lake County", "Europe/Paris", True)
    (created,) = await entries(session_factory, "county.create", c)
    assert created.detail["categories"] == ["elderly", "family"]
    (updated,) = await entries(session_factory, "county.update", c)
    assert updated.detail["categories"] == {"from": ["elderly", "family"], "to": ["medical"]}
    assert updated.detail["name"] == {"from": "Lake <b>County</b>", "to": "Lake County"}
    assert str(updated.ip) == "10.9.8.7"


@pytest.mark.parametrize(
    ("values", "field", "why"),
    [
        ({"code": "north;Dial"}, "code", "a county code: lowercase letters, digits and _"),
        ({"code": "x,1"}, "code", "a county code"),
        ({"code": "x)"}, "code", "a county code"),
        ({"code": "North"}, "code", "a county code"),
        ({"code": "a" * 33}, "code", "a county code"),
        ({"code": "north"}, "code", "there is already a county 'north'"),
        ({"queue": "general"}, "queue", "the routing cannot render this queue"),
        ({"queue": "county-template"}, "queue", "the routing cannot render this queue"),
        ({"queue": "county-north"}, "queue", "is another county's"),
        ({"queue": "q]"}, "queue", "a queue name: lowercase letters, digits, _ and -"),
        ({"time_zone": "../../etc/passwd"}, "time_zone", "a time zone name such as"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "unknown time zone Mars/Olympus"),
        ({"time_zone": "UTC+8"}, "time_zone", "a time zone name such as"),
        ({"accept_within_minutes": "4"}, "accept_within_minutes", "from 5 to 10080"),
        ({"accept_within_minutes": "1e3"}, "accept_within_minutes", "a whole number"),
        ({"finish_within_hours": "-1"}, "finish_within_hours", "from 1 to 2160"),
        ({"categories": ["atlantis"]}, "categories", "no catalogue category 'atlantis'"),
        ({"name": ""}, "name", "required"),
        ({"name": "a\nb"}, "name", "no control characters"),
    ],
)
async def test_bad_input_is_refused_with_the_form_as_typed(
    admin, session_factory, values, field, why
):
    client, csrf = admin
    body = {"code": code(), "name": "Robert'); DROP TABLE counties;-- <script>x</script>"}
    body.update(values)
    page = await add(client, csrf, **body)
    assert page.status_code == 422, page.text
    error = page.text.split(f'data-testid="error-{field}">')[1].split("</span>")[0]
    assert why in html.unescape(error)
    assert "<script>x</script>" not in page.text
    if "name" not in values:
        assert "&lt;script&gt;x&lt;/script&gt;" in page.text  # kept, for the admin to fix
    for name, value in values.items():
        if isinstance(value, str) and value and "\n" not in value:
            assert f'value="{value}"' in page.text.replace("&#39;", "'").replace("&#34;", '"')
    if body["code"] != "north":
        assert await county(session_factory, body["code"]) is None
    async with session_factory() as db:
        assert await db.scalar(select(County).where(County.code == "north")) is not None


async def test_a_crafted_deleted_message_is_not_shown(admin):
    client, _ = admin
    page = await client.get("/admin/counties", params={"deleted": "x. Call 555-0100 now"})
    assert page.status_code == 200 and "555-0100" not in page.text


async def test_no_change_without_the_csrf_token(admin, session_factory):
    client, csrf = admin
    c = code()
    refused = await client.post(
        "/admin/counties",
        data={k: v for k, v in county_form(csrf, code=c).items() if k != "csrf_token"},
    )
    assert refused.status_code == 403 and await county(session_factory, c) is None


@pytest.fixture
async def routed(admin, session_factory):
    """A county the routing sends calls to (a DID rule), removed afterwards."""
    client, csrf = admin
    c = code()
    assert (await add(client, csrf, code=c)).status_code == 303
    async with session_factory() as db:
        county_id = await db.scalar(select(County.id).where(County.code == c))
        db.add(RoutingDid(did=f"55{secrets.randbelow(10**8)}", county_id=county_id, position=9999))
        await db.commit()
    yield c
    async with session_factory() as db:
        await db.execute(delete(RoutingDid).where(RoutingDid.county_id == county_id))
        await db.commit()


async def test_a_county_in_use_cannot_be_deleted_or_retired_while_routed(
    admin, session_factory, routed
):
    client, csrf = admin
    page = await client.get(f"/admin/counties/{routed}")
    assert (
        "routing DID rules: 1" in page.text and f"/admin/counties/{routed}/delete" not in page.text
    )

    deleted = await client.post(f"/admin/counties/{routed}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 422
    assert "this county is in use (routing DID rules: 1): it can only be retired" in deleted.text
    retired = await client.post(
        f"/admin/counties/{routed}/retired", data={"csrf_token": csrf, "retired": "true"}
    )
    assert retired.status_code == 422 and "change them in County routing first" in retired.text
    row = await county(session_factory, routed)
    assert row is not None and row.retired_at is None
    assert await entries(session_factory, "county.retire", routed) == []


async def test_retire_a_county_with_history_and_bring_it_back(
    admin, session_factory, make_user, client
):
    client, csrf = admin
    c = code()
    assert (await add(client, csrf, code=c, categories=["family"])).status_code == 303
    agent = await make_user(Role.AGENT, county=c)  # in use: a user of that county

    retired = await client.post(
        f"/admin/counties/{c}/retired", data={"csrf_token": csrf, "retired": "true"}
    )
    assert retired.status_code == 303
    assert (await county(session_factory, c)).retired_at is not None
    assert len(await entries(session_factory, "county.retire", c)) == 1
    listed = await client.get("/admin/counties")
    assert "retired" in listed.text.split(f'data-code="{c}"')[1].split("</tr>")[0]

    # not offered for anything new...
    offered = (await client.get("/api/counties")).json()
    assert c not in [x["code"] for x in offered]
    every = (await client.get("/api/counties", params={"include_retired": "true"})).json()
    assert {"code": c, "retired": True}.items() <= next(x for x in every if x["code"] == c).items()
    users = await client.get("/admin/users")
    assert f'value="{c}"' not in users.text.split('data-testid="add-user"')[1].split("</form>")[0]
    new_user = await client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "username": f"u{secrets.token_hex(3)}",
            "role": "agent",
            "county": c,
        },
    )
    assert new_user.status_code == 422 and f"county &#39;{c}&#39; is retired" in new_user.text
    # ...nor by the routing: a rule naming it is refused with why
    async with session_factory() as db:
        service = RoutingService(client._transport.app.state.settings.asterisk_conf_dir, None)
        catalog = await service.catalog(db)
    with pytest.raises(RuleErrors) as refused:
        check({"dids": [{"did": "5550002", "county": c}]}, catalog)
    assert refused.value.fields == {
        "dids.0.county": f"county '{c}' is retired: choose another county, or un-retire it"
    }
    with pytest.raises(RuleErrors) as refused:
        check(
            {
                "counties": [
                    {
                        "county": "north",
                        "overflow_queue": f"county-{c}",
                        "overflow_when_empty": True,
                    }
                ]
            },
            catalog,
        )
    assert "retired county" in refused.value.fields["counties.0.overflow_queue"]
    routing = (await client.get("/api/routing/catalog")).json()
    assert c not in [x["code"] for x in routing["counties"]]
    assert f"county-{c}" not in routing["queues"]

    # the agent who has it keeps it when their other details are saved
    async with session_factory() as db:
        from cti.store.users import User

        agent_id = await db.scalar(select(User.id).where(User.username == agent))
    kept = await client.post(
        f"/admin/users/{agent_id}",
        data={"csrf_token": csrf, "display_name": "Renamed", "role": "agent", "county": c},
    )
    assert kept.status_code == 303, kept.text

    # in use by that user: no delete, retiring was the way
    deleted = await client.post(f"/admin/counties/{c}/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 422 and "users: 1" in deleted.text

    back = await client.post(
        f"/admin/counties/{c}/retired", data={"csrf_token": csrf, "retired": "false"}
    )
    assert back.status_code == 303 and (await county(session_factory, c)).retired_at is None
    assert len(await entries(session_factory, "county.unretire", c)) == 1
    assert c in [x["code"] for x in (await client.get("/api/counties")).json()]


async def test_a_county_nothing_points_at_can_be_deleted(admin, session_factory):
    client, csrf = admin
    c = code()
    assert (await add(client, csrf, code=c, categories=["family"])).status_code == 303
    page = await client.get(f"/admin/counties/{c}")
    assert "nothing yet" in page.text and f"/admin/counties/{c}/delete" in page.text
    deleted = await client.post(f"/admin/counties/{c}/delete", data={"csrf_token": csrf})
    assert (
        deleted.status_code == 303 and deleted.headers["location"] == f"/admin/counties?deleted={c}"
    )
    assert f"Deleted the county {c}." in (await client.get(deleted.headers["location"])).text
    assert await county(session_factory, c) is None
    (entry,) = await entries(session_factory, "county.delete", c)
    assert entry.detail["queue"] == f"county-{c}"
    assert (await client.get(f"/admin/counties/{c}")).status_code == 404


async def test_edit_refusals_keep_what_was_typed(admin, session_factory):
    client, csrf = admin
    c = code()
    assert (await add(client, csrf, code=c)).status_code == 303
    page = await client.post(
        f"/admin/counties/{c}",
        data=county_form(
            csrf, name="<img src=x onerror=alert(1)>", time_zone="Mars/Olympus", categories=["jobs"]
        ),
    )
    assert page.status_code == 422
    assert "unknown time zone Mars/Olympus" in page.text
    assert 'value="&lt;img src=x onerror=alert(1)&gt;"' in page.text
    assert 'value="Mars/Olympus"' in page.text
    assert re.search(r'value="jobs" checked', page.text)
    row = await county(session_factory, c)
    assert (row.name, row.time_zone) == ("Test County", "Asia/Shanghai")
    assert await entries(session_factory, "county.update", c) == []


# --- the catalogue --------------------------------------------------------------------------


async def entry(session_factory, c: str) -> ServiceCategory | None:
    async with session_factory() as db:
        return await db.scalar(select(ServiceCategory).where(ServiceCategory.code == c))


async def test_catalogue_add_rename_reorder_deactivate(admin, session_factory):
    client, csrf = admin
    top = code()
    made = await client.post(
        "/admin/catalogue", data={"csrf_token": csrf, "code": top, "name": "Garden <i>work</i>"}
    )
    assert made.status_code == 303
    group = await entry(session_factory, top)
    assert group.parent_id is None and group.name == "Garden <i>work</i>"
    for item in ("mowing", "hedges"):
        added = await client.post(
            "/admin/catalogue",
            data={"csrf_token": csrf, "code": item, "name": item.title(), "parent": top},
        )
        assert added.status_code == 303
    mowing, hedges = (
        await entry(session_factory, f"{top}.mowing"),
        await entry(session_factory, f"{top}.hedges"),
    )
    assert mowing.parent_id == group.id and mowing.sort_order < hedges.sort_order
    page = await client.get("/admin/catalogue")
    assert "Garden &lt;i&gt;work&lt;/i&gt;" in page.text

    moved = await client.post(
        f"/admin/catalogue/{hedges.id}/move", data={"csrf_token": csrf, "direction": "up"}
    )
    assert moved.status_code == 303
    mowing, hedges = (
        await entry(session_factory, f"{top}.mowing"),
        await entry(session_factory, f"{top}.hedges"),
    )
    assert hedges.sort_order < mowing.sort_order

    renamed = await client.post(
        f"/admin/catalogue/{mowing.id}", data={"csrf_token": csrf, "name": "Lawn mowing"}
    )
    assert renamed.status_code == 303 and (await entry(session_factory, f"{top}.mowing")).name == (
        "Lawn mowing"
    )
    off = await client.post(
        f"/admin/catalogue/{group.id}/active", data={"csrf_token": csrf, "active": "false"}
    )
    assert off.status_code == 303 and not (await entry(session_factory, top)).active
    offered = (await client.get("/api/service-categories")).json()
    assert top not in [g["code"] for g in offered]

    # a deactivated category is not added to a county (it may stay where it was)
    refused = await add(client, csrf, code=code(), categories=[top])
    assert refused.status_code == 422 and "is deactivated" in refused.text

    for action in (
        "catalogue.create",
        "catalogue.rename",
        "catalogue.move",
        "catalogue.deactivate",
    ):
        assert (
            await entries(session_factory, action, top)
            or await entries(session_factory, action, f"{top}.mowing")
            or await entries(session_factory, action, f"{top}.hedges")
        ), action


@pytest.mark.parametrize(
    ("form", "why"),
    [
        ({"code": "Bad Code"}, "lowercase letters, digits and _"),
        ({"code": "x;DROP"}, "lowercase letters, digits and _"),
        ({"code": "family"}, "there is already a catalogue entry &#39;family&#39;"),
        ({"code": "nanny", "parent": "family"}, "already a catalogue entry &#39;family.nanny&#39;"),
        ({"parent": "atlantis"}, "no catalogue category &#39;atlantis&#39;"),
        ({"parent": "family.nanny"}, "items go under a top-level category"),
        ({"name": "  "}, "required"),
    ],
)
async def test_catalogue_refusals_keep_the_form(admin, form, why):
    client, csrf = admin
    body = {"csrf_token": csrf, "code": code(), "name": "<script>x</script>", **form}
    page = await client.post("/admin/catalogue", data=body)
    assert page.status_code == 422 and why in page.text
    assert "<script>x</script>" not in page.text


async def test_catalogue_rename_refused_and_unknown_entry(admin, session_factory):
    client, csrf = admin
    family = await entry(session_factory, "family")
    page = await client.post(
        f"/admin/catalogue/{family.id}", data={"csrf_token": csrf, "name": "a\tb"}
    )
    assert page.status_code == 422 and "no control characters" in page.text
    assert (await entry(session_factory, "family")).name == family.name
    missing = await client.post(
        "/admin/catalogue/2000000000", data={"csrf_token": csrf, "name": "x"}
    )
    assert missing.status_code == 404
