"""Uniqueids and day folders from MixMonitor paths; paths that try to leave the root."""

from datetime import date

import pytest

from cti.recordings.names import (
    OutsideRoot,
    is_audio,
    parse_name,
    relative_path,
    resolve_inside,
)


def test_production_name():
    info = parse_name("20261126/1795710920.0.wav")
    assert info.uniqueid == "1795710920.0"
    assert info.candidates == ("1795710920.0",)
    assert info.epoch == 1795710920
    assert info.day == date(2026, 11, 26)


def test_capture_name_with_county_and_caller():
    info = parse_name("20261126/north-13800138000-1795710920.0.wav")
    assert info.uniqueid == "1795710920.0"
    assert info.candidates == ("1795710920.0",)


def test_systemname_uniqueid():
    info = parse_name("20261126/pbx1-1795711008.13.wav")
    assert info.uniqueid == "pbx1-1795711008.13"
    assert info.candidates == ("pbx1-1795711008.13", "1795711008.13")


def test_name_without_uniqueid_is_an_orphan_candidate():
    info = parse_name("misc/voicemail-greeting.wav")
    assert info.uniqueid is None and info.candidates == () and info.day is None


def test_bad_day_folder_is_ignored():
    assert parse_name("20261399/1795710920.0.wav").day is None


def test_is_audio():
    assert is_audio("x.wav") and is_audio("X.WAV") and is_audio("a.gsm")
    assert not is_audio("x.wav.part") and not is_audio(".hidden.wav") and not is_audio("a.txt")


def test_relative_path_inside_and_outside(tmp_path):
    root = tmp_path / "rec"
    (root / "20261126").mkdir(parents=True)
    (root / "20261126" / "a.wav").write_bytes(b"x")
    assert relative_path(root, root / "20261126" / "a.wav") == "20261126/a.wav"
    assert relative_path(root, root / "20261126" / ".." / "20261126" / "a.wav") == "20261126/a.wav"
    for bad in (tmp_path / "other.wav", root / ".." / "x.wav", root):
        with pytest.raises(OutsideRoot):
            relative_path(root, bad)


@pytest.mark.parametrize(
    "relpath",
    [
        "../etc/passwd",
        "20261126/../../etc/passwd",
        "/etc/passwd",
        "",
        "a\x00b.wav",
        "..",
    ],
)
def test_resolve_inside_refuses_escapes(tmp_path, relpath):
    with pytest.raises(OutsideRoot):
        resolve_inside(tmp_path, relpath)


def test_resolve_inside_refuses_a_symlink_out(tmp_path):
    root = tmp_path / "rec"
    root.mkdir()
    (tmp_path / "secret.wav").write_bytes(b"secret")
    (root / "link.wav").symlink_to(tmp_path / "secret.wav")
    with pytest.raises(OutsideRoot):
        resolve_inside(root, "link.wav")
    assert resolve_inside(root, "20261126/a.wav") == (root / "20261126" / "a.wav").resolve()
