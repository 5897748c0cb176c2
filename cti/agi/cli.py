"""``cti agi ...``: run the FastAGI service alone, and look after its journal.

* ``cti agi run``            the FastAGI server and journal writer, until SIGTERM/SIGINT
* ``cti agi journal status`` checkpoint, backlog, rejected records
* ``cti agi journal drain``  commit everything in the journal to Postgres now
* ``cti agi rejected list``  the records Postgres refused for good, with the reason
* ``cti agi rejected requeue --all | --index N ...``  put them back into the journal
  (once the cause is fixed) for the writer to commit

``python -m cti.agi`` offers the same commands.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from cti.agi.journal import Journal, journal_dir
from cti.agi.rejected import RejectedLine, RequeueError, requeue, scan_rejected
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
    rejected = sub.add_parser("rejected", help="records Postgres refused for good (rejected.jnl)")
    rsub = rejected.add_subparsers(dest="rejected_command", required=True)
    listing = rsub.add_parser("list", help="show them, numbered, with the reason")
    listing.add_argument(
        "--format",
        choices=["table", "json"],
        default="table",
        help="a table (default) or one JSON object per line",
    )
    listing.set_defaults(func=cmd_rejected_list)
    again = rsub.add_parser(
        "requeue", help="append them to the journal again once the cause is fixed"
    )
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every record that can be re-queued")
    which.add_argument(
        "--index",
        type=_positive,
        nargs="+",
        action="extend",
        metavar="N",
        help="the records numbered N by `list` (numbers change after a requeue)",
    )
    again.set_defaults(func=cmd_rejected_requeue)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a record number: {text!r}")
    return value


def _database_url(settings: Settings) -> str:
    from cti.store.db import resolve_database_url

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
    from cti.agi.writer import JournalWriter, WriterStats
    from cti.store.db import make_engine, make_session_factory

    settings = Settings()
    journal = Journal(journal_dir(settings.data_dir))
    if not journal.try_lock_writer():
        print("another process (cti serve?) is draining this journal", file=sys.stderr)
        journal.close()
        return 1

    async def main() -> WriterStats:
        engine = make_engine(_database_url(settings))
        try:
            writer = JournalWriter(journal, make_session_factory(engine))
            await writer.drain_all()
            return writer.stats
        finally:
            await engine.dispose()

    try:
        stats = asyncio.run(main())
    finally:
        journal.close()
    print(f"committed {stats.committed} records")
    set_aside = stats.rejected + stats.corrupt_lines
    if set_aside:
        print(
            f"{set_aside} set aside in {journal.rejected_path} "
            f"({stats.rejected} refused by Postgres, {stats.corrupt_lines} damaged lines); "
            "see: cti agi rejected list"
        )
    return 0


# --- rejected records ----------------------------------------------------------------------

#: Column widths of ``cti agi rejected list``; longer values are cut.
_TABLE = (("#", 5), ("kind", 10), ("node", 16), ("linkedid", 22), ("reason", 100))


def printable(text: str, width: int) -> str:
    """``text`` as one line a terminal shows as it is: control, format and other
    unprintable characters (newline, NUL, ESC, U+202E...) as escapes, cut to ``width``."""
    out: list[str] = []
    length = 0
    for char in text[: width + 1]:  # each character gives at least one
        if not char.isprintable():
            code = ord(char)
            char = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
            if code > 0xFFFF:
                char = f"\\U{code:08x}"
        out.append(char)
        length += len(char)
        if length > width:
            break
    line = "".join(out)
    return line if length <= width else line[: width - 3] + "..."


def _table_row(line: RejectedLine) -> str:
    record = line.record
    reason = line.reason if line.reason is not None else "(no reason: the line is damaged)"
    if line.problem is not None:
        reason = f"{reason} [cannot be re-queued: {line.problem}]"
    values = (
        str(line.index),
        record.kind if record else "-",
        record.node if record else "-",
        record.linkedid if record else "-",
        reason,
    )
    cells = [printable(v, w).ljust(w) for v, (_, w) in zip(values, _TABLE, strict=True)]
    return "  ".join(cells).rstrip()


def cmd_rejected_list(args: argparse.Namespace) -> int:
    journal = Journal(journal_dir(Settings().data_dir))
    try:
        handle = open(journal.rejected_path, "rb")
    except FileNotFoundError:
        handle = None
    finally:
        journal.close()
    if handle is None:
        if args.format == "table":
            print("no rejected records")
        return 0
    total = requeueable = 0
    with handle:
        for line in scan_rejected(handle):  # one line at a time: the file may be large
            if args.format == "json":
                print(json.dumps(line.as_dict()))  # ASCII only: safe in any terminal
            else:
                if total == 0:
                    print("  ".join(name.ljust(w) for name, w in _TABLE).rstrip())
                print(_table_row(line))
            total += 1
            requeueable += line.requeueable
    if args.format == "table":
        if total == 0:
            print("no rejected records")
        else:
            print(
                f"{total} rejected, {requeueable} can be re-queued once the cause is fixed "
                "(cti agi rejected requeue --all | --index N ...)"
            )
    return 0


def cmd_rejected_requeue(args: argparse.Namespace) -> int:
    journal = Journal(journal_dir(Settings().data_dir))
    try:
        result = requeue(journal, None if args.all else args.index)
    except RequeueError as exc:
        print(f"cti agi rejected requeue: {exc}; nothing re-queued", file=sys.stderr)
        return 1
    finally:
        journal.close()
    if not result.requeued:
        print("nothing to re-queue")
    else:
        print(
            f"requeued {len(result.requeued)} records into the journal: the writer commits "
            "them (or `cti agi journal drain`, when no server runs)"
        )
    for line in result.requeued[:20]:
        assert line.record is not None
        print(f"  #{line.index} {line.record.kind} {line.record.node} {line.record.linkedid}")
    if len(result.requeued) > 20:
        print(f"  ... and {len(result.requeued) - 20} more")
    if result.kept:
        numbers = ", ".join(f"#{line.index}" for line in result.kept[:20])
        more = ", ..." if len(result.kept) > 20 else ""
        print(f"kept {len(result.kept)} lines that cannot be re-queued ({numbers}{more})")
    return 0
