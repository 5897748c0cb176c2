"""asterisk_conf/: the dialplan lints clean with asterisklint, every file is well-formed
Asterisk config syntax, and the files agree with each other and with the seeded counties.
(No Asterisk runs here; these checks catch what would make Asterisk 22 refuse a file.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "asterisk_conf"
COUNTIES = yaml.safe_load((ROOT / "db" / "reference" / "counties.yaml").read_text())

_SECTION = re.compile(r"\[([^\]]+)\](?:\(([^)]*)\))?")
_SETTING = re.compile(r"([A-Za-z0-9_.()/-]+)\s*=>?\s*(.*)")


#: Files included in the middle of a section: their settings continue that section.
FRAGMENTS = {"manager_cti_secret.conf.example", "manager_cti_routing_secret.conf.example"}


def parse(path: Path) -> list[tuple[str, list[str], list[tuple[str, str]]]]:
    """A strict reading of Asterisk's config syntax: sections ``[name](templates)``,
    ``key = value`` / ``key => value``, ``;`` comments, ``#include``/``#tryinclude``.
    Returns (section, templates, settings) in order; raises on any other line."""
    sections: list[tuple[str, list[str], list[tuple[str, str]]]] = []
    if path.name in FRAGMENTS:
        sections.append(("", [], []))
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = re.sub(r"(?<!\\);.*", "", raw).strip()
        if not line:
            continue
        if line.startswith("#"):
            directive, _, target = line.partition(" ")
            assert directive in ("#include", "#tryinclude"), f"{path.name}:{number}: {raw}"
            if directive == "#include":
                assert (path.parent / target.strip()).is_file(), f"{path.name}:{number}"
            continue
        if match := _SECTION.fullmatch(line):
            templates = [t.strip() for t in (match.group(2) or "").split(",") if t.strip()]
            sections.append((match.group(1), templates, []))
            continue
        match = _SETTING.fullmatch(line)
        assert match and sections, f"{path.name}:{number}: not a setting: {raw!r}"
        sections[-1][2].append((match.group(1), match.group(2).strip()))
    return sections


def settings_of(path: Path, section: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, _, items in parse(path):
        if name == section:
            for key, value in items:
                out.setdefault(key, []).append(value)
    return out


def test_dialplan_lints_clean_with_asterisklint():
    exe = shutil.which("asterisklint") or str(Path(sys.executable).parent / "asterisklint")
    result = subprocess.run(
        [exe, "dialplan-check", str(CONF / "extensions.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == ""


@pytest.mark.parametrize("path", sorted(CONF.glob("*.conf*")), ids=lambda p: p.name)
def test_every_file_is_well_formed_and_templates_exist(path):
    sections = parse(path)
    names = {name for name, _, _ in sections}
    if path.name == "pjsip_auth.conf.example":
        names |= {name for name, _, _ in parse(CONF / "pjsip.conf")}
    if path.name == "queues_counties.conf":  # included at the end of queues.conf
        names |= {name for name, _, _ in parse(CONF / "queues.conf")}
    for name, templates, _ in sections:
        for template in templates:
            assert template == "!" or template in names, f"{path.name}: [{name}]({template})"


def test_routing_include_matches_the_seeded_counties():
    """Run the shipped include as Asterisk would (tests/unit/routing/dialplan_model.py):
    each seeded DID reaches its county's queue with COUNTY, COUNTY_QUEUE and DID set."""
    from datetime import UTC, datetime

    from cti.routing.render import parse_entries
    from tests.unit.routing.dialplan_model import Dialplan

    text = (CONF / "extensions_routing.conf").read_text()
    dids = {e.exten for e in parse_entries(text) if e.context == "hotline-routing"}
    assert dids == {c["did"] for c in COUNTIES}
    dialplan = Dialplan(text)
    at = datetime(2027, 1, 4, 2, 0, tzinfo=UTC)
    for county in COUNTIES:
        for caller in ("", "13800138000"):
            outcome = dialplan.run(caller=caller, did=county["did"], at=at)
            assert outcome.action == "queue"
            assert outcome.variables == {
                "DID": county["did"], "COUNTY": county["code"], "COUNTY_QUEUE": county["queue"]
            }  # fmt: skip
    assert dialplan.run(caller="", did="1", at=at).action == "reject"


def test_queues_exist_per_county_and_members_are_pjsip_endpoints():
    """queues.conf keeps the settings and the static members (templates); the county
    queues are the generated include, which is exactly what the seeded counties render
    and passes the strict check the apply runs."""
    from cti.routing.queues import (
        FILENAME,
        check_main,
        check_queues,
        main_templates,
        render_queues,
    )

    main = CONF / "queues.conf"
    generated = CONF / FILENAME
    expected = {c["queue"] for c in COUNTIES}
    assert check_main(main.read_text()) == []
    assert generated.read_text() == render_queues(expected, main_templates(CONF))
    assert check_queues(generated.read_text(), expected, main_templates(CONF)) == []
    sections = parse(main) + parse(generated)
    queues = {name: (templates, dict(items)) for name, templates, items in sections}
    endpoints = {
        name
        for name, templates, items in parse(CONF / "pjsip.conf")
        if "agent-endpoint" in templates
    }
    template = queues["county-template"][1]
    # call-end relies on these (capture2: MEMBERINTERFACE and QEHOLDTIME in the handler)
    assert template["setinterfacevar"] == "yes" and template["setqueueentryvar"] == "yes"
    assert "eventwhencalled" not in template and "monitor-type" not in template
    for county in COUNTIES:
        members_template = f"{county['queue']}-members"
        templates, own = queues[county["queue"]]
        assert templates == ["county-template", members_template] and own == {}
        assert queues[members_template][0] == ["!"]
        members = [v.split(",")[0] for name, _, items in sections if name == members_template
                   for k, v in items if k == "member"]  # fmt: skip
        assert members, county["queue"]
        for interface in members:
            assert interface.removeprefix("PJSIP/") in endpoints


def test_agents_have_an_aor_and_their_credentials_live_outside_git():
    sections = parse(CONF / "pjsip.conf")
    auths = {name for name, templates, _ in parse(CONF / "pjsip_auth.conf.example")}
    aors = {name for name, templates, _ in sections if "agent-aor" in templates}
    for name, templates, items in sections:
        settings = dict(items)
        assert "password" not in settings, f"a password in pjsip.conf: [{name}]"
        if "agent-endpoint" in templates:
            assert settings["aors"] == name and name in aors
            assert settings["auth"] == name and name in auths
    contexts = {v for _, _, items in sections for k, v in items if k == "context"}
    dialplan = (CONF / "extensions.conf").read_text()
    for context in contexts:
        assert f"[{context}]" in dialplan


def test_manager_is_loopback_least_privilege_and_has_no_secret():
    general = settings_of(CONF / "manager.conf", "general")
    cti = settings_of(CONF / "manager.conf", "cti")
    assert general["bindaddr"] == ["127.0.0.1"] and general["webenabled"] == ["no"]
    assert "secret" not in cti
    assert cti["deny"] == ["0.0.0.0/0.0.0.0"] and cti["permit"] == ["127.0.0.1/255.255.255.255"]
    read = set(cti["read"][0].split(","))
    write = set(cti["write"][0].split(","))
    # The listener logs in with Events: call,agent,user,system (cti.ami.connection): it
    # needs FullyBooted/Shutdown, which are system-class. Reading them runs nothing.
    assert read == {"call", "agent", "user", "system"}
    assert write == {"call", "agent", "reporting", "originate"}
    assert not read & {"all", "command", "config", "dtmf", "security"}
    assert not write & {"all", "system", "command", "config", "dtmf", "security"}
    assert "#tryinclude manager_cti_secret.conf" in (CONF / "manager.conf").read_text()
    [(section, _, items)] = parse(CONF / "manager_cti_secret.conf.example")
    assert section == "" and [k for k, _ in items] == ["secret"]  # continues [cti]


def test_routing_apply_user_has_only_reload_and_read_back_rights():
    """cti.routing applies with its own user: Reload needs config or system, ShowDialPlan
    config or reporting (Asterisk 22 manager.c/pbx.c); config would also let it rewrite
    any config file (UpdateConfig), so it gets system,reporting and reads nothing."""
    users = [name for name, _, _ in parse(CONF / "manager.conf") if name != "general"]
    assert users == ["cti", "cti_routing"]
    routing = settings_of(CONF / "manager.conf", "cti_routing")
    assert "secret" not in routing
    assert routing["deny"] == ["0.0.0.0/0.0.0.0"]
    assert routing["permit"] == ["127.0.0.1/255.255.255.255"]
    assert routing["read"] == ["none"]
    write = set(routing["write"][0].split(","))
    assert write == {"system", "reporting"}
    assert not write & {"all", "config", "command", "originate", "call", "agent"}
    text = (CONF / "manager.conf").read_text()
    assert text.rstrip().endswith("#tryinclude manager_cti_routing_secret.conf")
    [(section, _, items)] = parse(CONF / "manager_cti_routing_secret.conf.example")
    assert section == "" and [k for k, _ in items] == ["secret"]


def test_no_shell_and_nothing_that_downloads():
    modules = settings_of(CONF / "modules.conf", "modules")
    for module in ("app_system.so", "func_shell.so", "func_curl.so", "res_http_media_cache.so"):
        assert module in modules["noload"]
    for module in (
        "res_agi.so", "app_queue.so", "app_mixmonitor.so", "chan_pjsip.so",
        "func_strings.so", "func_callerid.so",  # FILTER and CALLERID of the routing
    ):  # fmt: skip
        assert module in modules["require"]
    assert settings_of(CONF / "asterisk.conf", "options")["live_dangerously"] == ["no"]


def test_caller_id_never_reaches_an_application_argument():
    for name in ("extensions.conf", "extensions_routing.conf"):
        code = "\n".join(
            re.sub(r"(?<!\\);.*", "", line) for line in (CONF / name).read_text().splitlines()
        )
        # The only form allowed: the number filtered down to digits (and "+"), so what
        # the caller sent cannot add a comma, a quote, an operator or a ${...}.
        filtered = re.sub(r"\$\{FILTER\(0123456789\+?,\$\{CALLERID\(num\)\}\)\}", "", code)
        assert "CALLERID(" not in filtered, name
        assert "CONNECTEDLINE(" not in code, name
    dialplan = (CONF / "extensions.conf").read_text()
    for path in re.findall(r"REC_FILE=([^)\n]+)\)", dialplan):
        variables = set(re.findall(r"\$\{([A-Z_]+)", path))
        assert variables <= {"CTI_RECDIR", "STRFTIME", "CTI_STARTED", "EPOCH", "UNIQUEID"}, path


_VOICEMAIL = re.compile(r"VoiceMail\(([^)$]*)\)")
#: The routing include names the mailbox in CTI_MAILBOX; [hotline-after-hours] runs
#: VoiceMail(${CTI_MAILBOX},u).
_MAILBOX_VAR = re.compile(r"Set\(CTI_MAILBOX=([^)]*)\)")


def voicemail_refs(text: str) -> set[tuple[str, str]]:
    """(mailbox, context) of every VoiceMail() or CTI_MAILBOX in a dialplan text."""
    refs = set()
    for args in _VOICEMAIL.findall(text) + _MAILBOX_VAR.findall(text):
        for box in args.split(",")[0].split("&"):
            mailbox, _, context = box.partition("@")
            refs.add((mailbox, context or "default"))
    return refs


def test_every_mailbox_the_dialplan_can_reference_exists_in_voicemail_conf():
    """The shipped dialplan, and the routing include rendered with a voicemail after-hours
    action on each mailbox the rules accept from this folder, only name mailboxes of
    voicemail.conf; a mailbox that is not there is refused by the rules."""
    from cti.routing.decide import compile_table
    from cti.routing.render import VOICEMAIL_CONTEXT, render
    from cti.routing.repo import mailboxes_in_conf
    from cti.routing.rules import Catalog, RuleErrors, check

    boxes = {
        (name, context)
        for context, _, items in parse(CONF / "voicemail.conf")
        if context != "general"
        for name, _ in items
    }
    assert boxes and all(context == VOICEMAIL_CONTEXT for _, context in boxes)
    assert mailboxes_in_conf(CONF) == {name for name, _ in boxes}
    assert len(boxes) == len(COUNTIES)  # one per county
    shipped = (CONF / "extensions.conf").read_text() + (
        CONF / "extensions_routing.conf"
    ).read_text()
    assert voicemail_refs(shipped) <= boxes

    catalog = Catalog(
        counties={c["code"]: c["queue"] for c in COUNTIES}, mailboxes=mailboxes_in_conf(CONF)
    )

    def rules(mailbox: str) -> dict:
        return {
            "dids": [{"did": c["did"], "county": c["code"]} for c in COUNTIES],
            "counties": [
                {
                    "county": c["code"],
                    "timezone": "UTC",
                    "hours": [{"days": ["mon"], "start": "08:00", "end": "18:00"}],
                    "after_hours": {"action": "voicemail", "mailbox": mailbox},
                }
                for c in COUNTIES
            ],
        }

    for mailbox, _ in sorted(boxes):
        text = render(compile_table(check(rules(mailbox), catalog), catalog)).text
        assert voicemail_refs(text) == {(mailbox, VOICEMAIL_CONTEXT)}
    with pytest.raises(RuleErrors, match="no mailbox 9999"):
        check(rules("9999"), catalog)


def test_voicemail_has_no_pin_no_mail_and_runs_no_command():
    text = (CONF / "voicemail.conf").read_text()
    for key in ("externnotify", "externpass", "externpassnotify", "mailcmd", "odbcstorage"):
        assert not re.search(rf"^\s*{key}\s*=", text, re.MULTILINE), key
    for context, _, items in parse(CONF / "voicemail.conf"):
        if context == "general":
            continue
        for _, value in items:
            password, _, rest = value.partition(",")
            # cannot be keyed in: no digit, *, # or A-D
            assert password and not set(password) & set("0123456789*#ABCD"), value
            assert "@" not in rest  # no e-mail address: no mail is sent
    assert "require=app_voicemail.so" in (CONF / "modules.conf").read_text().splitlines()
