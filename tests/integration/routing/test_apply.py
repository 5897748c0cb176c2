"""Apply against a small AMI server over real TCP, with the real database and the real
asterisklint: success, a reload that fails, and a live dialplan that does not match the
rendered one (the last two must put the previous file back and reload it)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cti.routing import repo
from cti.routing.ami_client import RoutingAmi
from cti.routing.lint import LintResult
from cti.routing.queues import FILENAME as QUEUES_FILENAME
from cti.routing.render import FILENAME, parse_entries
from cti.routing.service import ApplyBusy, RoutingService
from cti.settings import AmiNode
from cti.store.audit import AuditEntry
from tests.integration.routing.helpers import ACTOR, SEEDED

CHANGED = {
    "default_county": "north",
    "dids": [*SEEDED["dids"], {"did": "12345"}],
    "prefixes": [{"prefix": "1380013", "county": "south"}],
    "counties": [
        {
            "county": "north",
            "timezone": "Asia/Shanghai",
            "hours": [{"days": ["mon", "tue"], "start": "08:00", "end": "18:00"}],
            "after_hours": {"action": "callback"},
            "overflow_queue": "county-west",
            "overflow_when_empty": True,
        }
    ],
}


@pytest.fixture
async def service(conf_dir, pbx, stored):
    node = AmiNode("test", "127.0.0.1", pbx.port, "cti_routing", "s3cret")
    return RoutingService(conf_dir, lambda: RoutingAmi(node, timeout=5))


async def test_apply_writes_reloads_verifies_and_records_a_version(
    service, pbx, conf_dir, session_factory
):
    async with session_factory() as db:
        await service.save(db, CHANGED, ACTOR)
        report = await service.apply(db, ACTOR)
    assert report.outcome.ok, report.outcome
    text = (conf_dir / FILENAME).read_text()
    assert "exten => _c1380013.,1,Goto(hotline-county-south,s,1)" in text
    assert "[hotline-county-north]" in text
    assert pbx.loaded == list(parse_entries(text))
    assert [a["Action"] for a in pbx.actions] == ["Login", "Reload", "ShowDialPlan", "Logoff"]
    assert pbx.actions[0]["Events"] == "off"
    assert pbx.actions[1]["Module"] == "pbx_config"
    version = report.version
    assert version.result == "applied" and version.text == text
    assert version.author_name == "tester" and len(version.sha256) == 64
    assert "+exten => 12345,1,Set(__DID=12345)" in version.diff
    assert "+exten => c,1,Goto(hotline-county-north,s,1)" in version.diff
    assert version.lint_output == ""
    async with session_factory() as db:
        entry = await db.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "routing.apply", AuditEntry.object_id == str(version.id)
            )
        )
        assert entry is not None and entry.detail["result"] == "applied"


@pytest.mark.parametrize("fault", ["reload_fails", "live_differs"])
async def test_a_failed_apply_restores_the_previous_file_and_reloads_it(
    service, pbx, conf_dir, session_factory, fault
):
    before = (conf_dir / FILENAME).read_bytes()
    if fault == "reload_fails":
        pbx.fail_reloads = 1
    else:
        pbx.tamper = True
    async with session_factory() as db:
        await service.save(db, CHANGED, ACTOR)
        report = await service.apply(db, ACTOR)
    outcome = report.outcome
    assert not outcome.ok and outcome.restored is True
    assert (conf_dir / FILENAME).read_bytes() == before
    assert pbx.reloads == 2  # the new file, then the previous one again
    if fault == "reload_fails":
        assert "A reload is in progress" in outcome.error
        assert pbx.loaded == list(parse_entries(before.decode()))
    else:
        assert "the live dialplan is not the rendered one" in outcome.error
    assert report.version.result == "failed" and report.version.error == outcome.error
    assert "previous file restored" in outcome.steps


async def test_lint_failure_writes_nothing(service, pbx, conf_dir, session_factory):
    before = (conf_dir / FILENAME).read_bytes()
    service.lint = lambda text, folder: LintResult(False, "E_APP_MISSING: app 'Foo'")
    async with session_factory() as db:
        await service.save(db, CHANGED, ACTOR)
        report = await service.apply(db, ACTOR)
    assert not report.outcome.ok and report.version.lint_output.startswith("E_APP_MISSING")
    assert (conf_dir / FILENAME).read_bytes() == before and pbx.reloads == 0


async def test_an_unreachable_asterisk_leaves_the_previous_file(
    service, pbx, conf_dir, session_factory
):
    before = (conf_dir / FILENAME).read_bytes()
    await pbx.stop()
    async with session_factory() as db:
        await service.save(db, CHANGED, ACTOR)
        report = await service.apply(db, ACTOR)
    assert not report.outcome.ok and report.outcome.restored is False
    assert "cannot reach AMI" in report.outcome.error
    assert (conf_dir / FILENAME).read_bytes() == before


async def test_rollback_restores_an_old_version_and_its_rules(
    service, pbx, conf_dir, session_factory
):
    async with session_factory() as db:
        first = (await service.apply(db, ACTOR)).version
        await service.save(db, CHANGED, ACTOR)
        second = (await service.apply(db, ACTOR)).version
        assert second.text != first.text
        report = await service.rollback(db, first.id, ACTOR)
    assert report.outcome.ok and report.version.rollback_of == first.id
    assert (conf_dir / FILENAME).read_text() == first.text == report.version.text
    async with session_factory() as db:
        assert (await repo.load_rules(db)).as_data() == first.rules


async def test_only_one_apply_at_a_time(service, session_factory):
    from sqlalchemy import text

    from cti.routing.service import APPLY_LOCK

    async with session_factory() as holder, session_factory() as db:
        await holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": APPLY_LOCK})
        with pytest.raises(ApplyBusy):
            await service.apply(db, ACTOR)
        await holder.rollback()


TWO_PREFIXES = {
    **CHANGED,
    "prefixes": [
        {"prefix": "1380013", "county": "south"},
        {"prefix": "1390", "county": "east"},
    ],
}
SOUTH = "exten => _c1380013.,1,Goto(hotline-county-south,s,1)"
EAST = "exten => _c1390.,1,Goto(hotline-county-east,s,1)"


# The transforms change only the new file (the previous one, reloaded on restore, has
# none of these lines).
def _swap_counties(text: str) -> str:
    south = SOUTH.replace("county-south", "county-east")
    east = EAST.replace("county-east", "county-south")
    return text.replace(SOUTH, south).replace(EAST, east)


def _drop_prefix_include(text: str) -> str:
    return text.replace("include => hotline-routing-prefixes\n", "")


def _move_prefix(text: str) -> str:
    # _c13. sorts after _c1390. (a literal before '.', pbx.c ext_cmp_pattern_pos), so the
    # changed extension moves.
    return text.replace(SOUTH, SOUTH.replace("_c1380013.", "_c13."))


def _change_prefix_in_place(text: str) -> str:
    # Keeps its place: seen only because the prefix is the extension name, which
    # ShowDialPlan sends (a caller-ID match it never sends).
    return text.replace(SOUTH, SOUTH.replace("_c1380013.", "_c1380014."))


@pytest.mark.parametrize(
    ("transform", "message"),
    [
        (
            _drop_prefix_include,
            "[hotline-routing-shared-east] include #1 should be hotline-routing-prefixes, "
            "live it is hotline-routing-fallback-east",
        ),
        (
            _swap_counties,
            "[hotline-routing-prefixes] extension #1 _c1380013.: rendered "
            "1,Goto(hotline-county-south,s,1), live 1,Goto(hotline-county-east,s,1)",
        ),
        (
            _move_prefix,
            "[hotline-routing-prefixes] extension #1 should be _c1380013. "
            "(1,Goto(hotline-county-south,s,1)), live it is _c1390. "
            "(1,Goto(hotline-county-east,s,1))",
        ),
        (
            _change_prefix_in_place,
            "[hotline-routing-prefixes] extension #1 should be _c1380013. "
            "(1,Goto(hotline-county-south,s,1)), live it is _c1380014. "
            "(1,Goto(hotline-county-south,s,1))",
        ),
    ],
    ids=[
        "missing-include",
        "prefixes-swapped-between-counties",
        "prefix-moved",
        "prefix-changed-in-place",
    ],
)
async def test_a_live_dialplan_that_differs_in_routing_is_rolled_back(
    service, pbx, conf_dir, session_factory, transform, message
):
    before = (conf_dir / FILENAME).read_bytes()
    pbx.transform = transform
    async with session_factory() as db:
        await service.save(db, TWO_PREFIXES, ACTOR)
        report = await service.apply(db, ACTOR)
    outcome = report.outcome
    assert transform(report.version.text) != report.version.text
    assert not outcome.ok and outcome.restored is True
    assert outcome.error == f"the live dialplan is not the rendered one: {message}"
    assert (conf_dir / FILENAME).read_bytes() == before
    assert pbx.reloads == 2 and "previous file restored" in outcome.steps
    assert report.version.result == "failed" and report.version.error == outcome.error


async def test_two_prefixes_apply_when_the_live_dialplan_is_the_rendered_one(
    service, pbx, conf_dir, session_factory
):
    async with session_factory() as db:
        await service.save(db, TWO_PREFIXES, ACTOR)
        report = await service.apply(db, ACTOR)
    assert report.outcome.ok, report.outcome
    text = (conf_dir / FILENAME).read_text()
    assert SOUTH in text and EAST in text and "include => hotline-routing-prefixes" in text
    assert pbx.text == text and pbx.reloads == 1


# --- county queues (queues_counties.conf) ---------------------------------------------------

SEEDED_QUEUES = {"county-north", "county-south", "county-east", "county-west"}


@pytest.fixture
async def new_county(session_factory, seeded):
    """A county added after the shipped files were rendered: its queue must be generated."""
    from sqlalchemy import delete

    from cti.store.counties import County

    async with session_factory() as db:
        db.add(County(code="central", name="Central", queue_name="county-central"))
        await db.commit()
    yield "county-central"
    async with session_factory() as db:
        await db.execute(delete(County).where(County.code == "central"))
        await db.commit()


async def test_unchanged_queues_are_neither_written_nor_reloaded(
    service, pbx, conf_dir, session_factory
):
    before = (conf_dir / QUEUES_FILENAME).stat().st_mtime_ns
    async with session_factory() as db:
        await service.save(db, CHANGED, ACTOR)
        report = await service.apply(db, ACTOR)
    assert report.outcome.ok and report.outcome.queues_changed is False
    assert pbx.queue_reloads == 0 and pbx.reloads == 1
    assert (conf_dir / QUEUES_FILENAME).stat().st_mtime_ns == before
    assert report.version.queues_text == (conf_dir / QUEUES_FILENAME).read_text()


async def test_a_new_county_gets_its_queue_rendered_reloaded_and_verified(
    service, pbx, conf_dir, session_factory, new_county
):
    assert new_county not in pbx.queues
    async with session_factory() as db:
        report = await service.apply(db, ACTOR)
    outcome = report.outcome
    assert outcome.ok and outcome.queues_changed, outcome
    text = (conf_dir / QUEUES_FILENAME).read_text()
    # same settings template as the others; no members template exists for it yet
    assert "\n[county-central](county-template)\n" in text
    assert "\n[county-north](county-template,county-north-members)\n" in text
    names = [a["Action"] for a in pbx.actions]
    assert names == ["Login", "Reload", "ShowDialPlan", "Reload", "QueueSummary", "Logoff"]
    assert pbx.actions[3]["Module"] == "app_queue.so"
    assert pbx.queues >= SEEDED_QUEUES | {new_county} and pbx.queue_reloads == 1
    assert report.version.queues_text == text
    assert "+[county-central](county-template)" in report.version.diff


@pytest.mark.parametrize("fault", ["queue_reload_fails", "queue_not_loaded"])
async def test_a_failed_queue_reload_restores_both_files_and_reloads_both(
    service, pbx, conf_dir, session_factory, new_county, fault
):
    dialplan_before = (conf_dir / FILENAME).read_bytes()
    queues_before = (conf_dir / QUEUES_FILENAME).read_bytes()
    if fault == "queue_reload_fails":
        pbx.fail_queue_reloads = 1
    else:
        pbx.drop_queues = {new_county}
    async with session_factory() as db:
        await service.save(db, CHANGED, ACTOR)
        report = await service.apply(db, ACTOR)
    outcome = report.outcome
    assert not outcome.ok and outcome.restored is True, outcome
    assert (conf_dir / FILENAME).read_bytes() == dialplan_before
    assert (conf_dir / QUEUES_FILENAME).read_bytes() == queues_before
    assert pbx.reloads == 2 and pbx.queue_reloads == 2  # the new files, then the old again
    assert pbx.loaded == list(parse_entries(dialplan_before.decode()))
    assert pbx.queues == SEEDED_QUEUES
    if fault == "queue_reload_fails":
        assert "A reload is in progress" in outcome.error
    else:
        assert "did not load the county queues ['county-central']" in outcome.error
    assert "previous file restored" in outcome.steps
    assert report.version.result == "failed"


async def test_a_failed_dialplan_reload_leaves_app_queue_alone_and_restores_the_queues(
    service, pbx, conf_dir, session_factory, new_county
):
    queues_before = (conf_dir / QUEUES_FILENAME).read_bytes()
    pbx.fail_reloads = 1
    async with session_factory() as db:
        report = await service.apply(db, ACTOR)
    assert not report.outcome.ok and report.outcome.restored is True
    assert (conf_dir / QUEUES_FILENAME).read_bytes() == queues_before
    # app_queue never saw the new file: only the restore reloads it (harmless, same file)
    assert pbx.queue_reloads == 1 and pbx.queues == SEEDED_QUEUES


async def test_queues_conf_without_the_include_is_refused_before_writing(
    service, pbx, conf_dir, session_factory, new_county
):
    main = conf_dir / "queues.conf"
    main.write_text(main.read_text().replace("#include queues_counties.conf", ""))
    before = (conf_dir / FILENAME).read_bytes()
    async with session_factory() as db:
        report = await service.apply(db, ACTOR)
    assert not report.outcome.ok and "must contain '#include queues_counties.conf'" in (
        report.outcome.error
    )
    assert (conf_dir / FILENAME).read_bytes() == before and pbx.actions == []


async def test_queues_conf_without_the_settings_template_is_a_rule_error_and_writes_nothing(
    service, pbx, conf_dir, session_factory
):
    from cti.routing.rules import RuleErrors

    main = conf_dir / "queues.conf"
    main.write_text(main.read_text().replace("[county-template](!)", "[county-settings](!)"))
    before = (conf_dir / FILENAME).read_bytes(), (conf_dir / QUEUES_FILENAME).read_bytes()
    async with session_factory() as db:
        with pytest.raises(RuleErrors, match="county-template"):
            await service.apply(db, ACTOR)
    after = (conf_dir / FILENAME).read_bytes(), (conf_dir / QUEUES_FILENAME).read_bytes()
    assert after == before and pbx.actions == []
