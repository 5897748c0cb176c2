"""``AgiService``: the FastAGI server, its journal and the journal writer, as one
``cti.service.Service`` that ``cti serve --role agi|all`` runs."""

from __future__ import annotations

import logging
import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.agi.background import WriterProcess
from cti.agi.groupcommit import GroupCommitter
from cti.agi.handlers import HandlerContext
from cti.agi.journal import Journal, journal_dir
from cti.agi.server import AgiServer
from cti.agi.session import SessionHandler, SessionLimits
from cti.agi.writer import JournalWriter, WriterOptions
from cti.service import Health
from cti.settings import Settings
from cti.store.db import bound_url

log = logging.getLogger("cti.agi")


def _quantile(samples: list[float], q: float) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class AgiService:
    """Listens for FastAGI on ``settings.agi_address``, journals every call record, and
    drains the journal into Postgres through ``session_factory``."""

    name = "agi"

    def __init__(
        self,
        settings: Settings,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        limits: SessionLimits | None = None,
        max_sessions: int = 256,
        writer_options: WriterOptions | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.settings = settings
        self.journal = journal or Journal(journal_dir(settings.data_dir))
        url = bound_url(session_factory)
        #: In a child process when the factory's URL is known (see background.py); on
        #: this event loop otherwise.
        self.writer: JournalWriter | WriterProcess = (
            WriterProcess(self.journal, url, writer_options, log_level=settings.log_level)
            if url is not None
            else JournalWriter(self.journal, session_factory, writer_options)
        )
        self.committer = GroupCommitter(self.journal, on_commit=self.writer.wake)
        self.sessions = SessionHandler(
            self.committer.append,
            HandlerContext(node=settings.node_name, plan=settings.number_plan),
            limits=limits,
        )
        host, port = settings.agi_address
        self.server = AgiServer(
            host,
            port,
            self.sessions,
            max_sessions=max_sessions,
            stream_limit=self.sessions.limits.max_env_bytes,
        )
        self._started_at: float | None = None

    async def start(self) -> None:
        await self.committer.start()
        await self.writer.start()
        await self.server.start()
        self._started_at = time.time()

    async def stop(self) -> None:
        """Stop accepting, let running sessions finish, flush the journal, stop the
        writer. What the writer has not committed stays in the journal for next time."""
        await self.server.stop()
        await self.committer.stop()
        await self.writer.stop()
        self.journal.close()

    @property
    def port(self) -> int:
        return self.server.bound_port

    def health(self) -> Health:
        """OK while the listener runs: calls are taken even when Postgres is down (the
        journal holds them), so a database outage shows in ``detail``, not as a 503."""
        checkpoint = self.writer.position
        backlog = self.journal.backlog_bytes(checkpoint) if checkpoint is not None else None
        stats = self.writer.stats
        return Health(
            ok=self.server.listening,
            detail={
                "listening": self.server.listening,
                "active_sessions": self.server.active,
                "journal_backlog_bytes": backlog,
                "writer_holds_lock": stats.holds_lock,
                "database_ok": stats.failing_since is None,
                "database_failing_since": stats.failing_since,
                "last_error": stats.last_error,
                "rejected_records": self.journal.rejected_count(),
            },
        )

    def metrics(self) -> list[str]:
        s = self.sessions.stats
        w = self.writer.stats
        checkpoint = self.writer.position
        backlog = self.journal.backlog_bytes(checkpoint) if checkpoint is not None else 0
        counters = [
            ("cti_agi_sessions_total", "FastAGI connections served", s.sessions),
            ("cti_agi_acknowledged_total", "requests journaled and acknowledged", s.acknowledged),
            ("cti_agi_rejected_total", "requests refused as malformed", s.rejected),
            ("cti_agi_unknown_script_total", "requests for an unknown script", s.unknown_script),
            ("cti_agi_malformed_total", "connections closed for protocol errors", s.malformed),
            ("cti_agi_timeouts_total", "connections closed for slowness", s.timeouts),
            ("cti_agi_early_disconnects_total", "peers gone mid-request", s.early_disconnects),
            ("cti_agi_ack_failed_total", "journaled but not acknowledged", s.ack_failed),
            (
                "cti_agi_journal_failed_total",
                "requests whose journal write failed",
                s.journal_failed,
            ),
            (
                "cti_agi_refused_busy_total",
                "connections refused at max_sessions",
                self.server.refused_busy,
            ),
            ("cti_agi_writer_committed_total", "records committed to Postgres", w.committed),
            ("cti_agi_writer_failures_total", "failed attempts to commit a batch", w.failures),
            ("cti_agi_writer_rejected_total", "records kept in rejected.jnl", w.rejected),
            (
                "cti_agi_journal_corrupt_lines_total",
                "damaged journal lines skipped",
                w.corrupt_lines,
            ),
        ]
        lines: list[str] = []
        for name, help_text, value in counters:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter", f"{name} {value}"]
        gauges = [
            ("cti_agi_active_sessions", "FastAGI connections being served", self.server.active),
            ("cti_agi_journal_backlog_bytes", "journal bytes not yet in Postgres", backlog),
            (
                "cti_agi_database_ok",
                "1 when the last batch committed",
                int(w.failing_since is None),
            ),
            ("cti_agi_answer_seconds_p50", "median answer latency", _quantile(s.latencies, 0.5)),
            (
                "cti_agi_answer_seconds_p99",
                "99th percentile answer latency",
                _quantile(s.latencies, 0.99),
            ),
        ]
        for name, help_text, value in gauges:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value}"]
        return lines
