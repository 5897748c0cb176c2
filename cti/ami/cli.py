"""``cti ami ...`` sub-commands. ``cti/cli.py`` calls ``register`` once."""

from __future__ import annotations

import argparse
import sys

from cti.ami.replay import read_stream, replay, strip_comment_header, write_json_lines


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``cti ami replay FILE [--node NAME]``."""
    ami = subparsers.add_parser("ami", help="Asterisk Manager Interface tools")
    sub = ami.add_subparsers(dest="ami_cmd", required=True)
    rp = sub.add_parser(
        "replay",
        help="feed a captured AMI byte stream through the call tracker; "
        "print domain events as JSON lines",
    )
    rp.add_argument("file", help="raw AMI bytes as received from Asterisk ('-' for stdin)")
    rp.add_argument("--node", default="asterisk", help="node name to tag events with")
    rp.set_defaults(func=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    """Print one JSON object per domain event, in order. Exit 0; 1 if unreadable."""
    try:
        if args.file == "-":
            data = strip_comment_header(sys.stdin.buffer.read())
        else:
            data = read_stream(args.file)
    except OSError as exc:
        print(f"cti ami replay: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        write_json_lines(replay(data, args.node), sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:  # `cti ami replay FILE | head`: the reader has had enough
        sys.stdout = None  # type: ignore[assignment]  # no flush error at exit
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m cti.ami.cli replay FILE`` (the same as ``cti ami replay FILE``)."""
    parser = argparse.ArgumentParser(prog="cti")
    register(parser.add_subparsers(dest="cmd", required=True))
    args = parser.parse_args(["ami", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
