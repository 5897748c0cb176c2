"""The screen-pop: which agent sees which caller, and what the pop shows.

* ``PopBook`` (pure) decides: one pop per call per agent, whatever the reconnects. Its
  identity is ``pop_id = node:linkedid:agent_interface`` -- deterministic, so a pop shown
  again after a restart of the backend (the tracker re-offers calls still ringing) has the
  same id and the browser replaces rather than duplicates it. It keeps the pops pending per
  agent interface, so a reconnecting browser gets what is still ringing or in progress.
* ``lookup_caller`` asks Postgres about the caller: normalised number -> citizens (with
  their flags), their last calls, open tickets.
* ``build_pop`` makes the JSON payload; caller-supplied text is data (the page renders
  it as text), and the payload is trimmed to fit a Postgres NOTIFY.
* ``ScreenPop`` ties them together for the bus: ``handle(event)`` for each domain event,
  ``pending(agent_interface)`` for a browser that (re)connects.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, not_, select, union
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import raiseload

from cti.ami.events import (
    CallAnswered,
    CallEnded,
    CallOffered,
    CallOfferWithdrawn,
    DomainEvent,
)
from cti.store.calls import Call
from cti.store.citizens import Citizen, CitizenPhone
from cti.store.tickets import OPEN_STATUSES, Ticket

log = logging.getLogger(__name__)

#: Postgres NOTIFY payloads must stay under 8000 bytes (cti.bus); leave room for the
#: envelope the bus adds around the pop.
MAX_POP_BYTES = 7000
LAST_CALLS = 5
OPEN_TICKETS = 10
MAX_CITIZENS = 5
_TEXT = 200  # characters of free text (notes, ticket descriptions) in a pop

RINGING = "ringing"
ANSWERED = "answered"


def pop_id(node: str, linkedid: str, agent_interface: str) -> str:
    return f"{node}:{linkedid}:{agent_interface}"


@dataclass(slots=True)
class Pop:
    pop_id: str
    offer: CallOffered
    state: str = RINGING
    #: The looked-up payload once ready (``ScreenPop`` fills it).
    payload: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class PopAction:
    """What to do on one agent's screen. ``kind``: ``show`` (look the caller up and pop),
    ``withdraw`` (the phone stopped ringing: ``reason``), ``answered`` (keep it, the agent
    took the call), ``ended`` (the call is over; the agent may still be writing)."""

    kind: str
    pop_id: str
    agent_interface: str
    reason: str | None = None
    pop: Pop | None = None


@dataclass(slots=True)
class PopBook:
    """Pure bookkeeping of pops; no I/O.

    Promises: ``show`` at most once per (node, linkedid, agent) while that pop is pending
    (a duplicate ``call_offered`` -- replay, reconnect -- gives nothing); ``withdraw`` only
    for a pending pop; ``answered`` keeps the pop pending for that agent until
    ``call_ended``, which closes every pop of the call.
    """

    _pops: dict[str, Pop] = field(default_factory=dict)

    def apply(self, event: DomainEvent) -> list[PopAction]:
        if isinstance(event, CallOffered):
            key = pop_id(event.node, event.linkedid, event.agent_interface)
            if key in self._pops:
                return []
            pop = self._pops[key] = Pop(key, event)
            return [PopAction("show", key, event.agent_interface, pop=pop)]
        if isinstance(event, CallOfferWithdrawn):
            key = pop_id(event.node, event.linkedid, event.agent_interface)
            pop = self._pops.get(key)
            if pop is None or pop.state != RINGING:
                return []
            del self._pops[key]
            return [PopAction("withdraw", key, event.agent_interface, reason=event.reason)]
        if isinstance(event, CallAnswered):
            key = pop_id(event.node, event.linkedid, event.agent_interface)
            pop = self._pops.get(key)
            if pop is None or pop.state != RINGING:
                return []
            pop.state = ANSWERED
            return [PopAction("answered", key, event.agent_interface, pop=pop)]
        if isinstance(event, CallEnded):
            out = []
            for key, pop in list(self._pops.items()):
                if pop.offer.node == event.node and pop.offer.linkedid == event.linkedid:
                    del self._pops[key]
                    kind = "ended" if pop.state == ANSWERED else "withdraw"
                    reason = None if kind == "ended" else "ended"
                    out.append(PopAction(kind, key, pop.offer.agent_interface, reason=reason))
            return out
        return []

    def pending(self, agent_interface: str) -> list[Pop]:
        """Pops still ringing or answered on this interface, oldest first."""
        pops = [p for p in self._pops.values() if p.offer.agent_interface == agent_interface]
        return sorted(pops, key=lambda p: p.offer.at)

    def get(self, key: str) -> Pop | None:
        return self._pops.get(key)

    def __len__(self) -> int:
        return len(self._pops)


# --- lookup -----------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _cut(text: str | None, limit: int = _TEXT) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "\u2026"


async def lookup_caller(
    session_factory: async_sessionmaker[AsyncSession],
    offer: CallOffered,
    *,
    last_calls: int = LAST_CALLS,
    open_tickets: int = OPEN_TICKETS,
) -> dict[str, Any]:
    """What the hotline knows about the caller of ``offer``.

    Returns ``{"known", "citizens", "last_calls", "open_tickets"}``: the citizens whose
    phone (stored normalised) is the caller's number, with their flags; the last calls from
    that number (this call excluded); the open tickets (``OPEN_STATUSES``) of those citizens
    or of calls from that number. A withheld or invalid number (``""``) is not looked up.
    Only parameterised queries; nothing from the caller becomes SQL text.
    """
    empty: dict[str, Any] = {"known": False, "citizens": [], "last_calls": [], "open_tickets": []}
    number = offer.caller_number
    if not number:
        return empty
    async with session_factory() as session:
        rows = (
            await session.execute(
                select(Citizen, CitizenPhone.label)
                .join(CitizenPhone, CitizenPhone.citizen_id == Citizen.id)
                # Citizen.phones loads eagerly by default: one more round trip, unused here.
                .options(raiseload(Citizen.phones))
                .where(CitizenPhone.number == number)
                .order_by(Citizen.id)
                .limit(MAX_CITIZENS)
            )
        ).all()
        citizen_ids = [citizen.id for citizen, _ in rows]
        calls = (
            await session.scalars(
                select(Call)
                .where(
                    Call.caller_number == number,
                    not_(and_(Call.node == offer.node, Call.linkedid == offer.linkedid)),
                )
                .order_by(Call.started_at.desc().nulls_last(), Call.id.desc())
                .limit(last_calls)
            )
        ).all()
        # The caller's tickets are the union of two index look-ups (by citizen, by the
        # calls from the number). Written as one OR, Postgres cannot use either index and
        # scans every ticket: 15 ms per pop at 30,000 tickets, growing with the table.
        mine = select(Ticket.id).join(Call, Call.id == Ticket.call_id)
        mine = mine.where(Call.caller_number == number)
        if citizen_ids:
            mine = union(mine, select(Ticket.id).where(Ticket.citizen_id.in_(citizen_ids)))
        tickets = (
            await session.scalars(
                select(Ticket)
                .where(
                    Ticket.id.in_(mine.scalar_subquery()),
                    Ticket.status.in_([s.value for s in OPEN_STATUSES]),
                )
                .order_by(Ticket.created_at.desc(), Ticket.id.desc())
                .limit(open_tickets)
            )
        ).all()
    return {
        "known": bool(rows),
        "citizens": [
            {
                "id": citizen.id,
                "name": citizen.name,
                "address": _cut(citizen.address),
                "county_id": citizen.county_id,
                "notes": _cut(citizen.notes),
                "flags": list(citizen.flags or []),
                "phone_label": label,
            }
            for citizen, label in rows
        ],
        "last_calls": [
            {
                "id": call.id,
                "started_at": _iso(call.started_at),
                "disposition": call.disposition,
                "did": call.did,
                "queue": call.queue,
                "agent_interface": call.agent_interface,
                "wait_s": call.wait_s,
                "talk_s": call.talk_s,
            }
            for call in calls
        ],
        "open_tickets": [
            {
                "id": ticket.id,
                "number": ticket.number,
                "status": ticket.status,
                "citizen_id": ticket.citizen_id,
                "category_id": ticket.category_id,
                "created_at": _iso(ticket.created_at),
                "description": _cut(ticket.description),
            }
            for ticket in tickets
        ],
    }


def build_pop(pop: Pop, lookup: dict[str, Any], max_bytes: int = MAX_POP_BYTES) -> dict[str, Any]:
    """The JSON-able pop for one agent. If it would not fit in ``max_bytes`` of JSON, the
    oldest tickets and calls are dropped first and ``truncated`` is set."""
    offer = pop.offer
    payload: dict[str, Any] = {
        "pop_id": pop.pop_id,
        "state": pop.state,
        "node": offer.node,
        "linkedid": offer.linkedid,
        "uniqueid": offer.uniqueid,
        "agent_interface": offer.agent_interface,
        "queue": offer.queue,
        "county": offer.county,
        "did": offer.did,
        "offered_at": _iso(offer.at),
        "caller": {
            "number": offer.caller_number,
            "name": offer.caller_name,
            "withheld": not offer.caller_number,
        },
        "known": lookup.get("known", False),
        "citizens": list(lookup.get("citizens", [])),
        "last_calls": list(lookup.get("last_calls", [])),
        "open_tickets": list(lookup.get("open_tickets", [])),
        "lookup_failed": bool(lookup.get("lookup_failed", False)),
        "truncated": False,
    }

    def size() -> int:
        return len(json.dumps(payload, ensure_ascii=False, default=str).encode())

    while size() > max_bytes:
        payload["truncated"] = True
        for key in ("open_tickets", "last_calls", "citizens"):
            if payload[key]:
                payload[key].pop()
                break
        else:
            payload["caller"]["name"] = _cut(payload["caller"]["name"], 80)
            break
    return payload


# --- wiring -----------------------------------------------------------------------------

Push = Callable[[str, dict[str, Any]], Awaitable[None]]


class ScreenPop:
    """Turns domain events into messages for agents' browsers.

    ``push(agent_interface, message)`` delivers one message to that agent's open sessions
    (``cti.ami.relay`` puts them on the bus for ``cti.web.hub``). Messages:
    ``{"type": "pop", "pop_id", "pop": payload}``, ``{"type": "withdraw", "pop_id",
    "reason"}``, ``{"type": "answered", "pop_id"}``, ``{"type": "ended", "pop_id"}``.
    Caller lookups run concurrently so a slow database never holds up a withdrawal; a
    pop withdrawn before its lookup finished is not pushed.
    If the lookup fails the pop is still pushed, with ``lookup_failed`` set.
    """

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        push: Push,
        book: PopBook | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.push = push
        self.book = book if book is not None else PopBook()
        self._lookups: set[asyncio.Task[None]] = set()

    async def handle(self, event: DomainEvent) -> None:
        for action in self.book.apply(event):
            if action.kind == "show":
                assert action.pop is not None
                task = asyncio.create_task(self._show(action.pop))
                self._lookups.add(task)
                task.add_done_callback(self._lookups.discard)
            elif action.kind == "withdraw":
                await self.push(
                    action.agent_interface,
                    {"type": "withdraw", "pop_id": action.pop_id, "reason": action.reason},
                )
            else:
                if action.pop is not None and action.pop.payload is not None:
                    action.pop.payload["state"] = action.pop.state
                await self.push(
                    action.agent_interface, {"type": action.kind, "pop_id": action.pop_id}
                )

    async def _show(self, pop: Pop) -> None:
        try:
            lookup = await lookup_caller(self.session_factory, pop.offer)
        except (SQLAlchemyError, OSError):
            log.exception("caller lookup failed; popping without history")
            lookup = {"lookup_failed": True}
        if self.book.get(pop.pop_id) is not pop:
            return  # withdrawn (or ended) while we looked the caller up
        pop.payload = build_pop(pop, lookup)
        await self.push(
            pop.offer.agent_interface,
            {"type": "pop", "pop_id": pop.pop_id, "pop": pop.payload},
        )

    def pending(self, agent_interface: str) -> list[dict[str, Any]]:
        """Payloads of the pops still pending for a (re)connecting browser."""
        return [p.payload for p in self.book.pending(agent_interface) if p.payload is not None]

    async def drain(self) -> None:
        """Wait for the lookups in flight (tests, shutdown)."""
        while self._lookups:
            await asyncio.gather(*list(self._lookups), return_exceptions=True)
