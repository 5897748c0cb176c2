"""What a recording's path says: the Uniqueid in its name, its day folder, and whether a
path given to us stays inside the recordings root. Pure (``resolve_inside`` only touches
the file system through ``Path.resolve``).

MixMonitor names files ``<CTI_RECDIR>/<YYYYMMDD>/<Uniqueid>.wav`` (asterisk_conf). The
capture in ``shared/asterisk-traces`` used ``<county>-<caller>-<Uniqueid>.wav``, and with
``systemname`` set a Uniqueid reads ``<systemname>-<epoch>.<seq>``; all three are understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path, PurePosixPath

#: Audio MixMonitor can write and ffprobe can read without a side channel. Headerless
#: formats (sln, ulaw, alaw, g722...) carry no sample rate and are not indexed.
AUDIO_SUFFIXES = frozenset({".wav", ".wav49", ".gsm", ".mp3", ".ogg", ".opus", ".flac"})

_EPOCH_SEQ = re.compile(r"(\d{9,11})\.(\d{1,10})$")
_SYSTEM_UNIQUEID = re.compile(r"^[A-Za-z0-9_]{1,40}-\d{9,11}\.\d{1,10}$")
_DAY = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


@dataclass(frozen=True, slots=True)
class NameInfo:
    #: The Uniqueid as the file names it (``1795710920.0`` or ``pbx1-1795710920.0``).
    uniqueid: str | None
    #: Every Uniqueid the name could mean, most specific first (for the call look-up).
    candidates: tuple[str, ...]
    #: The epoch second in the Uniqueid: when the channel was created.
    epoch: int | None
    #: The ``YYYYMMDD`` folder, when there is one.
    day: date | None


def parse_name(relpath: str) -> NameInfo:
    """Read the Uniqueid and day out of a path relative to the recordings root."""
    path = PurePosixPath(relpath)
    stem = path.name
    for suffix in sorted(AUDIO_SUFFIXES, key=len, reverse=True):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    day = None
    if len(path.parts) >= 2 and (m := _DAY.match(path.parts[-2])):
        try:
            day = date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            day = None
    tail = _EPOCH_SEQ.search(stem)
    if tail is None:
        return NameInfo(None, (), None, day)
    plain = f"{tail[1]}.{tail[2]}"
    if _SYSTEM_UNIQUEID.match(stem) and stem != plain:
        # "pbx1-1795710920.0" is a Uniqueid with a systemname, but the capture's
        # "north-13800138000-1795710920.0" has two dashes and is not.
        return NameInfo(stem, (stem, plain), int(tail[1]), day)
    return NameInfo(plain, (plain,), int(tail[1]), day)


def epoch_time(epoch: int | None) -> datetime | None:
    if epoch is None:
        return None
    try:
        return datetime.fromtimestamp(epoch, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def is_audio(name: str) -> bool:
    lower = name.lower()
    return not lower.startswith(".") and any(lower.endswith(s) for s in AUDIO_SUFFIXES)


class OutsideRoot(ValueError):
    """A path that is absolute, climbs with ``..`` or leaves the root through a symlink."""


def relative_path(root: Path, path: Path) -> str:
    """``path`` (absolute, or relative to ``root``) as the index stores it: relative to
    the root, forward slashes. Raises ``OutsideRoot`` for anything that leaves the root."""
    root = root.resolve()
    full = (path if path.is_absolute() else root / path).resolve()
    try:
        rel = full.relative_to(root)
    except ValueError:
        raise OutsideRoot(f"{path} is not inside the recordings folder {root}") from None
    if not rel.parts:
        raise OutsideRoot("the recordings folder itself is not a recording")
    return rel.as_posix()


def resolve_inside(root: Path, relpath: str) -> Path:
    """The file a stored relative path names, refusing anything that would leave ``root``
    (a tampered row, a symlink planted in the folder)."""
    pure = PurePosixPath(relpath)
    if pure.is_absolute() or ".." in pure.parts or "\x00" in relpath or not pure.parts:
        raise OutsideRoot(f"refusing path {relpath!r}")
    root = root.resolve()
    full = (root / Path(*pure.parts)).resolve()
    if not full.is_relative_to(root):
        raise OutsideRoot(f"refusing path {relpath!r}: it leaves the recordings folder")
    return full
