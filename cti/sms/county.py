"""Which county a text's new ticket belongs to: the citizen's county; else where the
routing rules would send a call from that number to the number texted (the county's DID,
its caller-prefix rules, the all-DIDs prefixes); else the rules' default county; else none
(the ticket waits for centre-wide staff to triage it)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.numbers import NumberPlan
from cti.routing.decide import DidEntry, Target, caller_number, compile_table, match
from cti.routing.repo import load_catalog, load_rules
from cti.store.citizens import Citizen
from cti.store.counties import County


async def county_for(
    db: AsyncSession,
    *,
    citizen: Citizen | None,
    sender_raw: str,
    sender_key: str,
    recipient_raw: str,
    plan: NumberPlan,
) -> str | None:
    """The county code for a ticket opened by this text (None: no county, triage)."""
    if citizen is not None and citizen.county_id is not None:
        code = await db.scalar(
            select(County.code).where(County.id == citizen.county_id, County.retired_at.is_(None))
        )
        if code:
            return code
    rules = await load_rules(db)
    table = compile_table(rules, await load_catalog(db))
    did = caller_number(recipient_raw)
    entry = table.dids.get(did) or table.dids.get(did.removeprefix("+" + plan.country_code))
    if entry is None:
        # Not one of our DIDs (or the gateway did not say): the all-DIDs prefixes, then the
        # default county, as for a DID without a county of its own.
        entry = DidEntry("", Target(rules.default_county or "", "default_county"), {}, 0)
    # Prefix rules are written against the number as trunks deliver it: try it as the
    # gateway sent it, then in the national form with the trunk prefix (0551...).
    forms = [sender_raw, f"{plan.trunk_prefix}{sender_key}" if sender_key[:1] != "+" else ""]
    for form in forms:
        target = match(table, entry, form) if form else entry.fallback
        if target is not entry.fallback:
            return target.county
    return entry.fallback.county or None
