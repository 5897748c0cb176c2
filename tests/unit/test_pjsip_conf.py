"""Which phones an agent may be given, read from pjsip.conf text (pure)."""

from pathlib import Path

from cti.pjsip_conf import agent_phones, agent_phones_in, endpoints

ROOT = Path(__file__).resolve().parents[2]


def test_the_projects_phones_and_not_the_trunk():
    phones = agent_phones_in(ROOT / "asterisk_conf")
    assert "PJSIP/1001" in phones and len(phones) >= 5
    assert "PJSIP/trunk" not in phones
    assert "trunk" in endpoints((ROOT / "asterisk_conf" / "pjsip.conf").read_text())


def test_templates_comments_and_repeated_names():
    text = """
[base](!)            ; a template: never an endpoint itself
type=endpoint
[phones](!,base)
context => agents    ; the other assignment form
[5001](phones)
aors=5001
[5001](!)            ; a template of the same name does not matter
[5001]
type=aor             ; an aor named like the endpoint
[6001](base)
context=from-trunk
[7001]
type = endpoint
context = agents
;[8001](phones)      ; commented out
[loop-a](!,loop-b)
[loop-b](!,loop-a)
[9001](loop-a)
type=endpoint
"""
    assert agent_phones(text) == {"PJSIP/5001", "PJSIP/7001"}
    assert set(endpoints(text)) == {"5001", "6001", "7001", "9001"}  # a loop does not hang


def test_no_file_no_phones(tmp_path):
    assert agent_phones_in(tmp_path) == frozenset()
