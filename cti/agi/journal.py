"""The durable local journal between the AGI handlers and Postgres.

An append-only log of records in numbered segment files under ``<data_dir>/agi-journal``,
one line per record::

    <crc32 of the payload, 8 hex digits> <payload: one line of JSON>\\n

Promises:

* ``append`` returns only after the lines are written and fdatasync'd (and, for a new
  segment, the folder fsync'd): an acknowledged record survives ``kill -9`` and power loss.
* Several processes may append at once (the FastAGI server and classic AGI scripts):
  appends are serialised by an exclusive ``flock`` on ``append.lock``.
* A record torn by a crash in the middle of a write is never read as a record: the next
  append first ends the torn line, and the reader skips a line whose CRC does not match
  (it was never acknowledged, so Asterisk sent it again).
* The reader sees records in append order; ``checkpoint.json`` (written atomically)
  remembers how far the writer has committed to Postgres. Only one process drains a
  journal at a time (``writer.lock``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

#: The journal's folder inside the data folder (``CTI_DATA_DIR``).
JOURNAL_DIRNAME = "agi-journal"
SEGMENT_PREFIX = "segment-"
SEGMENT_SUFFIX = ".jnl"
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
DEFAULT_FILE_MODE = 0o660


class JournalError(Exception):
    """The journal folder is unusable (permissions, disk full, ...)."""


class Position(NamedTuple):
    """A place in the journal: segment number and byte offset inside it (ordered).

    Named tuples, not frozen dataclasses: the reader makes two of these and an ``Entry``
    per record, and a tuple is built several times faster."""

    segment: int
    offset: int


class Entry(NamedTuple):
    """One record read back: its payload, where it starts, and where the next one starts."""

    position: Position
    next: Position
    payload: bytes


@dataclass(slots=True)
class ReadResult:
    entries: list[Entry] = field(default_factory=list)
    #: Where reading stopped: the checkpoint to save once ``entries`` are committed.
    end: Position = Position(1, 0)
    #: Lines skipped because their CRC or framing is wrong (torn by a crash).
    corrupt: list[tuple[Position, bytes]] = field(default_factory=list)


def encode_line(payload: bytes) -> bytes:
    """Frame one payload (which must not contain a newline) as a journal line."""
    if b"\n" in payload:
        raise ValueError("a journal payload cannot contain a newline")
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def decode_line(line: bytes) -> bytes | None:
    """The payload of a journal line (without its newline), or None if it is damaged."""
    if len(line) < 9 or line[8:9] != b" ":
        return None
    try:
        crc = int(line[:8], 16)
    except ValueError:
        return None
    payload = line[9:]
    return payload if zlib.crc32(payload) == crc else None


def journal_dir(data_dir: Path) -> Path:
    """Where the journal of a data folder lives (shared by the server and the scripts)."""
    return Path(data_dir) / JOURNAL_DIRNAME


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """A journal folder. Thread-safe within a process, and process-safe through flock."""

    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        file_mode: int = DEFAULT_FILE_MODE,
    ) -> None:
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.file_mode = file_mode
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"cannot create {self.directory}: {exc}") from exc
        self._append_mutex = threading.Lock()
        self._append_lock_fd: int | None = None
        self._read_lock_fd: int | None = None
        self._writer_lock_fd: int | None = None
        self._fd: int | None = None
        self._fd_segment: int | None = None
        #: Torn lines this process ended before appending (a crash happened before).
        self.torn_lines_ended = 0

    # --- files ---------------------------------------------------------------------------

    def segment_path(self, number: int) -> Path:
        return self.directory / f"{SEGMENT_PREFIX}{number:012d}{SEGMENT_SUFFIX}"

    def segments(self) -> list[int]:
        """Segment numbers present, ascending."""
        numbers = []
        for name in os.listdir(self.directory):
            if name.startswith(SEGMENT_PREFIX) and name.endswith(SEGMENT_SUFFIX):
                digits = name[len(SEGMENT_PREFIX) : -len(SEGMENT_SUFFIX)]
                if digits.isdigit():
                    numbers.append(int(digits))
        return sorted(numbers)

    def _lock_file(self, name: str) -> int:
        fd = os.open(self.directory / name, os.O_RDWR | os.O_CREAT, self.file_mode)
        self._chmod(fd)
        return fd

    def _chmod(self, fd: int) -> None:
        try:
            os.fchmod(fd, self.file_mode)  # not narrowed by the umask: asterisk + cti share it
        except PermissionError:
            pass  # created by the other user; its mode is already set

    # --- appending -----------------------------------------------------------------------

    def append(self, payloads: Sequence[bytes]) -> None:
        """Append ``payloads`` (in order) durably. Returns after fdatasync."""
        if not payloads:
            return
        data = b"".join(encode_line(p) for p in payloads)
        with self._append_mutex:
            if self._append_lock_fd is None:
                self._append_lock_fd = self._lock_file("append.lock")
            fcntl.flock(self._append_lock_fd, fcntl.LOCK_EX)
            try:
                fd = self._active_fd()
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fdatasync(fd)
            except OSError as exc:
                raise JournalError(f"journal append failed: {exc}") from exc
            finally:
                fcntl.flock(self._append_lock_fd, fcntl.LOCK_UN)

    def _open_segment(self, number: int, create: bool) -> int:
        flags = os.O_RDWR | os.O_APPEND | (os.O_CREAT | os.O_EXCL if create else 0)
        fd = os.open(self.segment_path(number), flags, self.file_mode)
        if create:
            self._chmod(fd)
            _fsync_dir(self.directory)
        return fd

    def _active_fd(self) -> int:
        """The fd of the segment to append to (called with the append lock held).

        Ends a torn last line first, and starts a new segment when the active one is full.
        """
        number = self._fd_segment
        if number is None or os.path.exists(self.segment_path(number + 1)):
            # First append, or another process started a newer segment: look again.
            # (The common case costs one stat() instead of a listdir() per append.)
            numbers = self.segments()
            number = numbers[-1] if numbers else 1
            self._close_fd()
            self._fd = self._open_segment(number, create=not numbers)
            self._fd_segment = number
        assert self._fd is not None
        size = os.fstat(self._fd).st_size
        if size and os.pread(self._fd, 1, size - 1) != b"\n":
            # A crash cut the last append short. End that line so the next record starts
            # on a line of its own; the reader drops the torn one (its CRC fails).
            os.write(self._fd, b"\n")
            size += 1
            self.torn_lines_ended += 1
        if size >= self.segment_bytes:
            self._close_fd()
            self._fd = self._open_segment(number + 1, create=True)
            self._fd_segment = number + 1
        return self._fd

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd = None
        self._fd_segment = None

    # --- reading -------------------------------------------------------------------------

    def first_position(self) -> Position:
        numbers = self.segments()
        return Position(numbers[0] if numbers else 1, 0)

    def read(
        self, start: Position, *, max_entries: int = 1000, max_bytes: int = 4 * 1024 * 1024
    ) -> ReadResult:
        """Read complete records from ``start`` on, in append order.

        Promises: never returns a partial or damaged line as an entry, nor a byte that an
        append has not fdatasync'd yet; moves to the next segment only once the current
        one can no longer grow (a later segment exists). ``result.end`` is where to resume.

        The append lock is held (shared) only to take a snapshot of the segments and
        their sizes: an append holds it (exclusive) from its write to the end of its
        fdatasync, so every byte inside the snapshot is complete and durable. Reading and
        checking the lines happen after it is released, so an append, which answers
        Asterisk, never waits for this (niced, possibly descheduled) reader to parse a
        batch.
        """
        if self._read_lock_fd is None:
            self._read_lock_fd = self._lock_file("append.lock")
        fcntl.flock(self._read_lock_fd, fcntl.LOCK_SH)
        try:
            sizes = self._snapshot(start.segment)
        finally:
            fcntl.flock(self._read_lock_fd, fcntl.LOCK_UN)
        return self._read_snapshot(start, sizes, max_entries, max_bytes)

    def _snapshot(self, first: int) -> dict[int, int]:
        """Segment number -> size, for the segments from ``first`` on (the newest last)."""
        sizes = {}
        for number in self.segments():
            if number < first:
                continue
            try:
                sizes[number] = os.stat(self.segment_path(number)).st_size
            except FileNotFoundError:
                continue  # released meanwhile (only the writer releases, and it reads)
        return sizes

    def _read_snapshot(
        self, start: Position, sizes: dict[int, int], max_entries: int, max_bytes: int
    ) -> ReadResult:
        result = ReadResult(end=start)
        numbers = sorted(sizes)
        pos = start
        if pos.segment not in sizes:
            later = [n for n in numbers if n > pos.segment]
            if not later:
                return result
            pos = Position(later[0], 0)  # released already, or never written to
        budget = max_bytes
        while len(result.entries) < max_entries and budget > 0:
            # Read about what max_entries records take, not the whole budget: a writer
            # catching up on a long backlog would otherwise read megabytes per batch
            # to use a few hundred lines of them. Never past the snapshot's size.
            available = max(sizes[pos.segment] - pos.offset, 0)
            want = min(budget, max(64 * 1024, max_entries * 2048), available)
            try:
                handle = open(self.segment_path(pos.segment), "rb")
            except FileNotFoundError:
                # Released since the snapshot: the writer deletes a segment only once all
                # of it is committed, so nothing in it is pending (a reader that is not
                # the writer, e.g. ``cti agi journal status``, can be behind it).
                later = [n for n in numbers if n > pos.segment]
                if not later:
                    break
                pos = result.end = Position(later[0], 0)
                continue
            with handle:
                handle.seek(pos.offset)
                data = handle.read(want)
                if len(data) == want and want < min(budget, available) and b"\n" not in data:
                    # One line longer than that.
                    data += handle.read(min(budget, available) - want)
            at_end = pos.offset + len(data) >= sizes[pos.segment]
            budget -= len(data)
            cursor = 0
            while len(result.entries) < max_entries:
                newline = data.find(b"\n", cursor)
                if newline < 0:
                    break
                line = data[cursor:newline]
                here = Position(pos.segment, pos.offset + cursor)
                after = Position(pos.segment, pos.offset + newline + 1)
                payload = decode_line(line)
                if payload is None:
                    result.corrupt.append((here, line))
                else:
                    result.entries.append(Entry(here, after, payload))
                cursor = newline + 1
            pos = Position(pos.segment, pos.offset + cursor)
            result.end = pos
            if len(result.entries) >= max_entries or not at_end:
                break
            later = [n for n in numbers if n > pos.segment]
            if not later:
                break  # the active segment: more may come
            if cursor < len(data):
                # A final segment that ends in a torn line (a crash right before a rotation
                # by another process). Nothing can complete it: skip it.
                result.corrupt.append((pos, data[cursor:]))
            pos = Position(later[0], 0)
            result.end = pos
        return result

    def backlog_bytes(self, checkpoint: Position) -> int:
        """Bytes appended after ``checkpoint`` (what the writer has not committed yet)."""
        total = 0
        for number in self.segments():
            if number < checkpoint.segment:
                continue
            try:
                size = self.segment_path(number).stat().st_size
            except FileNotFoundError:
                continue
            total += size - checkpoint.offset if number == checkpoint.segment else size
        return max(total, 0)

    # --- checkpoint and cleanup ----------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return self.directory / "checkpoint.json"

    def load_checkpoint(self) -> Position:
        """Where the writer resumes: the saved checkpoint, else the first segment's start."""
        try:
            data = json.loads(self.checkpoint_path.read_text())
            return Position(int(data["segment"]), int(data["offset"]))
        except FileNotFoundError:
            return self.first_position()
        except (ValueError, KeyError, TypeError) as exc:
            raise JournalError(f"{self.checkpoint_path} is damaged: {exc}") from exc

    def save_checkpoint(self, position: Position) -> None:
        """Atomically replace the checkpoint (write, fsync, rename, fsync the folder)."""
        tmp = self.checkpoint_path.with_suffix(".tmp")
        payload = json.dumps({"segment": position.segment, "offset": position.offset})
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, self.file_mode)
        try:
            os.write(fd, payload.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.checkpoint_path)
        _fsync_dir(self.directory)

    def release_before(self, position: Position) -> int:
        """Delete segments wholly before ``position`` (all committed). Returns how many."""
        removed = 0
        for number in self.segments():
            if number >= position.segment:
                break
            try:
                self.segment_path(number).unlink()
                removed += 1
            except FileNotFoundError:
                pass
        return removed

    # --- dead letters --------------------------------------------------------------------

    @property
    def rejected_path(self) -> Path:
        return self.directory / "rejected.jnl"

    @contextlib.contextmanager
    def rejected_locked(self) -> Iterator[None]:
        """Hold ``rejected.lock``: nobody adds a line to rejected.jnl or replaces it
        meanwhile (the writer's ``reject`` and ``cti agi rejected requeue`` take it)."""
        fd = self._lock_file("rejected.lock")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the fd releases the flock

    def reject(self, payload: bytes, reason: str) -> None:
        """Keep a record Postgres refused (or a damaged line) in ``rejected.jnl``, fsync'd.

        Nothing is dropped silently: these lines wait for a person (``cti agi rejected``).
        """
        line = json.dumps(
            {"reason": reason, "payload": payload.decode("utf-8", errors="backslashreplace")},
            ensure_ascii=False,
        ).encode()
        with self.rejected_locked():
            # Opened under the lock: a requeue may have just replaced the file.
            flags = os.O_RDWR | os.O_APPEND | os.O_CREAT
            fd = os.open(self.rejected_path, flags, self.file_mode)
            try:
                size = os.fstat(fd).st_size
                if not size:
                    # New: the writer and the scripts' user share it, as the segments.
                    self._chmod(fd)
                # A crash cut the last reject short: end that line, or this one would be
                # glued to it and both would read as damaged.
                torn = size and os.pread(fd, 1, size - 1) != b"\n"
                os.write(fd, (b"\n" if torn else b"") + encode_line(line))
                os.fdatasync(fd)
            finally:
                os.close(fd)

    def rejected_count(self) -> int:
        try:
            with open(self.rejected_path, "rb") as handle:
                return sum(1 for _ in handle)
        except FileNotFoundError:
            return 0

    # --- the single writer ---------------------------------------------------------------

    def try_lock_writer(self) -> bool:
        """Become the one process that drains this journal; False if another one is."""
        if self._writer_lock_fd is not None:
            return True
        fd = self._lock_file("writer.lock")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._writer_lock_fd = fd
        return True

    def unlock_writer(self) -> None:
        if self._writer_lock_fd is not None:
            os.close(self._writer_lock_fd)  # closing the fd releases the flock
            self._writer_lock_fd = None

    def close(self) -> None:
        """Release every fd and lock this object holds."""
        with self._append_mutex:
            self._close_fd()
            for name in ("_append_lock_fd", "_read_lock_fd"):
                fd = getattr(self, name)
                if fd is not None:
                    os.close(fd)
                    setattr(self, name, None)
        self.unlock_writer()
