"""``cti agi ...``: run the FastAGI service alone, and look after its journal.

* ``cti agi run``            the FastAGI server and journal writer, until SIGTERM/SIGINT
* ``cti agi journal status`` checkpoint, backlog, rejected records
* ``cti agi journal drain``  commit everything in the journal to Postgres now

``python -m cti.agi`` offers the same commands.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from cti.agi.journal import Journal, journal_dir
from cti.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``agi`` and its sub-commands to the ``cti`` parser."""
    agi = subparsers.add_parser("agi", help="FastAGI call logging and its journal")
    sub = agi.add_subparsers(dest="agi_command", required=True)
    sub.add_parser("run", help="run the FastAGI server and journal writer").set_defaults(
        func=cmd_run
    )
    journal = sub.add_parser("journal", help="the local journal of call records")
    jsub = journal.add_subparsers(dest="journal_command", required=True)
    jsub.add_parser("status", help="show checkpoint, backlog and rejects").set_defaults(
        func=cmd_journal_status
    )
    jsub.add_parser("drain", help="commit all journaled records to Postgres now").set_defaults(
        func=cmd_journal_drain
    )


def _database_url(settings: Settings) -> str:
    from cti.cli import resolve_database_url

    return resolve_database_url(settings)


def cmd_run(_: argparse.Namespace) -> int:
    from cti.agi.service import AgiService
    from cti.store.db import make_engine, make_session_factory

    settings = Settings()

    async def main() -> None:
        engine = make_engine(_database_url(settings))
        service = AgiService(settings, make_session_factory(engine))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await service.start()
        print(f"FastAGI listening on {service.server.host}:{service.port}", flush=True)
        try:
            await stop.wait()
        finally:
            await service.stop()
            await engine.dispose()

    run_event_loop(main())
    return 0


def run_event_loop(main) -> None:  # noqa: ANN001 (a coroutine)
    """uvloop when installed (as ``cti serve`` gets it through uvicorn), else asyncio."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def journal_status(journal: Journal) -> dict[str, object]:
    """What ``cti agi journal status`` prints: a plain dict (JSON)."""
    checkpoint = journal.load_checkpoint()
    pending = 0
    corrupt = 0
    position = checkpoint
    while True:
        result = journal.read(position, max_entries=10_000)
        pending += len(result.entries)
        corrupt += len(result.corrupt)
        if result.end == position:
            break
        position = result.end
    return {
        "directory": str(journal.directory),
        "checkpoint": {"segment": checkpoint.segment, "offset": checkpoint.offset},
        "segments": journal.segments(),
        "pending_records": pending,
        "damaged_lines": corrupt,
        "backlog_bytes": journal.backlog_bytes(checkpoint),
        "rejected_records": journal.rejected_count(),
        "rejected_file": str(journal.rejected_path),
    }


def cmd_journal_status(_: argparse.Namespace) -> int:
    journal = Journal(journal_dir(Settings().data_dir))
    try:
        print(json.dumps(journal_status(journal), indent=2))
    finally:
        journal.close()
    return 0


def cmd_journal_drain(_: argparse.Namespace) -> int:
    from cti.agi.writer import JournalWriter
    from cti.store.db import make_engine, make_session_factory

    settings = Settings()
    journal = Journal(journal_dir(settings.data_dir))
    if not journal.try_lock_writer():
        print("another process (cti serve?) is draining this journal", file=sys.stderr)
        journal.close()
        return 1

    async def main() -> int:
        engine = make_engine(_database_url(settings))
        try:
            return await JournalWriter(journal, make_session_factory(engine)).drain_all()
        finally:
            await engine.dispose()

    try:
        committed = asyncio.run(main())
    finally:
        journal.close()
    print(f"committed {committed} records")
    return 0
