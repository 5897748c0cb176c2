"""Runs the journal writer in a child process, away from the event loop that answers
Asterisk.

The FastAGI sessions answer from the main event loop, where every millisecond of
blocking shows in the answer latency. The writer's work (decoding records, building
parameters, the driver's encoding, commits) comes in bursts of several milliseconds per
batch. On the same loop those bursts sat in front of waiting sessions (bench/bench_agi.py:
p99 tripled); on a thread of the same process they still took the GIL from it in 5 ms
turns (no better). A child process has its own interpreter, runs at a lower priority and
is scheduled by the kernel.

The child gets its own engine, built from the URL of the session factory the service
was given (an engine and its connections cannot cross a process).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path

from cti.agi.journal import Journal, Position
from cti.agi.writer import JournalWriter, WriterOptions, WriterStats
from cti.store.db import make_engine, make_session_factory

log = logging.getLogger("cti.agi.writer")


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


STATUS_FILE = "writer-status.json"


class WriterProcess:
    """A ``JournalWriter`` in a child process; same ``start``/``stop``/``wake``/``stats``.

    The child polls the journal (``poll_interval``, and ``linger`` between batches), so
    nothing needs to wake it. It reports its counters in ``writer-status.json`` in the
    journal folder (``StatusReport``: at most once a second while it works, at once
    when the database fails or comes back, when it goes idle, and when it stops);
    ``stats`` and ``position`` read that file. If the child dies it is started again; it
    resumes from the checkpoint.
    """

    def __init__(
        self,
        journal: Journal,
        database_url: str,
        options: WriterOptions | None = None,
        *,
        log_level: str = "INFO",
        restart_delay: float = 1.0,
    ) -> None:
        self._directory = str(journal.directory)
        self._status_path = journal.directory / STATUS_FILE
        self._url = database_url
        self._options = options or WriterOptions()
        self._log_level = log_level
        self._restart_delay = restart_delay
        self._process = None
        self._monitor: asyncio.Task[None] | None = None
        self._stopping = False
        self.restarts = 0

    def _status(self) -> dict:
        try:
            return json.loads(self._status_path.read_text())
        except (OSError, ValueError):
            return {}

    @property
    def stats(self) -> WriterStats:
        data = self._status().get("stats", {})
        known = {f.name for f in fields(WriterStats)}
        return WriterStats(**{k: v for k, v in data.items() if k in known})

    @property
    def position(self) -> Position | None:
        position = self._status().get("position")
        return Position(*position) if position else None

    def wake(self) -> None:
        """Nothing to do: the child polls the journal."""

    async def start(self) -> None:
        self._stopping = False
        with contextlib.suppress(FileNotFoundError):
            self._status_path.unlink()
        self._spawn()
        self._monitor = asyncio.create_task(self._watch(), name="agi-writer-monitor")

    def _spawn(self) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a running event loop
        self._process = context.Process(
            target=run_writer_process,
            args=(
                self._directory,
                self._url,
                asdict(self._options),
                self._log_level,
                os.getpid(),
            ),
            name="cti-agi-writer",
            daemon=True,
        )
        self._process.start()

    async def _watch(self) -> None:
        while not self._stopping:
            await asyncio.sleep(0.5)
            process = self._process
            if process is not None and not process.is_alive() and not self._stopping:
                log.error(
                    "journal writer process exited; starting it again",
                    extra={"exitcode": process.exitcode},
                )
                await asyncio.sleep(self._restart_delay)
                if not self._stopping:
                    self.restarts += 1
                    self._spawn()

    async def stop(self) -> None:
        self._stopping = True
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        process = self._process
        if process is not None and process.is_alive():
            process.terminate()  # SIGTERM: the child stops after its current batch
            await asyncio.to_thread(process.join, 30)
            if process.is_alive():
                process.kill()
                await asyncio.to_thread(process.join, 5)
        self._process = None


class StatusReport:
    """Writes the child's counters and position to ``writer-status.json``, which the
    FastAGI process reads for ``/healthz`` (``database_ok``, ``last_error``, the backlog
    from ``position``...) and ``/metrics`` (the counters).

    It used to be rewritten after every batch: tens of new files and renames a second
    under load, metadata writes on the device whose fdatasync every answer waits for,
    for readers that poll. Now it is written:

    * at once when health would say something else: the database fails or is back
      (``failing_since``), the writer lock is taken or given up (``holds_lock``);
    * otherwise at most once per ``interval`` (1 s) while batches keep coming;
    * when the writer finds nothing more to do (``idle``), if anything changed since
      the last write, so a quiet service shows its last batch without waiting;
    * when the writer stops (``flush``).

    An unchanged status is not written again. The file also counts its own writes
    (``reports``). A failure to write it (disk full) is logged, never raised into the
    writer: the status is a report, the journal is what matters.
    """

    def __init__(
        self,
        path: Path,
        writer: JournalWriter,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.interval = interval
        self.writes = 0
        self._writer = writer
        self._clock = clock
        self._written: dict | None = None
        self._written_at = -math.inf
        self._failing = False

    def _snapshot(self) -> dict:
        position = self._writer.position
        return {
            "pid": os.getpid(),
            "stats": asdict(self._writer.stats),
            "position": [position.segment, position.offset] if position else None,
        }

    @staticmethod
    def _state(data: dict) -> tuple[bool, bool]:
        stats = data["stats"]
        return stats["failing_since"] is None, stats["holds_lock"]

    def batch(self) -> None:
        """After a batch or a failed attempt: write if due (see the class)."""
        self._update(due_only=True)

    def idle(self) -> None:
        """The writer found the journal drained: write what it has not written yet."""
        self._update(due_only=False)

    def flush(self) -> None:
        self._update(due_only=False)

    def _update(self, *, due_only: bool) -> None:
        data = self._snapshot()
        last = self._written
        if data == last:
            return
        if (
            due_only
            and last is not None
            and self._state(data) == self._state(last)
            and self._clock() - self._written_at < self.interval
        ):
            return  # the next due write, idle or stop carries it
        try:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({**data, "reports": self.writes + 1}))
            os.replace(tmp, self.path)
        except OSError as exc:
            if not self._failing:
                log.error("cannot write the writer's status", extra={"error": str(exc)})
            self._failing = True
            return
        self._failing = False
        self.writes += 1
        self._written = data
        self._written_at = self._clock()


def run_writer_process(
    directory: str, url: str, options: dict, log_level: str, parent: int
) -> None:
    """The child's entry point: drain ``directory`` into ``url`` until SIGTERM or until
    the parent process is gone (the next FastAGI process starts its own writer)."""
    from cti import logs

    logs.configure(log_level)
    # Yield the CPU to the process answering Asterisk: records wait in the journal
    # without harm, Asterisk does not. (10 steps of niceness; never an error.)
    with contextlib.suppress(OSError):
        os.nice(10)
    loop = _new_loop()
    try:
        loop.run_until_complete(_child_main(Path(directory), url, WriterOptions(**options), parent))
    finally:
        loop.close()


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent dies (even by ``kill -9``)."""
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


async def _child_main(directory: Path, url: str, options: WriterOptions, parent: int) -> None:
    _die_with_parent()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    journal = Journal(directory)
    # No ping before each batch (a round trip per batch): a dead connection fails the
    # batch, SQLAlchemy drops it, and the retry (with backoff) gets a fresh one.
    engine = make_engine(url, pool_pre_ping=False)
    writer = JournalWriter(journal, make_session_factory(engine), options)
    report = StatusReport(directory / STATUS_FILE, writer)
    writer.on_batch = report.batch
    writer.on_idle = report.idle
    report.flush()
    await writer.start()
    try:
        while not stop.is_set():
            report.batch()  # the lock taken, or a change not written yet, once due
            if os.getppid() != parent:  # the parent died before prctl could tell us
                log.warning("FastAGI process gone; journal writer stops")
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await stop.wait()
    finally:
        await writer.stop()
        report.flush()
        await engine.dispose()
        journal.close()
