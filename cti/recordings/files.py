"""Reading one recording from disk: its header facts and SHA-256 in a single pass, and the
decision whether it is finished. Blocking I/O, run in worker threads by the indexer."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from cti.recordings.probe import HEAD_BYTES, AudioInfo, ProbeError, probe_file

CHUNK = 1024 * 1024
#: A file modified less than this long ago may still be written to.
SETTLE_S = 10.0
#: A WAV whose header still says "no audio" is being recorded, unless it has not grown for
#: this long: then Asterisk died before closing it, and it is indexed with its problem noted.
ABANDONED_AFTER_S = 300.0


class Readiness(StrEnum):
    READY = "ready"
    BUSY = "busy"  # still being written: skipped now, picked up by a later scan


def readiness(
    info: AudioInfo, age_s: float, settle_s: float, abandoned_after_s: float
) -> Readiness:
    """Pure: is a file with these header facts, last modified ``age_s`` ago, finished?"""
    if age_s < settle_s:
        return Readiness.BUSY
    if info.unfinalised and age_s < abandoned_after_s:
        return Readiness.BUSY
    return Readiness.READY


@dataclass(frozen=True, slots=True)
class FileFacts:
    relpath: str
    size: int
    mtime: datetime
    sha256: str
    info: AudioInfo


class FileChanging(Exception):
    """The file changed while it was read: it is being written."""


def read_file(root: Path, relpath: str) -> FileFacts:
    """Hash and probe ``root/relpath`` in one read. Raises ``ProbeError`` (not audio),
    ``FileChanging`` (written to meanwhile) or ``OSError`` (gone, unreadable)."""
    path = root / relpath
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        before = os.fstat(fh.fileno())
        head = fh.read(HEAD_BYTES)
        digest.update(head)
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
        after = os.fstat(fh.fileno())
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        raise FileChanging(relpath)
    info = probe_file(path, head, after.st_size)
    return FileFacts(
        relpath=relpath,
        size=after.st_size,
        mtime=datetime.fromtimestamp(after.st_mtime_ns / 1e9, UTC),
        sha256=digest.hexdigest(),
        info=info,
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


__all__ = [
    "ABANDONED_AFTER_S",
    "SETTLE_S",
    "FileChanging",
    "FileFacts",
    "ProbeError",
    "Readiness",
    "read_file",
    "readiness",
    "sha256_of",
]
