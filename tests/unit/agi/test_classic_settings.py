"""The classic scripts read their settings without pydantic: same values as Settings."""

from __future__ import annotations

import pytest

from cti.agi.classic import classic_settings
from cti.settings import Settings

CASES = [
    {},
    {"CTI_DATA_DIR": "/var/lib/cti", "CTI_NODE_NAME": "pbx-2"},
    {"cti_node_name": "lower-case", "CTI_COUNTRY_CODE": "44", "CTI_TRUNK_PREFIX": ""},
    {"CTI_INTERNATIONAL_PREFIX": "011", "CTI_COUNTRY_CODE": "1", "CTI_DATA_DIR": "rel/dir"},
]


@pytest.mark.parametrize("environ", CASES)
def test_classic_settings_match_the_settings_class(environ, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env here
    for key in [k for k in __import__("os").environ if k.upper().startswith("CTI_")]:
        monkeypatch.delenv(key)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    expected = Settings()
    got = classic_settings()
    assert (got.data_dir, got.node_name, got.number_plan) == (
        expected.data_dir,
        expected.node_name,
        expected.number_plan,
    )


def test_a_dotenv_file_is_read_by_the_settings_class(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CTI_NODE_NAME", raising=False)
    (tmp_path / ".env").write_text("CTI_NODE_NAME=from-dotenv\n")
    assert classic_settings().node_name == "from-dotenv"
