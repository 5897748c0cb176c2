"""One timeline for a ticket: its events, calls (with their recordings), dispatches,
company updates, revisit calls, revisits and text messages, merged in time order.

Pure: :func:`merge` takes the rows (ORM objects or anything with the same attributes)
and returns entries; :mod:`cti.tickets.read` loads the rows. Text is kept verbatim (the
page escapes it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class Kind:
    EVENT = "event"
    COMPANY = "company"  # a ticket event written by a company account
    CALL = "call"
    OUTBOUND = "outbound"
    DISPATCH = "dispatch"
    REVISIT = "revisit"
    SMS = "sms"


#: For entries at the same moment: the call first, then what was done on it.
_ORDER = {
    Kind.CALL: 0,
    Kind.OUTBOUND: 1,
    Kind.EVENT: 2,
    Kind.COMPANY: 2,
    Kind.DISPATCH: 3,
    Kind.REVISIT: 4,
    Kind.SMS: 5,
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class RecordingRef:
    id: int
    duration_ms: int
    #: The viewer may play it (the recordings' own scope rules); else it is only listed.
    playable: bool


@dataclass(frozen=True, slots=True)
class Entry:
    at: datetime | None
    kind: str
    title: str
    actor: str = ""
    note: str = ""
    facts: tuple[tuple[str, str], ...] = ()
    recordings: tuple[RecordingRef, ...] = field(default=())
    #: A stable key for ties (the row's id within its kind).
    key: int = 0


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _sort_key(entry: Entry) -> tuple[datetime, int, int]:
    return (entry.at or _EPOCH, _ORDER.get(entry.kind, 9), entry.key)


def event_entry(event: Any, companies: Mapping[int, str]) -> Entry:
    moved = event.from_status != event.to_status
    if event.kind == "note":
        title = "Note"
    elif event.kind == "create":
        title = "Created"
    elif moved:
        title = f"{event.kind}: {event.from_status or '—'} → {event.to_status}"
    else:
        title = event.kind
    company = companies.get(event.company_id) if event.company_id is not None else None
    actor = f"{event.actor_name} ({event.actor_role})"
    if company:
        actor = f"{event.actor_name} for {company}"
    return Entry(
        at=event.at,
        kind=Kind.COMPANY if event.company_id is not None else Kind.EVENT,
        title=title,
        actor=actor,
        note=event.note or "",
        key=event.id or 0,
    )


def call_entry(call: Any, recordings: Iterable[RecordingRef], revisit_call: bool) -> Entry:
    facts = [
        ("number", call.caller_number or "withheld"),
        ("disposition", call.disposition or "—"),
    ]
    if call.agent_interface:
        facts.append(("agent phone", call.agent_interface))
    if call.talk_s is not None:
        facts.append(("talk", f"{call.talk_s} s"))
    return Entry(
        at=call.started_at,
        kind=Kind.CALL,
        title="Revisit call" if revisit_call else "Call",
        facts=tuple(facts),
        recordings=tuple(recordings),
        key=call.id or 0,
    )


def outbound_entry(outbound: Any, agents: Mapping[int, str]) -> Entry:
    facts = [("number", outbound.number), ("status", outbound.status)]
    if outbound.failure:
        facts.append(("failure", outbound.failure))
    return Entry(
        at=outbound.started_at,
        kind=Kind.OUTBOUND,
        title=f"Click-to-call ({outbound.purpose})",
        actor=agents.get(outbound.agent_id, ""),
        facts=tuple(facts),
        key=outbound.id or 0,
    )


def dispatch_entry(dispatch: Any, companies: Mapping[int, str], agents: Mapping[int, str]) -> Entry:
    facts = [
        ("status", dispatch.status),
        ("accept by", _when(dispatch.accept_by)),
        ("finish by", _when(dispatch.finish_by)),
    ]
    for label, value in (
        ("accepted", dispatch.accepted_at),
        ("declined", dispatch.declined_at),
        ("started", dispatch.started_at),
        ("done", dispatch.done_at),
        ("withdrawn", dispatch.withdrawn_at),
        ("flagged late to accept", dispatch.accept_late_flagged_at),
        ("flagged late to finish", dispatch.finish_late_flagged_at),
    ):
        if value is not None:
            facts.append((label, _when(value)))
    notes = [n for n in (dispatch.decline_reason, dispatch.done_note) if n]
    company = companies.get(dispatch.company_id, f"company {dispatch.company_id}")
    who = "automatically" if dispatch.automatic else agents.get(dispatch.dispatched_by, "")
    return Entry(
        at=dispatch.dispatched_at,
        kind=Kind.DISPATCH,
        title=f"Dispatched to {company}",
        actor=who,
        note="\n".join(notes),
        facts=tuple(facts),
        key=dispatch.id or 0,
    )


def revisit_entry(revisit: Any, companies: Mapping[int, str], agents: Mapping[int, str]) -> Entry:
    facts = [
        ("satisfaction", f"{revisit.satisfaction}/5"),
        ("service done", "yes" if revisit.service_done else "no"),
        ("channel", revisit.channel),
    ]
    if revisit.company_id is not None:
        facts.append(("company", companies.get(revisit.company_id, str(revisit.company_id))))
    if revisit.complaint:
        upheld = {None: "not reviewed", True: "upheld", False: "not upheld"}
        facts.append(("complaint", upheld[revisit.complaint_upheld]))
    return Entry(
        at=revisit.at,
        kind=Kind.REVISIT,
        title="Revisit",
        actor=agents.get(revisit.agent_id, "") if revisit.agent_id is not None else "",
        note=revisit.comment or "",
        facts=tuple(facts),
        key=revisit.id or 0,
    )


def sms_in_entry(message: Any) -> Entry:
    return Entry(
        at=message.received_at,
        kind=Kind.SMS,
        title=f"Text message from {message.sender_raw}",
        note=message.text,
        facts=(("outcome", message.outcome), ("gateway id", message.gateway_id)),
        key=message.id or 0,
    )


def sms_out_entry(message: Any) -> Entry:
    facts = [("kind", message.kind.replace("_", " ")), ("status", message.status)]
    if message.attempts:
        facts.append(("attempts", str(message.attempts)))
    if message.last_error:
        facts.append(("error", message.last_error))
    return Entry(
        at=message.sent_at or message.created_at,
        kind=Kind.SMS,
        title=f"Text message to {message.recipient or '—'}",
        note=message.text or "",
        facts=tuple(facts),
        key=message.id or 0,
    )


def merge(
    *,
    events: Iterable[Any] = (),
    calls: Iterable[Any] = (),
    recordings: Mapping[int, list[RecordingRef]] | None = None,
    revisit_call_ids: frozenset[int] = frozenset(),
    outbound: Iterable[Any] = (),
    dispatches: Iterable[Any] = (),
    revisits: Iterable[Any] = (),
    companies: Mapping[int, str] | None = None,
    agents: Mapping[int, str] | None = None,
    texts_in: Iterable[Any] = (),
    texts_out: Iterable[Any] = (),
) -> list[Entry]:
    """Every row as an entry, oldest first (a row without a time, e.g. a call placeholder
    the AGI writer has not filled in yet, sorts first). A text added to the ticket as an
    event is shown once, as the text (the event is named by ``event_id``)."""
    companies = companies or {}
    agents = agents or {}
    recordings = recordings or {}
    texts_in = list(texts_in)
    shown_as_text = {m.event_id for m in texts_in if m.event_id is not None}
    entries = [event_entry(e, companies) for e in events if e.id not in shown_as_text]
    entries += [sms_in_entry(m) for m in texts_in] + [sms_out_entry(m) for m in texts_out]
    entries += [call_entry(c, recordings.get(c.id, []), c.id in revisit_call_ids) for c in calls]
    entries += [outbound_entry(o, agents) for o in outbound]
    entries += [dispatch_entry(d, companies, agents) for d in dispatches]
    entries += [revisit_entry(r, companies, agents) for r in revisits]
    return sorted(entries, key=_sort_key)
