"""Rules in Postgres <-> ``RuleSet``: load, replace, and the catalog of counties/queues."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from cti.routing.render import VOICEMAIL_CONTEXT
from cti.routing.rules import (
    AfterHours,
    Catalog,
    CountyPolicy,
    DidRule,
    PrefixRule,
    RuleSet,
    Window,
)
from cti.store.counties import County
from cti.store.routing import RoutingCountyPolicy, RoutingDid, RoutingPrefix, RoutingSettings


def queues_in_conf(conf_dir: Path) -> frozenset[str]:
    """Queue sections of ``queues.conf`` in ``conf_dir`` (not templates, not general)."""
    path = conf_dir / "queues.conf"
    if not path.is_file():
        return frozenset()
    names = set()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.split(";", 1)[0].strip()
        if line.startswith("[") and "]" in line:
            name, _, rest = line[1:].partition("]")
            if name != "general" and "!" not in rest:
                names.add(name)
    return frozenset(names)


def mailboxes_in_conf(conf_dir: Path, context: str = VOICEMAIL_CONTEXT) -> frozenset[str]:
    """Mailbox numbers (``NUMBER => ...``) of ``[context]`` in ``conf_dir/voicemail.conf``."""
    path = conf_dir / "voicemail.conf"
    if not path.is_file():
        return frozenset()
    boxes, current = set(), None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.split(";", 1)[0].strip()
        if line.startswith("[") and "]" in line:
            current = line[1:].partition("]")[0]
        elif current == context and "=>" in line:
            number = line.partition("=>")[0].strip()
            if number.isdigit():
                boxes.add(number)
    return frozenset(boxes)


async def load_catalog(session: AsyncSession, conf_dir: Path | None = None) -> Catalog:
    rows = (await session.execute(select(County.code, County.queue_name, County.retired_at))).all()
    extra = queues_in_conf(conf_dir) if conf_dir is not None else frozenset()
    boxes = mailboxes_in_conf(conf_dir) if conf_dir is not None else None
    return Catalog(
        counties={code: queue for code, queue, _ in rows},
        extra_queues=extra,
        mailboxes=boxes,
        retired=frozenset(code for code, _, retired_at in rows if retired_at is not None),
    )


async def load_rules(session: AsyncSession) -> RuleSet:
    codes = dict((await session.execute(select(County.id, County.code))).all())
    settings = await session.get(RoutingSettings, 1)
    dids = (await session.scalars(select(RoutingDid).order_by(RoutingDid.position))).all()
    prefixes = (await session.scalars(select(RoutingPrefix).order_by(RoutingPrefix.position))).all()
    policies = (
        await session.execute(
            select(RoutingCountyPolicy, County.code)
            .join(County, County.id == RoutingCountyPolicy.county_id)
            .order_by(County.code)
        )
    ).all()
    return RuleSet(
        default_county=codes.get(settings.default_county_id) if settings else None,
        dids=tuple(
            DidRule(did=r.did, county=codes.get(r.county_id) if r.county_id else None) for r in dids
        ),
        prefixes=tuple(
            PrefixRule(prefix=r.prefix, county=codes[r.county_id], did=r.did) for r in prefixes
        ),
        counties=tuple(_policy(row, code) for row, code in policies),
    )


def _policy(row: RoutingCountyPolicy, code: str) -> CountyPolicy:
    after = None
    if row.after_hours_action:
        after = AfterHours(
            action=row.after_hours_action,  # type: ignore[arg-type]
            mailbox=row.after_hours_mailbox,
            queue=row.after_hours_queue,
        )
    return CountyPolicy.model_validate(
        {
            "county": code,
            "timezone": row.timezone,
            "hours": tuple(
                Window.model_validate({**w, "days": tuple(w["days"])}) for w in row.hours
            ),
            "holidays": list(row.holidays),
            "after_hours": after,
            "overflow_queue": row.overflow_queue,
            "overflow_when_empty": row.overflow_when_empty,
            "overflow_after_s": row.overflow_after_s,
        }
    )


async def save_rules(session: AsyncSession, rules: RuleSet) -> None:
    """Replace every stored rule with ``rules`` (a *checked* set), in the caller's
    transaction."""
    ids = dict((await session.execute(select(County.code, County.id))).all())
    await session.execute(delete(RoutingPrefix))
    await session.execute(delete(RoutingDid))
    await session.execute(delete(RoutingCountyPolicy))
    default_id = ids[rules.default_county] if rules.default_county else None
    stmt = insert(RoutingSettings).values(id=1, default_county_id=default_id)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[RoutingSettings.id], set_={"default_county_id": default_id}
        )
    )
    if rules.dids:
        await session.execute(
            insert(RoutingDid),
            [
                {"did": r.did, "county_id": ids[r.county] if r.county else None, "position": i}
                for i, r in enumerate(rules.dids)
            ],
        )
    if rules.prefixes:
        await session.execute(
            insert(RoutingPrefix),
            [
                {"prefix": r.prefix, "did": r.did, "county_id": ids[r.county], "position": i}
                for i, r in enumerate(rules.prefixes)
            ],
        )
    if rules.counties:
        await session.execute(
            insert(RoutingCountyPolicy), [_policy_row(p, ids) for p in rules.counties]
        )
    await session.flush()


def _policy_row(policy: CountyPolicy, ids: dict[str, int]) -> dict[str, Any]:
    after = policy.after_hours
    return {
        "county_id": ids[policy.county],
        "timezone": policy.timezone,
        "hours": [w.model_dump(mode="json") for w in policy.hours],
        "holidays": [d.isoformat() for d in policy.holidays],
        "after_hours_action": after.action if after else None,
        "after_hours_mailbox": after.mailbox if after else None,
        "after_hours_queue": after.queue if after else None,
        "overflow_queue": policy.overflow_queue,
        "overflow_when_empty": policy.overflow_when_empty,
        "overflow_after_s": policy.overflow_after_s,
    }
