import os
import stat

import pytest

from cti.settings import Settings, parse_ami_url, parse_bind


def test_ami_url_parsing():
    node = parse_ami_url("ami://hotline:s%40cret@10.0.0.5:5039?name=pbx-a")
    assert (node.name, node.host, node.port, node.username, node.secret) == (
        "pbx-a",
        "10.0.0.5",
        5039,
        "hotline",
        "s@cret",
    )
    assert parse_ami_url("ami://u:p@pbx").port == 5038
    assert "p@" not in repr(parse_ami_url("ami://u:p@pbx"))  # the secret is never printed


@pytest.mark.parametrize(
    "url", ["http://u:p@h", "ami://h:5038", "ami://u@h", "ami://u:p@h:notaport", "ami://u:p@"]
)
def test_bad_ami_urls_are_rejected(url):
    with pytest.raises(ValueError):
        parse_ami_url(url)


def test_several_nodes_from_env(monkeypatch):
    monkeypatch.setenv("CTI_AMI_URL", "ami://a:x@pbx1, ami://b:y@pbx2:5040")
    settings = Settings(_env_file=None)
    assert [(n.host, n.port) for n in settings.ami_nodes] == [("pbx1", 5038), ("pbx2", 5040)]
    assert [n.name for n in settings.ami_nodes] == ["pbx1", "pbx2"]


def test_node_names_match_what_the_agi_side_writes(monkeypatch):
    # A call is (node, linkedid) on both sides: one Asterisk takes CTI_NODE_NAME, so the
    # pop's call is the row the FastAGI handler wrote; ?name= always wins.
    monkeypatch.setenv("CTI_NODE_NAME", "county-pbx")
    monkeypatch.setenv("CTI_AMI_URL", "ami://cti:s3cret@127.0.0.1")
    assert [n.name for n in Settings(_env_file=None).ami_nodes] == ["county-pbx"]
    monkeypatch.setenv("CTI_AMI_URL", "ami://cti:s3cret@127.0.0.1?name=pbx-a")
    assert [n.name for n in Settings(_env_file=None).ami_nodes] == ["pbx-a"]


def test_bad_ami_url_in_env_fails_at_start(monkeypatch):
    monkeypatch.setenv("CTI_AMI_URL", "ami://nosecret@pbx")
    with pytest.raises(ValueError):
        Settings(_env_file=None)


def test_bind_parsing():
    assert parse_bind("0.0.0.0:4574", 4573) == ("0.0.0.0", 4574)
    assert parse_bind(":4575", 4573) == ("127.0.0.1", 4575)
    assert parse_bind("10.1.1.1", 4573) == ("10.1.1.1", 4573)


def test_missing_secret_key_is_generated_once_and_private(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    key = settings.resolved_secret_key()
    assert len(key) >= 48
    assert Settings(_env_file=None, data_dir=tmp_path).resolved_secret_key() == key
    mode = stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode)
    assert mode == 0o600


def test_configured_secret_key_wins(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path, secret_key="configured-key")
    assert settings.resolved_secret_key() == "configured-key"
    assert not (tmp_path / "secret_key").exists()
