"""The routing admin API over HTTP, with the real database, the real asterisklint and a
small AMI server (``FakePbx``) behind ``CTI_ROUTING_AMI_URL``: admin only, CSRF, hostile
values refused per field with nothing stored, the simulator equal to ``decide``, preview,
apply (success and every kind of failure, with the previous file restored), history,
rollback and the audit trail."""

from __future__ import annotations

import copy
import shutil
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select, text

from cti.app import create_app
from cti.bus import InMemoryBus
from cti.routing import repo, versions
from cti.routing.decide import compile_table, decide
from cti.routing.queues import FILENAME as QUEUES_FILENAME
from cti.routing.render import FILENAME
from cti.routing.rules import check
from cti.routing.service import APPLY_LOCK, Actor, RoutingService
from cti.store.audit import AuditEntry
from cti.store.counties import County
from cti.store.routing import RoutingVersion
from cti.store.users import Role
from tests.conftest import csrf_of, login
from tests.integration.routing.fake_pbx import FakePbx

ROOT = Path(__file__).resolve().parents[3]
CLIENT_IP = "10.9.8.7"

SEEDED: dict[str, Any] = {
    "dids": [
        {"did": "9615601", "county": "north"},
        {"did": "9615602", "county": "south"},
        {"did": "9615603", "county": "east"},
        {"did": "9615604", "county": "west"},
    ]
}
#: Every kind of field at least once, valid against the seeded counties and queues.conf.
FULL: dict[str, Any] = {
    "default_county": "north",
    "dids": [*SEEDED["dids"], {"did": "12345"}],
    "prefixes": [
        {"prefix": "138", "county": "south"},
        {"prefix": "1380013", "county": "east", "did": "12345"},
    ],
    "counties": [
        {
            "county": "north",
            "timezone": "Asia/Shanghai",
            "hours": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "18:00"}],  # noqa: E501
            "holidays": ["2027-01-01"],
            "after_hours": {"action": "voicemail", "mailbox": "1000"},
            "overflow_queue": "county-west",
            "overflow_when_empty": True,
            "overflow_after_s": 60,
        },
        {
            "county": "south",
            "timezone": "Asia/Shanghai",
            "hours": [{"days": ["sat"], "start": "09:00", "end": "12:00"}],
            "after_hours": {"action": "queue", "queue": "county-north"},
        },
    ],
}  # fmt: skip


def routing_conf_dir(tmp_path: Path) -> Path:
    """A private copy of the shipped Asterisk configuration (apply writes into it)."""
    folder = tmp_path / "asterisk"
    shutil.copytree(ROOT / "asterisk_conf", folder)
    return folder


def routing_settings(settings, conf_dir: Path, pbx: FakePbx):
    return settings.model_copy(
        update={
            "asterisk_conf_dir": conf_dir,
            "routing_ami_url": f"ami://{pbx.username}:{pbx.secret}@127.0.0.1:{pbx.port}",
        }
    )


async def restore_seeded_rules(session_factory) -> None:
    """Leave the shared test database with the seeded rules."""
    async with session_factory() as db:
        await RoutingService(ROOT / "asterisk_conf", None).save(db, SEEDED, Actor(None, "tests"))


@pytest.fixture
def conf_dir(tmp_path) -> Path:
    return routing_conf_dir(tmp_path)


@pytest.fixture
async def pbx(conf_dir) -> AsyncIterator[FakePbx]:
    fake = FakePbx(conf_dir)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def routing_app(settings, database_url, engine, seeded, conf_dir, pbx, session_factory):
    await restore_seeded_rules(session_factory)
    yield create_app(
        routing_settings(settings, conf_dir, pbx),
        database_url,
        roles={"api"},
        engine=engine,
        bus=InMemoryBus(),
        services=[],
    )
    await restore_seeded_rules(session_factory)


def _client(app) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


class Admin:
    def __init__(self, client: httpx.AsyncClient, username: str, csrf: str) -> None:
        self.client, self.username = client, username
        self.headers = {"X-CSRF-Token": csrf}

    async def get(self, url: str, **kw) -> httpx.Response:
        return await self.client.get(url, **kw)

    async def post(self, url: str, json: Any = None) -> httpx.Response:
        return await self.client.post(url, json=json, headers=self.headers)

    async def put(self, url: str, json: Any) -> httpx.Response:
        return await self.client.put(url, json=json, headers=self.headers)


@pytest.fixture
async def admin(routing_app, make_user) -> AsyncIterator[Admin]:
    async with _client(routing_app) as client:
        username = await make_user(Role.ADMIN)
        await login(client, username)
        yield Admin(client, username, await csrf_of(client))


def changed_lines(diff: str, sign: str) -> str:
    """The added (``+``) or removed (``-``) lines of a unified diff, without its header."""
    return "\n".join(
        line for line in diff.splitlines() if line[:1] == sign and line[:3] != sign * 3
    )


async def _count(session_factory, model, *where) -> int:
    async with session_factory() as db:
        return await db.scalar(select(func.count()).select_from(model).where(*where))


async def _audit(session_factory, action: str, actor: str) -> list[AuditEntry]:
    async with session_factory() as db:
        rows = await db.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == action, AuditEntry.actor_name == actor)
            .order_by(AuditEntry.id)
        )
        return list(rows)


# --- access --------------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", "/api/routing/catalog"),
    ("GET", "/api/routing/rules"),
    ("PUT", "/api/routing/rules"),
    ("POST", "/api/routing/validate"),
    ("POST", "/api/routing/simulate"),
    ("GET", "/api/routing/preview"),
    ("POST", "/api/routing/apply"),
    ("GET", "/api/routing/versions"),
    ("GET", "/api/routing/versions/1"),
    ("POST", "/api/routing/versions/1/rollback"),
]


@pytest.mark.parametrize("role", [Role.AGENT, Role.INSPECTOR, Role.SUPERVISOR])
async def test_every_routing_endpoint_refuses_other_roles(
    routing_app, make_user, session_factory, pbx, role
):
    versions = await _count(session_factory, RoutingVersion)
    async with _client(routing_app) as client:
        await login(client, await make_user(role))
        headers = {"X-CSRF-Token": await csrf_of(client)}
        for method, url in ENDPOINTS:
            body = FULL if method in ("PUT", "POST") else None
            response = await client.request(method, url, json=body, headers=headers)
            assert response.status_code == 403, (method, url, response.text)
            assert response.json()["error"] == "forbidden"
    assert pbx.actions == []
    assert await _count(session_factory, RoutingVersion) == versions
    async with session_factory() as db:
        stored = (await repo.load_rules(db)).as_data()
    assert stored == check(SEEDED, await _catalog(session_factory)).as_data()


async def test_changes_without_the_csrf_token_are_refused(admin, session_factory, pbx):
    saves = len(await _audit(session_factory, "routing.rules.save", admin.username))
    for method, url in ENDPOINTS:
        if method == "GET":
            continue
        response = await admin.client.request(method, url, json=FULL)
        assert response.status_code == 403, (method, url)
        assert response.json()["error"] == "csrf_failed"
        wrong = await admin.client.request(method, url, json=FULL, headers={"X-CSRF-Token": "x"})
        assert wrong.status_code == 403
    assert len(await _audit(session_factory, "routing.rules.save", admin.username)) == saves
    assert (await admin.get("/api/routing/rules")).json() == check(
        SEEDED, await _catalog(session_factory)
    ).as_data()
    assert pbx.actions == []


async def test_the_page_and_the_api_need_a_login(routing_app):
    async with _client(routing_app) as anonymous:
        assert (await anonymous.get("/api/routing/rules")).status_code == 401
        assert (await anonymous.post("/api/routing/apply")).status_code == 401


# --- rules: read, validate, save -----------------------------------------------------------


async def _catalog(session_factory):
    async with session_factory() as db:
        return await repo.load_catalog(db, ROOT / "asterisk_conf")


async def test_rules_round_trip_in_the_export_format_and_saving_is_audited(admin, session_factory):
    seeded = await admin.get("/api/routing/rules")
    assert seeded.status_code == 200
    assert seeded.json() == check(SEEDED, await _catalog(session_factory)).as_data()

    valid = await admin.post("/api/routing/validate", FULL)
    assert valid.status_code == 200
    assert valid.json() == {"ok": True, "dids": 5, "prefixes": 2, "counties": 2}
    assert (
        await admin.get("/api/routing/rules")
    ).json() == seeded.json()  # validate stores nothing

    saved = await admin.put("/api/routing/rules", FULL)
    assert saved.status_code == 200
    expected = check(FULL, await _catalog(session_factory)).as_data()
    assert saved.json() == expected
    assert (await admin.get("/api/routing/rules")).json() == expected
    (entry,) = await _audit(session_factory, "routing.rules.save", admin.username)
    assert entry.detail == {"dids": 5, "prefixes": 2, "counties": 2, "default_county": "north"}
    assert str(entry.ip) == CLIENT_IP


async def test_catalog_lists_counties_queues_and_whether_apply_is_possible(admin):
    body = (await admin.get("/api/routing/catalog")).json()
    codes = {c["code"]: c["queue"] for c in body["counties"]}
    assert codes == {
        "north": "county-north",
        "south": "county-south",
        "east": "county-east",
        "west": "county-west",
    }
    assert {"county-north", "county-west"} <= set(body["queues"])
    assert body["weekdays"][0] == "mon" and body["can_apply"] is True


async def test_rule_errors_that_are_not_about_characters_name_their_field(admin):
    data = copy.deepcopy(FULL)
    data["dids"].append({"did": "9615601", "county": "east"})  # the same DID twice
    data["prefixes"][1]["did"] = "777"  # a DID without a DID rule
    data["counties"][1]["hours"][0]["end"] = "08:00"  # ends before it starts
    response = await admin.post("/api/routing/validate", data)
    assert response.status_code == 422
    fields = response.json()["fields"]
    assert set(fields) == {"dids.5.did", "prefixes.1.did", "counties.1.hours.0.end"}
    assert fields["counties.1.hours.0.end"] == "must be later than the start"


HOSTILE: list[Any] = [
    "9615601\n[evil]", "9615601\r\nexten => 666,1,Dial(PJSIP/x)", "1;2", "1,2", "1)",
    "${SHELL(id)}", "1&2", '"1"', "١٢٣", "１２３", "north\u202e", "9" * 10_240,
    12345, 1.5, True, ["north"], {"x": 1},
]  # fmt: skip


def _setter(path: str):
    """A function that puts a value at ``path`` of a rule set (list index = number)."""
    *head, last = path.split(".")

    def put(data: dict[str, Any], value: Any) -> None:
        node: Any = data
        for part in head:
            node = node[int(part)] if part.isdigit() else node[part]
        if last == "days":
            node[last] = [value]
        elif last == "holidays":
            node[last] = [value]
        else:
            node[last] = value

    return put


HOSTILE_FIELDS = [
    "default_county", "dids.0.did", "dids.0.county", "prefixes.0.prefix", "prefixes.0.county",
    "prefixes.1.did", "counties.0.county", "counties.0.timezone", "counties.0.hours.0.start",
    "counties.0.hours.0.end", "counties.0.hours.0.days", "counties.0.holidays",
    "counties.0.after_hours.action", "counties.0.after_hours.mailbox",
    "counties.1.after_hours.queue", "counties.0.overflow_queue", "counties.0.overflow_after_s",
    "counties.0.overflow_when_empty",
]  # fmt: skip


@pytest.mark.parametrize("path", HOSTILE_FIELDS)
async def test_a_hostile_value_is_refused_on_its_field_and_nothing_is_stored(
    admin, session_factory, path
):
    before = (await admin.get("/api/routing/rules")).json()
    put = _setter(path)
    for value in HOSTILE:
        if path == "counties.0.overflow_when_empty" and isinstance(value, bool):
            continue  # a bool is the right type there
        data = copy.deepcopy(FULL)
        put(data, value)
        for method, url in (("POST", "/api/routing/validate"), ("PUT", "/api/routing/rules")):
            response = await admin.client.request(method, url, json=data, headers=admin.headers)
            assert response.status_code == 422, (url, path, value, response.text)
            body = response.json()
            assert body["error"] == "invalid"
            assert any(f == path or f.startswith(path + ".") for f in body["fields"]), (
                path,
                value,
                body["fields"],
            )
            if isinstance(value, str) and len(value) > 100:
                assert value not in response.text  # errors do not echo the input
    assert (await admin.get("/api/routing/rules")).json() == before
    assert await _audit(session_factory, "routing.rules.save", admin.username) == []


@pytest.mark.parametrize("body", [[FULL], "rules", 7, None])
async def test_a_body_of_the_wrong_type_is_refused(admin, body):
    for method, url in (("POST", "/api/routing/validate"), ("PUT", "/api/routing/rules")):
        response = await admin.client.request(method, url, json=body, headers=admin.headers)
        assert response.status_code == 422, (url, body)
    assert (await admin.get("/api/routing/rules")).json()["dids"] == SEEDED["dids"]


async def test_an_unknown_field_is_refused(admin):
    response = await admin.put("/api/routing/rules", {**FULL, "dialplan": "exten => 1,1,Dial()"})
    assert response.status_code == 422
    assert response.json()["fields"] == {"dialplan": "unknown field"}


# --- simulate ----------------------------------------------------------------------------

SIMULATIONS = [
    # (caller, did, at, empty queues)
    ("13800138000", "9615601", "2027-01-09T10:00:00+08:00", []),  # prefix 138 -> south, open
    ("13800138000", "12345", "2027-01-04T09:30:00+08:00", []),  # DID-specific prefix -> east
    ("", "12345", "2027-01-04T09:30:00+08:00", []),  # anonymous -> default county north
    ("02000000000", "9615601", "2027-01-04T20:00:00+08:00", []),  # north after hours -> voicemail
    ("02000000000", "9615601", "2027-01-01T10:00:00+08:00", []),  # holiday
    ("02000000000", "9615601", "2027-01-04T01:30:00Z", ["county-north"]),  # no agent -> overflow
    ("13900000000", "9615602", "2027-01-04T10:00:00+08:00", []),  # south closed -> queue north
    ("13900000000", "55555", "2027-01-04T10:00:00+08:00", []),  # unknown DID -> reject
]


async def test_simulate_answers_what_decide_answers(admin, session_factory):
    assert (await admin.put("/api/routing/rules", FULL)).status_code == 200
    catalog = await _catalog(session_factory)
    table = compile_table(check(FULL, catalog), catalog)
    actions = set()
    for caller, did, at, empty in SIMULATIONS:
        response = await admin.post(
            "/api/routing/simulate", {"caller": caller, "did": did, "at": at, "empty_queues": empty}
        )
        assert response.status_code == 200, response.text
        got = response.json()
        when = datetime.fromisoformat(at)
        want = decide(table, caller=caller, did=did, at=when, empty_queues=frozenset(empty))
        assert datetime.fromisoformat(got.pop("at")) == when
        assert got == want.as_data(), (caller, did, at)
        actions.add((got["action"], got["queue"]))
    # the cases above do reach the different outcomes
    assert {("queue", "county-south"), ("voicemail", None), ("reject", None)} <= actions
    assert ("queue", "county-west") in actions and ("queue", "county-north") in actions


async def test_simulate_without_a_time_uses_now(admin):
    response = await admin.post("/api/routing/simulate", {"caller": "", "did": "9615603"})
    assert response.status_code == 200
    assert response.json()["county"] == "east" and response.json()["matched_rule"] == "dids.2"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"caller": "138\n[evil]", "did": "9615601"}, "caller"),
        ({"caller": "1;2", "did": "9615601"}, "caller"),
        ({"caller": "9" * 10_240, "did": "9615601"}, "caller"),
        ({"caller": 13800138000, "did": "9615601"}, "caller"),
        ({"did": "9615601)"}, "did"),
        ({"did": "${EXTEN}"}, "did"),
        ({"did": "１２３"}, "did"),
        ({"did": ["9615601"]}, "did"),
        ({}, "did"),
        ({"did": "9615601", "at": "yesterday"}, "at"),
        ({"did": "9615601", "at": "2027-01-04T09:30:00"}, "at"),  # no offset
        ({"did": "9615601", "at": 1700000000}, "at"),
        ({"did": "9615601", "empty_queues": ["county-north,1"]}, "empty_queues.0"),
        ({"did": "9615601", "empty_queues": "county-north"}, "empty_queues"),
        ({"did": "9615601", "exten": "1"}, "exten"),
    ],
)
async def test_simulate_refuses_hostile_input_on_its_field(admin, body, field):
    response = await admin.post("/api/routing/simulate", body)
    assert response.status_code == 422, response.text
    assert field in response.json()["fields"]


# --- preview, apply, history, rollback ----------------------------------------------------


async def test_preview_diffs_the_stored_rules_against_the_live_file(
    admin, conf_dir, pbx, session_factory
):
    live = (conf_dir / FILENAME).read_bytes()
    assert (await admin.put("/api/routing/rules", FULL)).status_code == 200
    response = await admin.get("/api/routing/preview")
    assert response.status_code == 200
    body = response.json()
    assert body["changed"] is True
    assert body["diff"].startswith(f"--- live/{FILENAME}\n+++ {FILENAME}\n")
    async with session_factory() as db:
        rendered = await RoutingService(conf_dir, None).render(db)
    assert body["text"] == rendered.text and body["sha256"] == versions.sha256(rendered.text)
    assert body["live_sha256"] == versions.sha256(live.decode())
    assert body["diff"] == versions.unified_diff(
        live.decode(), rendered.text, f"live/{FILENAME}", FILENAME
    )
    assert "12345" in changed_lines(body["diff"], "+")
    assert (conf_dir / FILENAME).read_bytes() == live and pbx.actions == []  # read only


@pytest.fixture
async def new_county(session_factory, seeded) -> AsyncIterator[str]:
    """A county added after the shipped queues_counties.conf was rendered (its queue is
    not in the live file yet); removed again afterwards."""
    async with session_factory() as db:
        db.add(County(code="central", name="Central", queue_name="county-central"))
        await db.commit()
    yield "county-central"
    async with session_factory() as db:
        await db.execute(delete(County).where(County.code == "central"))
        await db.commit()


async def test_preview_with_unchanged_counties_shows_no_queues_change(admin, conf_dir, pbx):
    live_queues = (conf_dir / QUEUES_FILENAME).read_text()
    body = (await admin.get("/api/routing/preview")).json()
    queues = body["queues"]
    assert queues == {
        "text": live_queues,
        "sha256": versions.sha256(live_queues),
        "live_sha256": versions.sha256(live_queues),
        "diff": "",
        "changed": False,
    }
    assert body["reloads_queues"] is False
    # the dialplan part is still there beside it
    assert {"text", "sha256", "live_sha256", "diff", "changed"} <= set(body)
    assert pbx.actions == []


async def test_preview_with_a_new_county_shows_the_queues_diff_that_apply_then_makes(
    admin, conf_dir, pbx, new_county
):
    live_queues = (conf_dir / QUEUES_FILENAME).read_bytes()
    response = await admin.get("/api/routing/preview")
    assert response.status_code == 200, response.text
    body = response.json()
    queues = body["queues"]
    assert queues["changed"] is True and body["reloads_queues"] is True
    assert queues["diff"].startswith(f"--- live/{QUEUES_FILENAME}\n+++ {QUEUES_FILENAME}\n")
    added = [line for line in changed_lines(queues["diff"], "+").splitlines() if line != "+"]
    assert added == [f"+[{new_county}](county-template)"]  # and a blank line before it
    assert changed_lines(queues["diff"], "-") == ""
    assert queues["live_sha256"] == versions.sha256(live_queues.decode())
    assert queues["sha256"] == versions.sha256(queues["text"]) != queues["live_sha256"]
    assert f"\n[{new_county}](county-template)\n" in queues["text"]
    assert body["changed"] is False  # the rules, hence the dialplan, did not change
    assert (conf_dir / QUEUES_FILENAME).read_bytes() == live_queues and pbx.actions == []

    # What the preview announced is what apply does: the same file, app_queue reloaded.
    applied = (await admin.post("/api/routing/apply")).json()
    assert applied["ok"] is True, applied
    assert (conf_dir / QUEUES_FILENAME).read_text() == queues["text"]
    assert pbx.queue_reloads == 1 and new_county in pbx.queues
    assert f"+[{new_county}](county-template)" in changed_lines(applied["version"]["diff"], "+")
    after = (await admin.get("/api/routing/preview")).json()
    assert after["queues"]["changed"] is False and after["reloads_queues"] is False


async def test_preview_with_a_queues_conf_that_cannot_render_the_queues_is_a_clear_422(
    admin, conf_dir, pbx
):
    main = conf_dir / "queues.conf"
    main.write_text(main.read_text().replace("[county-template](!)", "[county-settings](!)"))
    before = (conf_dir / FILENAME).read_bytes(), (conf_dir / QUEUES_FILENAME).read_bytes()
    response = await admin.get("/api/routing/preview")
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid"
    assert "queues.conf" in body["detail"] and "rules" not in body["detail"]
    assert set(body["fields"]) == {"queues"}
    assert "queues.conf has no [county-template](!) template" in body["fields"]["queues"]
    # apply refuses the same way, and nothing was written or reloaded
    refused = await admin.post("/api/routing/apply")
    assert refused.status_code == 422 and refused.json()["fields"] == body["fields"]
    after = (conf_dir / FILENAME).read_bytes(), (conf_dir / QUEUES_FILENAME).read_bytes()
    assert after == before and pbx.actions == []


async def test_apply_goes_live_and_records_an_audited_version(
    admin, conf_dir, pbx, session_factory
):
    assert (await admin.put("/api/routing/rules", FULL)).status_code == 200
    response = await admin.post("/api/routing/apply")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True and body["previous_routing_live"] is False
    version = body["version"]
    assert body["message"] == f"Applied: version {version['id']} is live."
    assert version["result"] == "applied" and version["author"] == admin.username
    assert (conf_dir / FILENAME).read_text() == version["text"]
    assert "12345" in changed_lines(version["diff"], "+")
    assert version["rules"] == check(FULL, await _catalog(session_factory)).as_data()
    assert body["outcome"]["steps"][-1] == "reloaded and verified"
    assert body["outcome"]["lint_ok"] is True and pbx.reloads == 1

    # After the apply, the preview has nothing left to show.
    preview = (await admin.get("/api/routing/preview")).json()
    assert preview["changed"] is False and preview["diff"] == ""

    (entry,) = await _audit(session_factory, "routing.apply", admin.username)
    assert entry.object_id == str(version["id"]) and entry.detail["result"] == "applied"
    assert str(entry.ip) == CLIENT_IP


@pytest.mark.parametrize("fault", ["reload_fails", "live_differs", "unreachable"])
async def test_a_failed_apply_keeps_the_previous_routing_and_says_so(
    admin, conf_dir, pbx, session_factory, fault
):
    before = (conf_dir / FILENAME).read_bytes()
    loaded_before = list(pbx.loaded)
    assert (await admin.put("/api/routing/rules", FULL)).status_code == 200
    if fault == "reload_fails":
        pbx.fail_reloads = 1
    elif fault == "live_differs":
        pbx.tamper = True
    else:
        await pbx.stop()
    response = await admin.post("/api/routing/apply")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is False and body["previous_routing_live"] is True
    assert "the previous routing stays live" in body["message"]
    assert (conf_dir / FILENAME).read_bytes() == before
    version = body["version"]
    assert version["result"] == "failed" and version["error"] == body["outcome"]["error"]
    assert "previous file restored" in body["outcome"]["steps"]
    expected_error = {
        "reload_fails": "A reload is in progress",
        "live_differs": "the live dialplan is not the rendered one",
        "unreachable": "cannot reach AMI",
    }[fault]
    assert expected_error in body["outcome"]["error"]
    if fault == "reload_fails":
        assert body["outcome"]["restored"] is True and pbx.loaded == loaded_before
    stored = (await admin.get(f"/api/routing/versions/{version['id']}")).json()
    assert stored["result"] == "failed" and stored["error"] == version["error"]
    (entry,) = await _audit(session_factory, "routing.apply", admin.username)
    assert entry.detail["result"] == "failed"


async def test_a_second_apply_while_one_runs_is_a_clear_409(admin, session_factory, pbx):
    versions = await _count(session_factory, RoutingVersion)
    async with session_factory() as holder:
        await holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": APPLY_LOCK})
        response = await admin.post("/api/routing/apply")
        rollback = await admin.post("/api/routing/versions/1/rollback")
        await holder.rollback()
    for refused in (response, rollback):
        assert refused.status_code == 409
        assert refused.json() == {
            "error": "conflict",
            "detail": "another routing apply is running; try again when it has finished",
        }
    assert await _count(session_factory, RoutingVersion) == versions and pbx.reloads == 0


async def test_apply_without_the_routing_ami_user_is_503(app, make_user):
    async with _client(app) as client:  # the default test app: no CTI_ROUTING_AMI_URL
        await login(client, await make_user(Role.ADMIN))
        headers = {"X-CSRF-Token": await csrf_of(client)}
        response = await client.post("/api/routing/apply", headers=headers)
        assert response.status_code == 503
        assert "CTI_ROUTING_AMI_URL" in response.json()["detail"]
        assert (await client.get("/api/routing/catalog")).json()["can_apply"] is False


async def test_history_pages_newest_first_and_shows_one_version(admin):
    ids = []
    for rules in (FULL, SEEDED, FULL):
        assert (await admin.put("/api/routing/rules", rules)).status_code == 200
        ids.append((await admin.post("/api/routing/apply")).json()["version"]["id"])
    first = (await admin.get("/api/routing/versions", params={"limit": 2})).json()
    assert [v["id"] for v in first["items"]] == [ids[2], ids[1]]
    assert first["next_before_id"] == ids[1]
    second = (
        await admin.get("/api/routing/versions", params={"limit": 2, "before_id": ids[1]})
    ).json()
    assert second["items"][0]["id"] == ids[0]
    assert set(first["items"][0]) == {
        "id", "created_at", "author", "sha256", "result", "error", "rollback_of",
    }  # fmt: skip
    detail = (await admin.get(f"/api/routing/versions/{ids[1]}")).json()
    assert detail["result"] == "applied" and "12345" in changed_lines(detail["diff"], "-")
    assert detail["rules"]["dids"] == SEEDED["dids"] and detail["lint_output"] == ""
    assert (await admin.get("/api/routing/versions/999999")).status_code == 404
    bad = await admin.get("/api/routing/versions", params={"limit": 0})
    assert bad.status_code == 422


async def test_rollback_applies_an_old_version_again_and_restores_its_rules(
    admin, conf_dir, pbx, session_factory
):
    first = (await admin.post("/api/routing/apply")).json()["version"]
    assert (await admin.put("/api/routing/rules", FULL)).status_code == 200
    second = (await admin.post("/api/routing/apply")).json()["version"]
    assert second["text"] != first["text"]

    response = await admin.post(f"/api/routing/versions/{first['id']}/rollback")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True
    version = body["version"]
    assert version["rollback_of"] == first["id"] and version["text"] == first["text"]
    assert (conf_dir / FILENAME).read_text() == first["text"]
    assert (await admin.get("/api/routing/rules")).json() == first["rules"]
    assert "12345" in changed_lines(version["diff"], "-")
    (entry,) = await _audit(session_factory, "routing.rollback", admin.username)
    assert entry.object_id == str(version["id"]) and entry.detail["rollback_of"] == first["id"]

    missing = await admin.post("/api/routing/versions/999999/rollback")
    assert missing.status_code == 404


async def test_a_failed_rollback_keeps_the_stored_rules(admin, conf_dir, pbx):
    first = (await admin.post("/api/routing/apply")).json()["version"]
    assert (await admin.put("/api/routing/rules", FULL)).status_code == 200
    assert (await admin.post("/api/routing/apply")).json()["ok"] is True
    live = (conf_dir / FILENAME).read_bytes()
    pbx.fail_reloads = 1
    body = (await admin.post(f"/api/routing/versions/{first['id']}/rollback")).json()
    assert body["ok"] is False and body["previous_routing_live"] is True
    assert body["version"]["rollback_of"] == first["id"]
    assert (conf_dir / FILENAME).read_bytes() == live
    stored = (await admin.get("/api/routing/rules")).json()
    assert stored["dids"][-1] == {"did": "12345", "county": None}  # still FULL
