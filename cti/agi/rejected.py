"""``rejected.jnl``, the records Postgres refused for good: read back for a person, and put
back into the journal once the cause is fixed (``cti agi rejected list | requeue``).

Each line of the file is framed like a journal line (CRC, space, payload) and its payload
is ``{"reason": ..., "payload": <the journal record, as text>}`` (``Journal.reject``). The
journal writer adds lines while a person runs these commands, so both hold
``rejected.lock`` (``Journal.rejected_locked``) while they change the file.

Anything in the file may be hostile or broken: caller names with newlines or NUL, a line
torn by a crash, a line of megabytes, someone's hand edit. Reading never holds more than
``MAX_LINE_BYTES`` of one line, and a line that is not a well-formed rejected record is
listed as such (and kept) rather than stopping the listing.

Re-queueing is "at least once into the journal, then out of rejected.jnl", under the lock:

1. the chosen records are appended to the journal (fdatasync'd, ``Journal.append``);
2. then rejected.jnl is replaced by a copy without them (temporary file, fsync, rename,
   fsync of the folder).

A crash between 1 and 2 leaves a record in both places, and the next requeue appends it
to the journal a second time. That is harmless: the writer's upserts are idempotent (a
record applied twice gives the same row, see ``cti.agi.rows``), so the table still gets
the call once. The other order (remove, then append) could lose the record in a crash.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from cti.agi.journal import Journal, _fsync_dir, decode_line
from cti.agi.records import CallRecord, RecordRejected

#: A journal record is a few kB; a longer line is measured and kept, never read whole.
MAX_LINE_BYTES = 1024 * 1024
#: How much of an unreadable line ``list`` shows.
PREVIEW_BYTES = 200


@dataclass(frozen=True, slots=True)
class RejectedLine:
    """One line of rejected.jnl, as read back."""

    #: 1-based line number in rejected.jnl (what ``requeue --index`` takes).
    index: int
    #: Where the line starts in the file, and its length without the newline.
    offset: int
    size: int
    #: Why the writer set it aside (None: the line itself is damaged).
    reason: str | None
    #: The journal record to re-queue (None: there is none to re-queue).
    payload: bytes | None
    record: CallRecord | None
    #: Why it cannot be re-queued (None: it can).
    problem: str | None
    #: The start of an unreadable line, for a person to look at.
    preview: bytes = b""

    @property
    def requeueable(self) -> bool:
        return self.problem is None

    def as_dict(self) -> dict[str, object]:
        """What ``cti agi rejected list --format json`` prints for this line."""
        record = self.record
        return {
            "index": self.index,
            "reason": self.reason,
            "requeueable": self.requeueable,
            "problem": self.problem,
            "kind": record.kind if record else None,
            "node": record.node if record else None,
            "linkedid": record.linkedid if record else None,
            "bytes": self.size,
            "payload": (
                self.payload.decode("utf-8", errors="backslashreplace")
                if self.payload is not None
                else None
            ),
            "preview": (
                None
                if self.payload is not None
                else self.preview.decode("utf-8", errors="backslashreplace")
            ),
        }


def _parse(index: int, offset: int, head: bytes, size: int) -> RejectedLine:
    """One line (its first ``MAX_LINE_BYTES + 1`` bytes at most) -> ``RejectedLine``."""

    def unusable(problem: str, reason: str | None = None) -> RejectedLine:
        return RejectedLine(index, offset, size, reason, None, None, problem, head[:PREVIEW_BYTES])

    if size > MAX_LINE_BYTES:
        return unusable(f"line of {size} bytes: longer than any record")
    line = decode_line(head)
    if line is None:
        return unusable("damaged line (CRC or framing)")
    try:
        data = json.loads(line)
    except ValueError:
        return unusable("not JSON")
    if not (
        isinstance(data, dict)
        and isinstance(data.get("reason"), str)
        and isinstance(data.get("payload"), str)
    ):
        return unusable("not a rejected record (reason and payload expected)")
    reason: str = data["reason"]
    try:
        payload = data["payload"].encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: "\ud800" is valid JSON
        return unusable("payload is not valid text", reason)
    if b"\n" in payload:
        return unusable("payload spans several lines", reason)
    try:
        record = CallRecord.from_json(payload)
    except RecordRejected as exc:
        return RejectedLine(index, offset, size, reason, payload, None, f"not a call record: {exc}")
    return RejectedLine(index, offset, size, reason, payload, record, None)


def scan_rejected(handle: BinaryIO) -> Iterator[RejectedLine]:
    """Every line of an open rejected.jnl, in order, holding at most ``MAX_LINE_BYTES``
    (plus one) of any line."""
    index = 0
    offset = 0
    while True:
        head = handle.readline(MAX_LINE_BYTES + 1)
        if not head:
            return
        index += 1
        size = len(head)
        ended = head.endswith(b"\n")
        while not ended:  # longer than the limit, or a torn last line
            more = handle.readline(MAX_LINE_BYTES)
            if not more:
                break
            size += len(more)
            ended = more.endswith(b"\n")
        if ended:
            size -= 1
            if head.endswith(b"\n"):  # the whole line is in head
                head = head[:-1]
        yield _parse(index, offset, head, size)
        offset += size + (1 if ended else 0)


def read_rejected(journal: Journal) -> list[RejectedLine]:
    """The lines of ``journal``'s rejected.jnl, in order (none if there is no file)."""
    try:
        handle = open(journal.rejected_path, "rb")
    except FileNotFoundError:
        return []
    with handle:
        return list(scan_rejected(handle))


class RequeueError(Exception):
    """Nothing was re-queued: an index does not exist or names a line that cannot be."""


@dataclass(frozen=True, slots=True)
class RequeueResult:
    #: Appended to the journal and removed from rejected.jnl.
    requeued: list[RejectedLine]
    #: Left in rejected.jnl because they cannot be re-queued (``--all`` only).
    kept: list[RejectedLine]


def requeue(journal: Journal, indexes: Collection[int] | None = None) -> RequeueResult:
    """Append the chosen rejected records to the journal, for the writer to commit again,
    and remove them from rejected.jnl (see the module's docstring for why a crash can
    repeat a record but never lose one).

    ``indexes``: the 1-based line numbers to re-queue (all or nothing: ``RequeueError``
    if one does not exist or cannot be re-queued); None: every line that can be, the
    others stay. Records keep their order.
    """
    with journal.rejected_locked():  # the writer's reject() waits meanwhile
        lines = read_rejected(journal)
        if indexes is None:
            chosen = [line for line in lines if line.requeueable]
            kept = [line for line in lines if not line.requeueable]
        else:
            wanted = set(indexes)
            missing = sorted(wanted - {line.index for line in lines})
            if missing:
                raise RequeueError(
                    f"no rejected record #{', #'.join(map(str, missing))} "
                    f"(rejected.jnl has {len(lines)} lines; see `cti agi rejected list`)"
                )
            chosen = [line for line in lines if line.index in wanted]
            refused = [line for line in chosen if not line.requeueable]
            if refused:
                raise RequeueError(
                    "cannot re-queue "
                    + "; ".join(f"#{line.index}: {line.problem}" for line in refused)
                )
            kept = []
        if not chosen:
            return RequeueResult([], kept)
        # 1. At least once into the journal (durable when append returns)...
        journal.append([line.payload for line in chosen if line.payload is not None])
        # 2. ...then out of rejected.jnl, atomically.
        _rewrite_without(journal, {line.index for line in chosen}, lines)
    return RequeueResult(chosen, kept)


def _rewrite_without(journal: Journal, removed: set[int], lines: list[RejectedLine]) -> None:
    """Replace rejected.jnl by a copy of itself without the ``removed`` lines (byte for
    byte otherwise; a torn last line gets its newline). Called with the lock held."""
    path = journal.rejected_path
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, journal.file_mode)
    try:
        with open(path, "rb") as source:
            status = os.fstat(source.fileno())
            # The writer (maybe another user: asterisk and cti share the folder) must
            # still be able to append to the new file: same mode, owner and group.
            os.fchmod(fd, status.st_mode & 0o7777)
            try:
                os.fchown(fd, status.st_uid, status.st_gid)
            except PermissionError:  # not root: keep at least the group, if ours
                with contextlib.suppress(PermissionError):
                    os.fchown(fd, -1, status.st_gid)
            for line in lines:
                if line.index in removed:
                    continue
                source.seek(line.offset)
                left = line.size
                while left:
                    chunk = source.read(min(left, MAX_LINE_BYTES))
                    if not chunk:
                        break
                    _write_all(fd, chunk)
                    left -= len(chunk)
                _write_all(fd, b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(journal.directory)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
