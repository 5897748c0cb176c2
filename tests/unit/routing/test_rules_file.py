"""``cti routing import`` reads JSON or YAML rules files, and refuses hostile ones before
they cost memory: YAML aliases (the "billion laughs") and oversized files."""

import pytest
import yaml

from cti.routing import cli
from cti.routing.cli import load_file


def test_json_and_yaml_read_the_same(tmp_path):
    data = {"dids": [{"did": "9615601", "county": "north"}], "default_county": None}
    (tmp_path / "r.json").write_text(
        '{"dids": [{"did": "9615601", "county": "north"}], "default_county": null}'
    )
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(data))
    assert load_file(str(tmp_path / "r.json")) == load_file(str(tmp_path / "r.yaml")) == data


def test_yaml_aliases_are_refused(tmp_path):
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
    laughs += "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\ndids: [*c, *c, *c, *c, *c, *c]\n"
    (tmp_path / "laughs.yaml").write_text(laughs)
    with pytest.raises(yaml.YAMLError, match="aliases"):
        load_file(str(tmp_path / "laughs.yaml"))


def test_python_tags_are_refused(tmp_path):
    (tmp_path / "tag.yaml").write_text("dids: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(yaml.YAMLError):
        load_file(str(tmp_path / "tag.yaml"))


def test_an_oversized_file_is_refused_unparsed(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "MAX_RULES_FILE", 100)
    (tmp_path / "big.yaml").write_text("dids: []\n" + "# padding\n" * 20)
    with pytest.raises(ValueError, match="larger than"):
        load_file(str(tmp_path / "big.yaml"))
    (tmp_path / "ok.yaml").write_text("dids: []\n")
    assert load_file(str(tmp_path / "ok.yaml")) == {"dids": []}
