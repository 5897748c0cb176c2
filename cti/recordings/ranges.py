"""HTTP Range requests (RFC 9110 §14) for one byte range of a file. Pure.

Only single ranges are served as 206. A request for several ranges is answered with the
whole file (200), which RFC 9110 allows (a server MAY ignore Range); browsers' media
elements only ever ask for one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


class RangeNotSatisfiable(ValueError):
    """416: no part of the file is in the requested range. ``Content-Range: bytes */size``."""

    def __init__(self, size: int) -> None:
        super().__init__(f"range not satisfiable for a {size}-byte file")
        self.size = size

    @property
    def content_range(self) -> str:
        return f"bytes */{self.size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The byte range to send for a ``Range`` header against a file of ``size`` bytes.

    ``None`` means "send the whole file with 200": no header, another unit, several
    ranges, or a header that does not parse (RFC 9110: an invalid Range is ignored).
    Raises ``RangeNotSatisfiable`` when the range starts at or past the end of the file,
    for a zero-length suffix, and for any range of an empty file.
    """
    if header is None:
        return None
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    match = _SPEC.match(spec)
    if match is None:
        return None
    first, last = match.groups()
    if len(first) > 19 or len(last) > 19:  # larger than any file; refuse to parse giants
        raise RangeNotSatisfiable(size)
    if first == "" and last == "":
        return None
    if first == "":
        suffix = int(last)  # bytes=-N: the last N bytes
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # syntactically invalid: ignored
    if start >= size:
        raise RangeNotSatisfiable(size)
    return ByteRange(start, min(end, size - 1))
