"""writer-status.json: written at most once a second while batches come, at once when
health changes, on idle and on stop; what the FastAGI process reads back from it."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from cti.agi.background import STATUS_FILE, StatusReport, WriterProcess
from cti.agi.journal import Journal, Position
from cti.agi.writer import WriterStats


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup(tmp_path):
    writer = SimpleNamespace(stats=WriterStats(holds_lock=True), position=Position(1, 0))
    clock = Clock()
    report = StatusReport(tmp_path / STATUS_FILE, writer, clock=clock)
    return writer, clock, report


def _batch(writer, n: int = 10) -> None:
    writer.stats.committed += n
    writer.stats.batches += 1
    writer.position = Position(1, writer.position.offset + 100 * n)


def _read(report: StatusReport) -> dict:
    return json.loads(report.path.read_text())


def test_batches_are_reported_at_most_once_a_second(setup):
    writer, clock, report = setup
    report.batch()
    assert report.writes == 1
    for _ in range(100):  # 100 batches within 0.99 s
        _batch(writer)
        clock.now += 0.0099
        report.batch()
    assert report.writes == 1 and _read(report)["stats"]["committed"] == 0
    clock.now += 0.02
    _batch(writer)
    report.batch()
    assert report.writes == 2
    assert _read(report)["stats"]["committed"] == 1010
    assert _read(report)["position"] == [1, 101000] and _read(report)["reports"] == 2


def test_idle_and_stop_write_what_is_pending_and_nothing_twice(setup):
    writer, clock, report = setup
    report.batch()
    _batch(writer)
    report.batch()
    assert report.writes == 1  # throttled
    report.idle()  # the writer found nothing more: the last batch is shown now
    assert report.writes == 2 and _read(report)["stats"]["committed"] == 10
    for _ in range(5):  # idle polls with nothing new write nothing
        clock.now += 2
        report.idle()
        report.batch()
    assert report.writes == 2
    writer.stats.holds_lock = False
    report.flush()
    assert report.writes == 3 and _read(report)["stats"]["holds_lock"] is False


def test_the_database_failing_or_back_is_reported_at_once(setup):
    writer, clock, report = setup
    report.batch()
    writer.stats.failures += 1
    writer.stats.failing_since = 1795711939.0
    writer.stats.last_error = "ConnectionRefusedError: [Errno 111]"
    report.batch()
    assert report.writes == 2 and _read(report)["stats"]["failing_since"] == 1795711939.0
    writer.stats.failures += 1  # the retries are only counted: throttled
    report.batch()
    assert report.writes == 2
    writer.stats.failing_since = None
    _batch(writer)
    report.batch()
    assert report.writes == 3 and _read(report)["stats"]["failing_since"] is None


def test_a_status_that_cannot_be_written_does_not_stop_the_writer(setup, tmp_path):
    writer, _, report = setup
    report.path = tmp_path / "missing" / STATUS_FILE
    report.batch()  # logged, not raised
    assert report.writes == 0
    report.path = tmp_path / STATUS_FILE
    report.flush()
    assert report.writes == 1


def test_what_the_fastagi_process_reads_back(setup, tmp_path):
    """``WriterProcess.stats`` and ``position`` (health and metrics) from the file."""
    writer, _, report = setup
    _batch(writer, 7)
    writer.stats.rejected = 2
    writer.stats.last_error = "x"
    report.flush()
    reader = WriterProcess(Journal(tmp_path), "postgresql+asyncpg://unused/db")
    assert reader.stats == writer.stats
    assert reader.position == writer.position
