"""``cti routing ...`` sub-commands; ``cti/cli.py`` calls ``register`` once.

export / import FILE (YAML or JSON), render (prints the include), simulate (prints JSON),
apply (render, lint, write, reload, verify; rollback on failure).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from cti.routing.rules import RuleErrors, check_number


def _service():
    from cti.routing.service import from_settings
    from cti.settings import Settings

    return from_settings(Settings())


def _run(work) -> Any:
    from cti.settings import Settings
    from cti.store.db import with_session

    return with_session(Settings(), work)


def _errors(exc: RuleErrors) -> int:
    for path, message in exc.fields.items():
        print(f"cti routing: {path}: {message}", file=sys.stderr)
    return 1


def cmd_export(args: argparse.Namespace) -> int:
    from cti.routing import repo

    async def work(session: AsyncSession) -> dict[str, Any]:
        return (await repo.load_rules(session)).as_data()

    data = _run(work)
    text = (
        json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        if args.format == "json"
        else yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    )
    if args.file in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(args.file).write_text(text, encoding="utf-8")
    return 0


#: A rules file larger than this is refused before it is parsed (5,000 rules in YAML are
#: about 0.5 MB).
MAX_RULES_FILE = 16 * 1024 * 1024


class _RulesLoader(yaml.SafeLoader):
    """The safe loader without aliases: a rules file never needs one, and a few nested
    aliases (the "billion laughs") expand to more data than any machine holds as soon as
    the rules are walked."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a rules file", mark
            )
        return super().compose_node(parent, index)


def load_file(path: str) -> Any:
    """A rules file: JSON when it parses as JSON, else YAML (safe loader, no aliases).
    Raises ``ValueError`` for a file over ``MAX_RULES_FILE`` bytes."""
    if path == "-":
        raw = sys.stdin.read(MAX_RULES_FILE + 1)
    else:
        with Path(path).open(encoding="utf-8") as handle:
            raw = handle.read(MAX_RULES_FILE + 1)
    if len(raw) > MAX_RULES_FILE:
        raise ValueError(f"larger than {MAX_RULES_FILE:,} characters")
    try:
        return json.loads(raw)
    except ValueError:
        return yaml.load(raw, Loader=_RulesLoader)  # noqa: S506 (a SafeLoader subclass)


def cmd_import(args: argparse.Namespace) -> int:
    from cti.routing.service import SYSTEM

    try:
        data = load_file(args.file)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"cti routing import: cannot read {args.file}: {exc}", file=sys.stderr)
        return 1
    service = _service()

    async def work(session: AsyncSession):
        return await service.save(session, data, SYSTEM)

    try:
        rules = _run(work)
    except RuleErrors as exc:
        return _errors(exc)
    print(
        f"imported {len(rules.dids)} DID rules, {len(rules.prefixes)} prefix rules, "
        f"{len(rules.counties)} county settings (not applied yet: cti routing apply)"
    )
    return 0


def cmd_render(_: argparse.Namespace) -> int:
    service = _service()

    async def work(session: AsyncSession) -> str:
        return (await service.render(session)).text

    try:
        sys.stdout.write(_run(work))
    except RuleErrors as exc:
        return _errors(exc)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    service = _service()
    try:
        caller = check_number(args.caller, "caller") if args.caller else ""
        did = check_number(args.did, "did")
        at = datetime.fromisoformat(args.at) if args.at else datetime.now(UTC)
        if at.tzinfo is None:
            raise RuleErrors({"at": "give a UTC offset, e.g. 2027-01-04T09:30:00+08:00"})
    except RuleErrors as exc:
        return _errors(exc)
    except ValueError:
        print("cti routing: at: not an ISO time", file=sys.stderr)
        return 1

    async def work(session: AsyncSession):
        return await service.simulate(
            session, caller=caller, did=did, at=at, empty_queues=frozenset(args.empty_queue)
        )

    decision = _run(work)
    print(json.dumps(decision.as_data(), ensure_ascii=False, indent=2))
    return 0


def cmd_apply(_: argparse.Namespace) -> int:
    from cti.routing.service import SYSTEM, ApplyBusy, NotConfigured

    service = _service()

    async def work(session: AsyncSession):
        return await service.apply(session, SYSTEM)

    try:
        report = _run(work)
    except (NotConfigured, ApplyBusy) as exc:
        print(f"cti routing apply: {exc}", file=sys.stderr)
        return 1
    except RuleErrors as exc:
        return _errors(exc)
    version, outcome = report.version, report.outcome
    for step in outcome.steps:
        print(f"  {step}")
    if outcome.lint.output:
        print(outcome.lint.output)
    if outcome.ok:
        print(f"applied version {version.id} (sha256 {version.sha256})")
        return 0
    print(f"cti routing apply: version {version.id} FAILED: {outcome.error}", file=sys.stderr)
    return 1


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``routing`` command and its sub-commands."""
    routing = subparsers.add_parser("routing", help="county routing rules and the dialplan")
    sub = routing.add_subparsers(dest="routing_cmd", required=True)
    export = sub.add_parser("export", help="print the rules (YAML, or --format json)")
    export.add_argument("file", nargs="?", help="write here instead of standard output")
    export.add_argument("--format", choices=["yaml", "json"], default="yaml")
    export.set_defaults(func=cmd_export)
    imp = sub.add_parser("import", help="replace the rules with FILE (YAML or JSON, - = stdin)")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_import)
    sub.add_parser("render", help="print the extensions_routing.conf the rules give").set_defaults(
        func=cmd_render
    )
    sim = sub.add_parser("simulate", help="where would this call go? (prints JSON)")
    sim.add_argument("--caller", default="", help="the caller's number (empty: anonymous)")
    sim.add_argument("--did", required=True, help="the number dialled")
    sim.add_argument("--at", help="ISO time with offset (default: now)")
    sim.add_argument(
        "--empty-queue", action="append", default=[], help="a queue with no agent logged in"
    )
    sim.set_defaults(func=cmd_simulate)
    sub.add_parser(
        "apply", help="render, lint, write, reload Asterisk and verify (restore on failure)"
    ).set_defaults(func=cmd_apply)
