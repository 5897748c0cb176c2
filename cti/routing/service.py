"""Routing use cases over the database: edit rules, simulate, preview, apply, roll back.

The web API and the CLI both call these; each takes the session and commits itself when
it changes something, with an audit entry in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from cti.routing import repo, versions
from cti.routing.ami_client import RoutingAmi
from cti.routing.apply import AmiOpener, ApplyOutcome, Linter, QueuesPlan, apply_text
from cti.routing.decide import Decision, Table, compile_table, decide
from cti.routing.lint import lint as asterisklint
from cti.routing.queues import FILENAME as QUEUES_FILENAME
from cti.routing.queues import QueuesError, main_templates, render_queues
from cti.routing.render import FILENAME, Rendered, render
from cti.routing.rules import Catalog, RuleErrors, RuleSet, check
from cti.settings import Settings
from cti.store import audit
from cti.store.routing import RoutingVersion

#: pg_advisory lock key: one apply at a time, whichever process runs it.
APPLY_LOCK = 0x5C71_0005


class ApplyBusy(Exception):
    """Another apply is running."""


class NotConfigured(Exception):
    """No AMI credential for applying routing (CTI_ROUTING_AMI_URL)."""


class QueuesUnrenderable(RuleErrors):
    """The county queues cannot be rendered against ``queues.conf`` (e.g. it lost
    ``[county-template]``): not the rules' fault, but nothing can be applied either. One
    field, ``queues``."""


@dataclass(frozen=True, slots=True)
class Actor:
    id: int | None
    name: str
    ip: str | None = None


SYSTEM = Actor(None, "system")


@dataclass(slots=True)
class ApplyReport:
    version: RoutingVersion
    outcome: ApplyOutcome


class RoutingService:
    def __init__(
        self, conf_dir: Path, open_ami: AmiOpener | None, lint: Linter = asterisklint
    ) -> None:
        self.conf_dir = conf_dir
        self.open_ami = open_ami
        self.lint = lint

    # --- reading --------------------------------------------------------------------------

    async def catalog(self, session: AsyncSession) -> Catalog:
        return await repo.load_catalog(session, self.conf_dir)

    async def table(self, session: AsyncSession, rules: RuleSet | None = None) -> Table:
        catalog = await self.catalog(session)
        rules = check(rules or await repo.load_rules(session), catalog)
        return compile_table(rules, catalog)

    async def rules(self, session: AsyncSession) -> RuleSet:
        """The stored rules (what ``save`` wrote last), not necessarily applied yet."""
        return await repo.load_rules(session)

    async def history(
        self, session: AsyncSession, *, limit: int = 50, before_id: int | None = None
    ) -> list[RoutingVersion]:
        """Versions newest first; page with ``before_id`` (keyset)."""
        stmt = select(RoutingVersion).order_by(RoutingVersion.id.desc()).limit(limit)
        if before_id is not None:
            stmt = stmt.where(RoutingVersion.id < before_id)
        return list(await session.scalars(stmt))

    async def version(self, session: AsyncSession, version_id: int) -> RoutingVersion | None:
        return await session.get(RoutingVersion, version_id)

    async def render(self, session: AsyncSession, rules: RuleSet | None = None) -> Rendered:
        return render(await self.table(session, rules))

    async def render_queues(self, session: AsyncSession) -> QueuesPlan:
        """``queues_counties.conf`` for the counties in the database."""
        queues = frozenset((await self.catalog(session)).counties.values())
        try:
            return QueuesPlan(render_queues(queues, main_templates(self.conf_dir)), queues)
        except QueuesError as exc:  # e.g. queues.conf lost [county-template]
            raise QueuesUnrenderable(
                {"queues": f"cannot render the county queues: {exc}"}
            ) from None

    def live_queues_text(self) -> str:
        path = self.conf_dir / QUEUES_FILENAME
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""

    def live_text(self) -> str:
        path = self.conf_dir / FILENAME
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""

    async def preview(self, session: AsyncSession) -> dict[str, Any]:
        """What ``apply`` would do now, read only: the dialplan include the stored rules
        render to (top-level fields) and the county queues the counties render to
        (``queues``), each with its diff against the live file. ``reloads_queues``: the
        queues file differs, so apply would write it and reload app_queue (apply writes
        it only then). Raises ``RuleErrors`` for invalid rules and ``QueuesUnrenderable``
        when queues.conf cannot take the county queues, as apply would."""
        rendered = await self.render(session)
        queues = await self.render_queues(session)
        dialplan = _file_preview(self.live_text(), rendered.text, FILENAME)
        county_queues = _file_preview(self.live_queues_text(), queues.text, QUEUES_FILENAME)
        return {**dialplan, "queues": county_queues, "reloads_queues": county_queues["changed"]}

    async def simulate(
        self,
        session: AsyncSession,
        *,
        caller: str,
        did: str,
        at: datetime | None = None,
        empty_queues: frozenset[str] = frozenset(),
    ) -> Decision:
        return decide(
            await self.table(session), caller=caller, did=did, at=at, empty_queues=empty_queues
        )

    # --- changing rules ---------------------------------------------------------------------

    async def validate(self, session: AsyncSession, data: Any) -> RuleSet:
        return check(data, await self.catalog(session))

    async def save(self, session: AsyncSession, data: Any, actor: Actor) -> RuleSet:
        rules = await self.validate(session, data)
        await repo.save_rules(session, rules)
        audit.record(
            session,
            actor_id=actor.id,
            actor_name=actor.name,
            action="routing.rules.save",
            object_type="routing",
            detail={
                "dids": len(rules.dids),
                "prefixes": len(rules.prefixes),
                "counties": len(rules.counties),
                "default_county": rules.default_county,
            },
            ip=actor.ip,
        )
        await session.commit()
        return rules

    # --- applying ---------------------------------------------------------------------------

    async def apply(self, session: AsyncSession, actor: Actor) -> ApplyReport:
        """Apply the stored rules; every attempt becomes a version, success or not."""
        await self._lock(session)
        rules = await repo.load_rules(session)
        return await self._apply(session, rules, actor, rollback_of=None)

    async def rollback(self, session: AsyncSession, version_id: int, actor: Actor) -> ApplyReport:
        """Restore the rules of version ``version_id`` and apply them (a new version). The
        stored rules change only if the apply succeeds."""
        await self._lock(session)
        target = await session.get(RoutingVersion, version_id)
        if target is None:
            raise LookupError(f"no routing version {version_id}")
        rules = check(target.rules, await self.catalog(session))
        return await self._apply(session, rules, actor, rollback_of=target.id)

    async def _lock(self, session: AsyncSession) -> None:
        if self.open_ami is None:
            raise NotConfigured(
                "applying routing needs CTI_ROUTING_AMI_URL (the [cti_routing] AMI user)"
            )
        got = await session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": APPLY_LOCK}
        )
        if not got:
            raise ApplyBusy("another routing apply is running; try again when it has finished")

    async def _apply(
        self, session: AsyncSession, rules: RuleSet, actor: Actor, rollback_of: int | None
    ) -> ApplyReport:
        assert self.open_ami is not None
        try:
            rendered = await self.render(session, rules)
        except RuleErrors:
            raise
        queues = await self.render_queues(session)
        live = self.live_text()
        live_queues = self.live_queues_text()
        outcome = await apply_text(
            rendered.text, self.conf_dir, self.open_ami, lint=self.lint, queues=queues
        )
        if outcome.ok and rollback_of is not None:
            await repo.save_rules(session, rules)
        version = RoutingVersion(
            author_id=actor.id,
            author_name=actor.name,
            text=rendered.text,
            sha256=versions.sha256(rendered.text),
            queues_text=queues.text,
            diff=versions.unified_diff(live, rendered.text, f"previous/{FILENAME}", FILENAME)
            + versions.unified_diff(
                live_queues, queues.text, f"previous/{QUEUES_FILENAME}", QUEUES_FILENAME
            ),
            lint_output=outcome.lint.output,
            result="applied" if outcome.ok else "failed",
            error=outcome.error,
            rules=rules.as_data(),
            rollback_of=rollback_of,
        )
        session.add(version)
        await session.flush()
        audit.record(
            session,
            actor_id=actor.id,
            actor_name=actor.name,
            action="routing.rollback" if rollback_of is not None else "routing.apply",
            object_type="routing_version",
            object_id=version.id,
            detail={
                "result": version.result,
                "sha256": version.sha256,
                "error": outcome.error,
                "restored": outcome.restored,
                "rollback_of": rollback_of,
                "steps": outcome.steps,
                "queues_changed": outcome.queues_changed,
            },
            ip=actor.ip,
        )
        await session.commit()
        await session.refresh(version)
        return ApplyReport(version, outcome)


def _file_preview(live: str, text: str, name: str) -> dict[str, Any]:
    """A rendered file against the live one: text, fingerprints, diff, changed."""
    return {
        "text": text,
        "sha256": versions.sha256(text),
        "live_sha256": versions.sha256(live) if live else None,
        "diff": versions.unified_diff(live, text, f"live/{name}", name),
        "changed": live != text,
    }


def from_settings(settings: Settings) -> RoutingService:
    """The service for this install: its configuration folder and routing AMI user."""
    node = settings.routing_ami_node
    opener: AmiOpener | None = None
    if node is not None:

        def opener() -> RoutingAmi:
            return RoutingAmi(node)

    return RoutingService(settings.asterisk_conf_dir, opener)
