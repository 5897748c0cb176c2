"""``cti routing export/import/render/simulate/apply`` as an operator runs them: real
processes against the test database; apply against the fake PBX over TCP. A bad file
(malformed, hostile values, wrong shape, wrong encoding) is refused with a message on
stderr and exit status 1, and nothing is stored."""

from __future__ import annotations

import json

import pytest
import yaml
from sqlalchemy import func, select

from cti.routing import repo
from cti.routing.render import FILENAME
from cti.store.audit import AuditEntry
from cti.store.routing import RoutingVersion
from tests.integration.routing.helpers import ROOT, SEEDED, cti

CHANGED = {
    "default_county": "north",
    "dids": [*SEEDED["dids"], {"did": "12345"}],
    "prefixes": [{"prefix": "1380013", "county": "south"}],
    "counties": [
        {
            "county": "north",
            "timezone": "Asia/Shanghai",
            "hours": [{"days": ["mon"], "start": "08:00", "end": "18:00"}],
            "after_hours": {"action": "voicemail", "mailbox": "1000"},
        }
    ],
}


async def snapshot(session_factory) -> tuple[dict, int, int]:
    """The stored rules, the number of rule saves audited and of versions."""
    async with session_factory() as db:
        rules = (await repo.load_rules(db)).as_data()
        saves = await db.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "routing.rules.save")
        )
        versions = await db.scalar(select(func.count()).select_from(RoutingVersion))
    return rules, saves, versions


@pytest.mark.parametrize("fmt", ["yaml", "json"])
async def test_export_then_import_round_trips(env, session_factory, tmp_path, fmt):
    path = tmp_path / f"rules.{fmt}"
    path.write_text(json.dumps(CHANGED) if fmt == "json" else yaml.safe_dump(CHANGED))
    imported = await cti(env, "import", str(path))
    assert imported.returncode == 0, imported.stderr
    assert "imported 5 DID rules, 1 prefix rules, 1 county settings" in imported.stdout
    rules, _, _ = await snapshot(session_factory)

    out = tmp_path / f"export.{fmt}"
    exported = await cti(env, "export", str(out), "--format", fmt)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(out.read_text()) if fmt == "json" else yaml.safe_load(out.read_text())
    assert data == rules
    assert data["prefixes"] == [{"prefix": "1380013", "county": "south", "did": None}]
    to_stdout = await cti(env, "export", "--format", fmt)
    assert to_stdout.returncode == 0 and to_stdout.stdout == out.read_text()

    # importing the export again (from standard input) changes nothing
    again = await cti(env, "import", "-", stdin=out.read_text())
    assert again.returncode == 0, again.stderr
    assert (await snapshot(session_factory))[0] == rules


HOSTILE = {
    "malformed YAML": ("dids: [\n  - {did: 1\n", "cannot read"),
    "malformed JSON": ('{"dids": [{"did": "9615601", "county": "north"}', "cannot read"),
    "python object tag": ("!!python/object/apply:os.system ['true']\n", "cannot read"),
    "not a mapping": ("- 1\n- 2\n", "cti routing"),
    "a scalar": ("hello\n", "cti routing"),
    "empty file": ("", "cti routing"),
    "dialplan in a DID": (
        json.dumps({"dids": [{"did": "9615601,1,System(id)", "county": "north"}]}),
        "dids.0.did",
    ),
    "line break in a prefix": (
        json.dumps(
            {
                "dids": SEEDED["dids"],
                "prefixes": [{"prefix": "138\n[evil]", "county": "south"}],
            }
        ),
        "prefixes.0.prefix",
    ),
    "unknown county": (json.dumps({"dids": [{"did": "1", "county": "nowhere"}]}), "dids.0"),
    "queue name with a bracket": (
        json.dumps(
            {
                "dids": SEEDED["dids"],
                "counties": [{"county": "west", "overflow_queue": "x]\n[y", "overflow_after_s": 5}],
            }
        ),
        "counties.0.overflow_queue",
    ),
    "mailbox not in voicemail.conf": (
        json.dumps(
            {
                **CHANGED,
                "counties": [
                    {
                        **CHANGED["counties"][0],
                        "after_hours": {"action": "voicemail", "mailbox": "9999"},
                    }
                ],
            }
        ),
        "no mailbox 9999",
    ),
    "time zone with a comma": (
        json.dumps({**CHANGED, "counties": [{**CHANGED["counties"][0], "timezone": "UTC,*,*?x"}]}),
        "counties.0.timezone",
    ),
    "unknown field": (json.dumps({"dids": [], "exec": "rm -rf /"}), "exec"),
}


@pytest.mark.parametrize(("content", "message"), HOSTILE.values(), ids=HOSTILE.keys())
async def test_a_bad_file_is_refused_clearly_and_nothing_is_stored(
    env, session_factory, tmp_path, content, message
):
    before = await snapshot(session_factory)
    path = tmp_path / "rules.yaml"
    path.write_text(content)
    result = await cti(env, "import", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert await snapshot(session_factory) == before


async def test_a_file_that_is_not_utf8_or_missing_is_refused(env, session_factory, tmp_path):
    before = await snapshot(session_factory)
    path = tmp_path / "rules.yaml"
    path.write_bytes(b"dids:\n  - did: \xff\xfe\n")
    for target in (str(path), str(tmp_path / "missing.yaml")):
        result = await cti(env, "import", target)
        assert result.returncode == 1, result.stderr
        assert "cti routing import: cannot read" in result.stderr
        assert "Traceback" not in result.stderr
    assert await snapshot(session_factory) == before


async def test_render_prints_the_include_of_the_stored_rules(env, conf_dir):
    result = await cti(env, "render")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "asterisk_conf" / FILENAME).read_text()


async def test_simulate_prints_the_decision_and_refuses_bad_numbers(env):
    result = await cti(env, "simulate", "--did", "9615602", "--caller", "13800138000")
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["county"] == "south" and decision["queue"] == "county-south"
    for args in (
        ["--did", "96156;02"],
        ["--did", "1", "--at", "yesterday"],
        ["--did", "1", "--at", "2027-01-04T09:00"],
    ):
        bad = await cti(env, "simulate", *args)
        assert bad.returncode == 1 and bad.stderr.startswith("cti routing"), bad.stderr


async def test_apply_against_the_pbx_succeeds_then_a_failed_one_restores(
    env, pbx, conf_dir, session_factory, tmp_path
):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(CHANGED))
    assert (await cti(env, "import", str(path))).returncode == 0
    before = (conf_dir / FILENAME).read_bytes()

    unconfigured = await cti(env, "apply")
    assert unconfigured.returncode == 1 and "CTI_ROUTING_AMI_URL" in unconfigured.stderr
    assert (conf_dir / FILENAME).read_bytes() == before and pbx.actions == []

    env = {**env, "CTI_ROUTING_AMI_URL": f"ami://cti_routing:s3cret@127.0.0.1:{pbx.port}"}
    pbx.fail_reloads = 1
    failed = await cti(env, "apply")
    assert failed.returncode == 1 and "A reload is in progress" in failed.stderr
    assert "previous file restored" in failed.stdout
    assert (conf_dir / FILENAME).read_bytes() == before

    applied = await cti(env, "apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "applied version" in applied.stdout
    text = (conf_dir / FILENAME).read_text()
    assert "Set(CTI_MAILBOX=1000@hotline)" in text and pbx.text == text
    async with session_factory() as db:
        last = await db.scalar(select(RoutingVersion).order_by(RoutingVersion.id.desc()).limit(1))
        assert last.result == "applied" and last.text == text

    wrong = {**env, "CTI_ROUTING_AMI_URL": f"ami://cti_routing:wrong@127.0.0.1:{pbx.port}"}
    refused = await cti(wrong, "apply")
    assert refused.returncode == 1 and "AMI login refused" in refused.stderr
    assert (conf_dir / FILENAME).read_text() == text
