"""``python -m cti.agi run | journal status | journal drain`` (same as ``cti agi ...``)."""

from __future__ import annotations

import argparse
import sys

from cti import logs
from cti.agi.cli import register
from cti.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cti.agi")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["agi", *(sys.argv[1:] if argv is None else argv)])
    settings = Settings()
    logs.configure(settings.log_level, settings.log_json and not sys.stderr.isatty())
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
