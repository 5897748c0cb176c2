"""asterisk_conf/modules.conf against the folder: no module that Asterisk 22 would load
logs an ERROR or WARNING at start-up because its configuration file is missing, because
a module it requires is not loaded, or because it is deprecated (issue 18: a real
Asterisk 22.10.1 started with the folder logged 20 ERROR and 7 WARNING lines of these
kinds, which hide the errors an operator must see).

The tables below come from Asterisk 22.10.1's sources (tag 22.10.1 of
github.com/asterisk/asterisk; the path is the file in that tree that names the file or
the requirement). They are the files whose absence a start of the default module build
(``make menuselect`` defaults) logged, with every file missing, each then checked in
the source named. No Asterisk runs here; docs/asterisk.md says how the real start is
checked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "asterisk_conf"

#: Loaded whatever modules.conf says.
CORE = "core"

#: (module, config file, source in the Asterisk 22.10.1 tree, what a start without the
#: file logs). "aco" is main/config_options.c's ERROR "Unable to load config file '<f>'";
#: "sorcery" is res/res_sorcery_config.c's same ERROR, once per object type mapped to
#: the file; "declines" is loader.c's ERROR "<module> declined to load" and the WARNING
#: "Some non-required modules failed to load.".
CONFIG_FILES: list[tuple[str, str, str, str]] = [
    (CORE, "modules.conf", "main/loader.c", "WARNING 'modules.conf' invalid or missing"),
    (CORE, "logger.conf", "main/logger.c", "ERROR Errors detected in logger.conf"),
    (CORE, "acl.conf", "main/named_acl.c", "aco"),
    (CORE, "udptl.conf", "main/udptl.c", "aco"),
    (CORE, "features.conf", "main/features_config.c", "aco"),
    (CORE, "cdr.conf", "main/cdr.c", "aco"),
    (CORE, "cel.conf", "main/cel.c", "aco"),
    (CORE, "ccss.conf", "main/ccss.c", "WARNING Could not find valid ccss.conf file"),
    (CORE, "indications.conf", "main/indications.c", "WARNING Can't find indications"),
    ("pbx_config", "extensions.conf", "pbx/pbx_config.c", "declines"),
    ("pbx_ael", "extensions.ael", "pbx/pbx_ael.c", "declines"),
    ("res_pjsip", "pjsip.conf", "res/res_pjsip/pjsip_configuration.c", "sorcery"),
    ("res_pjproject", "pjproject.conf", "res/res_pjproject.c", "sorcery"),
    ("res_pjsip_config_wizard", "pjsip_wizard.conf", "res/res_pjsip_config_wizard.c", "ERROR"),
    ("res_pjsip_notify", "pjsip_notify.conf", "res/res_pjsip_notify.c", "aco, declines"),
    ("res_geolocation", "geolocation.conf", "res/res_geolocation/geoloc_config.c", "sorcery"),
    ("app_queue", "queues.conf", "apps/app_queue.c", "declines"),
    ("app_voicemail", "voicemail.conf", "apps/app_voicemail.c", "WARNING Failed to load"),
    ("res_musiconhold", "musiconhold.conf", "res/res_musiconhold.c", "WARNING No classes"),
    ("cdr_csv", "cdr.conf", "cdr/cdr_csv.c", "WARNING unable to load config, declines"),
    ("app_confbridge", "confbridge.conf", "apps/confbridge/conf_config_parser.c", "declines"),
    ("res_calendar", "calendar.conf", "res/res_calendar.c", "ERROR, declines"),
    # The four custom backends are read by res/cdrel_custom/config.c.
    ("cdr_custom", "cdr_custom.conf", "cdr/cdr_custom.c", "ERROR, declines"),
    ("cel_custom", "cel_custom.conf", "cel/cel_custom.c", "ERROR, declines"),
    ("cdr_sqlite3_custom", "cdr_sqlite3_custom.conf", "cdr/cdr_sqlite3_custom.c", "declines"),
    ("cel_sqlite3_custom", "cel_sqlite3_custom.conf", "cel/cel_sqlite3_custom.c", "declines"),
    ("app_festival", "festival.conf", "apps/app_festival.c", "WARNING, declines"),
    ("res_clialiases", "cli_aliases.conf", "res/res_clialiases.c", "ERROR"),
    ("app_minivm", "minivm.conf", "apps/app_minivm.c", "WARNING Failed to load"),
    ("app_agent_pool", "agents.conf", "apps/app_agent_pool.c", "aco, declines"),
    ("app_amd", "amd.conf", "apps/app_amd.c", "ERROR, declines"),
    ("app_alarmreceiver", "alarmreceiver.conf", "apps/app_alarmreceiver.c", "declines"),
    ("app_followme", "followme.conf", "apps/app_followme.c", "WARNING, declines"),
    ("res_parking", "res_parking.conf", "res/res_parking.c", "aco, declines"),
    ("res_phoneprov", "phoneprov.conf", "res/res_phoneprov.c", "ERROR, declines"),
    ("pbx_dundi", "dundi.conf", "pbx/pbx_dundi.c", "ERROR, declines"),
    ("chan_iax2", "iax.conf", "channels/chan_iax2.c", "ERROR, declines"),
    ("chan_unistim", "unistim.conf", "channels/chan_unistim.c", "ERROR, declines"),
    ("res_hep", "hep.conf", "res/res_hep.c", "aco, declines"),
    ("res_prometheus", "prometheus.conf", "res/res_prometheus.c", "aco, declines"),
    ("res_statsd", "statsd.conf", "res/res_statsd.c", "aco"),
    ("res_stun_monitor", "res_stun_monitor.conf", "res/res_stun_monitor.c", "declines"),
    ("res_config_pgsql", "res_pgsql.conf", "res/res_config_pgsql.c", "declines"),
    ("res_config_sqlite3", "res_config_sqlite3.conf", "res/res_config_sqlite3.c", "ERROR"),
    ("cdr_pgsql", "cdr_pgsql.conf", "cdr/cdr_pgsql.c", "WARNING, declines"),
    ("cel_pgsql", "cel_pgsql.conf", "cel/cel_pgsql.c", "WARNING, declines"),
    ("cdr_manager", "cdr_manager.conf", "cdr/cdr_manager.c", "WARNING, declines"),
    ("cel_manager", "cel.conf", "cel/cel_manager.c", "WARNING, declines"),
    ("res_ari", "ari.conf", "res/ari/config.c", "sorcery"),
    ("res_aeap", "aeap.conf", "res/res_aeap.c", "sorcery"),
    ("chan_websocket", "chan_websocket.conf", "channels/chan_websocket.c", "sorcery"),
    ("res_websocket_client", "websocket_client.conf", "res/res_websocket_client.c", "sorcery"),
]

#: (module, modules it requires, source): AST_MODULE_INFO's ``.requires``. A loaded
#: module whose requirement is not loaded declines ("Declined modules which depend on
#: ..."). Listed: the default build's modules that require one that some noload line
#: of this folder has named.
REQUIRES: list[tuple[str, str, str]] = [
    ("app_adsiprog", "res_adsi", "apps/app_adsiprog.c"),
    ("app_getcpeid", "res_adsi", "apps/app_getcpeid.c"),
    ("app_page", "app_confbridge", "apps/app_page.c"),
    ("app_stasis", "res_stasis,res_ari", "apps/app_stasis.c"),
    ("app_stasis_broadcast", "res_stasis,res_stasis_broadcast", "apps/app_stasis_broadcast.c"),
    ("cdr_custom", "res_cdrel_custom", "cdr/cdr_custom.c"),
    ("cdr_sqlite3_custom", "res_cdrel_custom", "cdr/cdr_sqlite3_custom.c"),
    ("cel_custom", "res_cdrel_custom", "cel/cel_custom.c"),
    ("cel_sqlite3_custom", "res_cdrel_custom", "cel/cel_sqlite3_custom.c"),
    ("chan_websocket", "res_http_websocket,res_websocket_client", "channels/chan_websocket.c"),
    ("res_aeap", "res_http_websocket", "res/res_aeap.c"),
    ("res_ari", "res_stasis,res_http_websocket,res_websocket_client", "res/res_ari.c"),
    ("res_ari_applications", "res_ari,res_ari_model,res_stasis", "res/res_ari_applications.c"),
    ("res_ari_asterisk", "res_ari,res_ari_model,res_stasis", "res/res_ari_asterisk.c"),
    (
        "res_ari_bridges",
        "res_ari,res_ari_model,res_stasis,res_stasis_recording,res_stasis_playback",
        "res/res_ari_bridges.c",
    ),
    (
        "res_ari_channels",
        "res_ari,res_ari_model,res_stasis,res_stasis_answer,res_stasis_playback,res_stasis_recording,res_stasis_snoop",
        "res/res_ari_channels.c",
    ),
    (
        "res_ari_device_states",
        "res_ari,res_ari_model,res_stasis,res_stasis_device_state",
        "res/res_ari_device_states.c",
    ),
    ("res_ari_endpoints", "res_ari,res_ari_model,res_stasis", "res/res_ari_endpoints.c"),
    (
        "res_ari_events",
        "res_ari,res_ari_model,res_stasis,res_http_websocket",
        "res/res_ari_events.c",
    ),
    (
        "res_ari_playbacks",
        "res_ari,res_ari_model,res_stasis,res_stasis_playback",
        "res/res_ari_playbacks.c",
    ),
    (
        "res_ari_recordings",
        "res_ari,res_ari_model,res_stasis,res_stasis_recording",
        "res/res_ari_recordings.c",
    ),
    ("res_ari_sounds", "res_ari,res_ari_model,res_stasis", "res/res_ari_sounds.c"),
    ("res_hep_pjsip", "res_hep", "res/res_hep_pjsip.c"),
    ("res_hep_rtcp", "res_hep", "res/res_hep_rtcp.c"),
    ("res_pjsip_geolocation", "res_geolocation", "res/res_pjsip_geolocation.c"),
    ("res_pjsip_phoneprov_provider", "res_phoneprov", "res/res_pjsip_phoneprov_provider.c"),
    ("res_pjsip_transport_websocket", "res_http_websocket", "res/res_pjsip_transport_websocket.c"),
    ("res_speech_aeap", "res_aeap", "res/res_speech_aeap.c"),
    ("res_stasis_answer", "res_stasis", "res/res_stasis_answer.c"),
    ("res_stasis_broadcast", "res_stasis,res_ari", "res/res_stasis_broadcast.c"),
    ("res_stasis_device_state", "res_stasis", "res/res_stasis_device_state.c"),
    ("res_stasis_playback", "res_stasis,res_stasis_recording", "res/res_stasis_playback.c"),
    ("res_stasis_recording", "res_stasis", "res/res_stasis_recording.c"),
    ("res_stasis_snoop", "res_stasis", "res/res_stasis_snoop.c"),
    ("res_websocket_client", "res_http_websocket", "res/res_websocket_client.c"),
]

#: Modules with ``.support_level = AST_MODULE_SUPPORT_DEPRECATED``: main/loader.c logs a
#: WARNING "Module '<m>' has been loaded but may be removed in a future release".
DEPRECATED: list[tuple[str, str]] = [
    ("res_adsi", "res/res_adsi.c"),
    ("app_adsiprog", "apps/app_adsiprog.c"),
    ("app_getcpeid", "apps/app_getcpeid.c"),
    ("app_meetme", "apps/app_meetme.c"),
]


def modules_conf(conf_dir: Path) -> tuple[bool, set[str], set[str]]:
    """(autoload, modules named by load/preload/require lines, noloaded modules) of
    ``[modules]``, names without ``.so``."""
    autoload, loads, noloads = False, set(), set()
    section = ""
    for raw in (conf_dir / "modules.conf").read_text().splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, sep, value = line.partition("=")
        if not sep or section != "modules":
            continue
        key, value = key.strip(), value.lstrip(">").strip().removesuffix(".so")
        if key == "autoload":
            autoload = value.lower() in ("yes", "true", "on", "1")
        elif key == "noload":
            noloads.add(value)
        elif key in ("load", "preload", "require", "preload-require"):
            loads.add(value)
    return autoload, loads, noloads


def start_problems(conf_dir: Path) -> list[str]:
    """What a start of Asterisk 22 (default build) with this folder would complain
    about, per the tables above; empty when nothing."""
    autoload, loads, noloads = modules_conf(conf_dir)

    def loaded(module: str) -> bool:
        if module == CORE or module in loads:
            return True
        return autoload and module not in noloads

    problems = [f"{m} is both loaded and noloaded" for m in sorted(loads & noloads)]
    for module, filename, source, logged in CONFIG_FILES:
        if loaded(module) and not (conf_dir / filename).is_file():
            problems.append(f"{module} needs {filename} ({source}: {logged})")
    for module, required, source in REQUIRES:
        if loaded(module):
            for name in required.split(","):
                if not loaded(name):
                    problems.append(f"{module} requires {name}, not loaded ({source})")
    for module, source in DEPRECATED:
        if loaded(module):
            problems.append(f"{module} is deprecated ({source})")
    return problems


def test_the_shipped_folder_starts_without_a_preventable_error():
    assert start_problems(CONF) == []


def test_what_the_hotline_needs_is_required_not_just_autoloaded():
    _, loads, noloads = modules_conf(CONF)
    for module in ("res_pjsip", "chan_pjsip", "app_queue", "app_mixmonitor", "res_agi"):
        assert module in loads and module not in noloads
    # Queues play musicclass=default; cdr.conf's [csv] is cdr_csv's.
    assert "res_musiconhold" not in noloads and "cdr_csv" not in noloads


def copy_of_conf(tmp_path: Path) -> Path:
    target = tmp_path / "asterisk_conf"
    shutil.copytree(CONF, target)
    return target


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ("musiconhold.conf", "res_musiconhold needs musiconhold.conf"),
        ("acl.conf", "core needs acl.conf"),
        ("queues.conf", "app_queue needs queues.conf"),
    ],
)
def test_a_folder_missing_a_file_fails(tmp_path, missing, expected):
    conf = copy_of_conf(tmp_path)
    (conf / missing).unlink()
    assert any(p.startswith(expected) for p in start_problems(conf))


def test_a_module_let_back_in_without_its_file_fails(tmp_path):
    conf = copy_of_conf(tmp_path)
    text = (conf / "modules.conf").read_text()
    assert "noload=res_pjsip_config_wizard.so\n" in text
    (conf / "modules.conf").write_text(text.replace("noload=res_pjsip_config_wizard.so\n", ""))
    assert start_problems(conf) == [
        "res_pjsip_config_wizard needs pjsip_wizard.conf (res/res_pjsip_config_wizard.c: ERROR)"
    ]


def test_a_required_module_noloaded_or_a_deprecated_one_loaded_fails(tmp_path):
    conf = copy_of_conf(tmp_path)
    text = (conf / "modules.conf").read_text()
    for line in ("noload=res_pjsip_geolocation.so\n", "noload=res_adsi.so\n"):
        assert line in text
        text = text.replace(line, "")
    (conf / "modules.conf").write_text(text)
    assert start_problems(conf) == [
        "res_pjsip_geolocation requires res_geolocation, not loaded (res/res_pjsip_geolocation.c)",
        "res_adsi is deprecated (res/res_adsi.c)",
    ]


def test_without_autoload_only_named_modules_count(tmp_path):
    conf = tmp_path / "bare"
    conf.mkdir()
    (conf / "modules.conf").write_text("[modules]\nautoload=no\nrequire=app_queue.so\n")
    for name in ("logger.conf", "acl.conf", "udptl.conf", "features.conf", "cdr.conf"):
        (conf / name).write_text("")
    for name in ("cel.conf", "ccss.conf", "indications.conf"):
        (conf / name).write_text("")
    assert start_problems(conf) == [
        "app_queue needs queues.conf (apps/app_queue.c: declines)",
    ]
