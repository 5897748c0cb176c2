"""``cti recordings ...`` sub-commands; ``cti/cli.py`` calls ``register`` once.

* ``reconcile [--resume]``: scan the whole recordings folder (progress bar on stderr,
  resumable, safe while calls are recorded) and print the report. Exit 1 when a checksum
  changed or a file could not be read, so cron mails someone.
* ``index FILE...``: index these files now.
* ``purge --older-than DAYS [--dry-run]``: retention; recordings on legal hold are kept.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from cti.settings import Settings


def _progress_bar(stream=sys.stderr):  # noqa: ANN001
    started = time.monotonic()
    tty = stream.isatty()
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if done not in (0, total) and now - last[0] < (0.1 if tty else 5.0):
            return
        last[0] = now
        width = 30
        filled = width * done // total if total else width
        rate = done / (now - started) if now > started else 0.0
        line = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} files {rate:,.0f}/s"
        stream.write(("\r" + line) if tty else line + "\n")
        if tty and done == total:
            stream.write("\n")
        stream.flush()

    return show


def _run(work):  # noqa: ANN001, ANN202
    from cti.store.db import resolve_database_url
    from cti.store.db import make_engine, make_session_factory

    settings = Settings()

    async def main():  # noqa: ANN202
        engine = make_engine(resolve_database_url(settings))
        try:
            return await work(settings, make_session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def cmd_reconcile(args: argparse.Namespace) -> int:
    from cti.recordings.indexer import Indexer
    from cti.recordings.reconcile import Checkpoint, reconcile

    async def work(settings: Settings, factory) -> int:  # noqa: ANN001
        root = Path(args.root) if args.root else settings.recordings_dir
        if not root.is_dir():
            print(f"cti recordings: no folder {root}", file=sys.stderr)
            return 2
        indexer = Indexer(root, factory)
        try:
            report = await reconcile(
                indexer,
                factory,
                checkpoint=Checkpoint(settings.data_dir / "recordings-reconcile.json"),
                resume=args.resume,
                progress=None if args.quiet else _progress_bar(),
            )
        finally:
            indexer.close()
        print("\n".join(report.lines()))
        return 1 if (report.changed or report.failed) else 0

    return _run(work)


def cmd_index(args: argparse.Namespace) -> int:
    from cti.recordings.indexer import Indexer, Kind, index_file

    async def work(settings: Settings, factory) -> int:  # noqa: ANN001
        indexer = Indexer(settings.recordings_dir, factory, settle_s=args.settle)
        status = 0
        try:
            for path in args.files:
                outcome = await index_file(indexer, Path.cwd() / path)
                extra = f" (recording {outcome.recording_id})" if outcome.recording_id else ""
                orphan = " [orphan: no call found]" if outcome.orphan else ""
                detail = f": {outcome.detail}" if outcome.detail else ""
                print(f"{outcome.kind.value:8} {outcome.relpath}{extra}{orphan}{detail}")
                if outcome.kind in (Kind.FAILED, Kind.CHANGED):
                    status = 1
        finally:
            indexer.close()
        return status

    return _run(work)


def cmd_purge(args: argparse.Namespace) -> int:
    from cti.recordings.retention import purge

    async def work(settings: Settings, factory) -> int:  # noqa: ANN001
        async with factory() as db:
            try:
                report = await purge(
                    db, settings.recordings_dir, args.older_than, dry_run=args.dry_run
                )
            except ValueError as exc:
                print(f"cti recordings purge: {exc}", file=sys.stderr)
                return 2
            await db.commit()
        verb = "would remove" if report.dry_run else "removed"
        print(f"{verb} {len(report.purged)} recordings; {report.held} kept on legal hold")
        for path in report.purged[:100]:
            print(f"  {path}")
        for path, why in report.errors:
            print(f"  error {path}: {why}", file=sys.stderr)
        return 1 if report.errors else 0

    return _run(work)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``recordings`` command and its sub-commands."""
    rec = subparsers.add_parser("recordings", help="index, reconcile and purge recordings")
    sub = rec.add_subparsers(dest="recordings_cmd", required=True)
    rc = sub.add_parser("reconcile", help="scan the recordings folder against the index")
    rc.add_argument("--resume", action="store_true", help="continue an interrupted scan")
    rc.add_argument("--root", help="folder to scan (default CTI_RECORDINGS_DIR)")
    rc.add_argument("--quiet", action="store_true", help="no progress bar")
    rc.set_defaults(func=cmd_reconcile)
    ix = sub.add_parser("index", help="index these files now")
    ix.add_argument("files", nargs="+")
    ix.add_argument(
        "--settle", type=float, default=10.0, help="seconds a file must be unchanged (10)"
    )
    ix.set_defaults(func=cmd_index)
    pg = sub.add_parser("purge", help="remove old recordings (legal holds are kept)")
    pg.add_argument("--older-than", type=int, required=True, metavar="DAYS")
    pg.add_argument("--dry-run", action="store_true", help="only list what would go")
    pg.set_defaults(func=cmd_purge)
