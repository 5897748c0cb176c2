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
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg
from sqlalchemy import ARRAY, String, bindparam, text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.ami.events import (
    CallAnswered,
    CallEnded,
    CallOffered,
    CallOfferWithdrawn,
    DomainEvent,
    NodeResynced,
)
from cti.store.tickets import OPEN_STATUSES

if TYPE_CHECKING:
    from cti.ami.popstore import PopRecord

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
ENDED = "ended"


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
    #: (node, linkedid) -> its pops' ids, oldest first: a call's end finds its pops
    #: without a scan of every pending pop (~600 at 100 calls/s).
    _by_call: dict[tuple[str, str], dict[str, None]] = field(default_factory=dict)

    def _add(self, pop: Pop) -> None:
        self._pops[pop.pop_id] = pop
        self._by_call.setdefault((pop.offer.node, pop.offer.linkedid), {})[pop.pop_id] = None

    def _drop(self, key: str) -> Pop:
        pop = self._pops.pop(key)
        call = (pop.offer.node, pop.offer.linkedid)
        ids = self._by_call[call]
        del ids[key]
        if not ids:
            del self._by_call[call]
        return pop

    def apply(self, event: DomainEvent) -> list[PopAction]:
        if isinstance(event, CallOffered):
            key = pop_id(event.node, event.linkedid, event.agent_interface)
            if key in self._pops:
                return []
            pop = Pop(key, event)
            self._add(pop)
            return [PopAction("show", key, event.agent_interface, pop=pop)]
        if isinstance(event, CallOfferWithdrawn):
            key = pop_id(event.node, event.linkedid, event.agent_interface)
            pop = self._pops.get(key)
            if pop is None or pop.state != RINGING:
                return []
            self._drop(key)
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
            for key in list(self._by_call.get((event.node, event.linkedid), ())):
                pop = self._drop(key)
                kind = "ended" if pop.state == ANSWERED else "withdraw"
                reason = None if kind == "ended" else "ended"
                out.append(PopAction(kind, key, pop.offer.agent_interface, reason=reason, pop=pop))
            return out
        if isinstance(event, NodeResynced):
            return self._reconcile(event)
        return []

    def _reconcile(self, event: NodeResynced) -> list[PopAction]:
        """After a resync, pops of the node that Asterisk no longer rings or connects
        (made before this process restarted, or missed while it was away) are withdrawn,
        or ended if they were answered; one answered meanwhile is marked answered."""
        live = {(linkedid, interface): state for linkedid, interface, state in event.live}
        out = []
        for key, pop in list(self._pops.items()):
            if pop.offer.node != event.node:
                continue
            now = live.get((pop.offer.linkedid, pop.offer.agent_interface))
            interface = pop.offer.agent_interface
            if now is None:
                self._drop(key)
                if pop.state == ANSWERED:
                    out.append(PopAction("ended", key, interface, pop=pop))
                else:
                    out.append(PopAction("withdraw", key, interface, reason="vanished"))
            elif now == ANSWERED and pop.state == RINGING:
                pop.state = ANSWERED
                out.append(PopAction("answered", key, interface, pop=pop))
        return out

    def restore(self, pop: Pop) -> bool:
        """Take back a pop made before a restart (``pop.payload`` already shown); False
        if the book already holds one with that id."""
        if pop.pop_id in self._pops:
            return False
        self._add(pop)
        return True

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


#: The whole lookup as one statement, run on the pooled connection's asyncpg driver: one
#: round trip, no transaction, no ORM or result processing. (The ORM version -- three
#: queries in a transaction -- cost ~7 ms per pop on this machine, most of it Python; this
#: ~1 ms, pool check-out included.) Only bound parameters; nothing from the caller becomes
#: SQL text. Times are rendered in UTC by Postgres and tagged ``+00:00`` here, whatever the
#: server's TimeZone.
_LOOKUP = text(
    """
WITH cz AS (
    SELECT c.id, c.name, c.address, c.county_id, c.notes, c.flags, p.label AS phone_label
    FROM citizen_phones p JOIN citizens c ON c.id = p.citizen_id
    WHERE p.number = :number
    ORDER BY c.id
    LIMIT :max_citizens
), lc AS (
    SELECT id, started_at, direction, disposition, did, queue, agent_interface, wait_s, talk_s
    FROM calls
    WHERE caller_number = :number AND NOT (node = :node AND linkedid = :linkedid)
    ORDER BY started_at DESC NULLS LAST, id DESC
    LIMIT :last_calls
), mine AS (
    -- Two index look-ups, not one OR (which can use neither index and scans every ticket).
    SELECT t.id FROM tickets t JOIN calls k ON k.id = t.call_id WHERE k.caller_number = :number
    UNION
    SELECT t.id FROM tickets t WHERE t.citizen_id IN (SELECT id FROM cz)
), ot AS (
    SELECT t.id, t.number, t.status, t.citizen_id, t.category_id, t.created_at, t.description
    FROM tickets t
    WHERE t.id IN (SELECT id FROM mine) AND t.status = ANY(:statuses)
    ORDER BY t.created_at DESC, t.id DESC
    LIMIT :open_tickets
)
SELECT
    (SELECT coalesce(json_agg(json_build_object(
        'id', id, 'name', name, 'address', address, 'county_id', county_id,
        'notes', notes, 'flags', coalesce(flags, '{}'), 'phone_label', phone_label
     ) ORDER BY id), '[]') FROM cz),
    (SELECT coalesce(json_agg(json_build_object(
        'id', id, 'started_at', started_at AT TIME ZONE 'UTC', 'direction', direction,
        'disposition', disposition, 'did', did, 'queue', queue,
        'agent_interface', agent_interface,
        'wait_s', wait_s, 'talk_s', talk_s
     ) ORDER BY started_at DESC NULLS LAST, id DESC), '[]') FROM lc),
    (SELECT coalesce(json_agg(json_build_object(
        'id', id, 'number', number, 'status', status, 'citizen_id', citizen_id,
        'category_id', category_id, 'created_at', created_at AT TIME ZONE 'UTC',
        'description', description
     ) ORDER BY created_at DESC, id DESC), '[]') FROM ot)
"""
).bindparams(
    bindparam("statuses", type_=ARRAY(String)),
)
_OPEN = [s.value for s in OPEN_STATUSES]
_COMPILED = _LOOKUP.compile(dialect=asyncpg_dialect())
_SQL = str(_COMPILED)
_ORDER = tuple(_COMPILED.positiontup or ())


def _utc(value: str | None) -> str | None:
    """A ``timestamp`` Postgres rendered in UTC (``2026-11-26T16:35:20.391897``) as the ISO
    8601 form ``datetime.isoformat`` gives for an aware UTC datetime."""
    return None if value is None else value + "+00:00"


def _json(value: Any) -> list[dict[str, Any]]:
    return json.loads(value) if isinstance(value, str | bytes) else list(value or [])


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
    """
    empty: dict[str, Any] = {"known": False, "citizens": [], "last_calls": [], "open_tickets": []}
    number = offer.caller_number
    if not number:
        return empty
    params = {
        "number": number,
        "node": offer.node,
        "linkedid": offer.linkedid,
        "max_citizens": MAX_CITIZENS,
        "last_calls": last_calls,
        "open_tickets": open_tickets,
        "statuses": _OPEN,
    }
    args = [params[name] for name in _ORDER]
    row = None
    for attempt in (1, 2):
        async with session_factory() as session:
            conn = await session.connection()
            driver = (await conn.get_raw_connection()).driver_connection
            try:
                row = await driver.fetchrow(_SQL, *args)
                break
            except (asyncpg.InterfaceError, asyncpg.PostgresError, OSError) as error:
                # The lookups' pool does not ping a connection before each use (that is
                # three more round trips per pop): one that died while pooled (Postgres
                # restarted, an idle connection killed) fails here instead, once. It is
                # dropped from the pool and the lookup runs again on a fresh one.
                if attempt == 2 or not _connection_lost(error):
                    raise
                await conn.invalidate()
    assert row is not None
    citizens, calls, tickets = (_json(v) for v in row)
    for citizen in citizens:
        citizen["address"] = _cut(citizen["address"])
        citizen["notes"] = _cut(citizen["notes"])
    for call in calls:
        call["started_at"] = _utc(call["started_at"])
    for ticket in tickets:
        ticket["created_at"] = _utc(ticket["created_at"])
        ticket["description"] = _cut(ticket["description"])
    return {
        "known": bool(citizens),
        "citizens": citizens,
        "last_calls": calls,
        "open_tickets": tickets,
    }


def _connection_lost(error: BaseException) -> bool:
    """Whether ``error`` says the connection is gone (not that the query was refused)."""
    if isinstance(error, asyncpg.InterfaceError | OSError):
        return True
    # 08: connection exception; 57P01-57P03: admin / crash shutdown, cannot connect now.
    state = str(getattr(error, "sqlstate", "") or "")
    return state.startswith("08") or state in ("57P01", "57P02", "57P03")


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


def _message(pop: Pop) -> dict[str, Any]:
    """The ``pop`` bus message of ``pop`` as the hub receives it (what is recorded)."""
    return {
        "type": "pop",
        "pop_id": pop.pop_id,
        "pop": pop.payload,
        "interface": pop.offer.agent_interface,
    }


def pop_of_message(message: dict[str, Any]) -> Pop | None:
    """The ``Pop`` a recorded ``pop`` message describes (None if it is not one)."""
    try:
        payload = message["pop"]
        caller = payload.get("caller") or {}
        offer = CallOffered(
            node=payload["node"],
            linkedid=payload["linkedid"],
            uniqueid=payload.get("uniqueid") or payload["linkedid"],
            caller_number=caller.get("number") or "",
            caller_name=caller.get("name"),
            did=payload.get("did"),
            county=payload.get("county"),
            queue=payload.get("queue"),
            agent_interface=payload["agent_interface"],
            at=datetime.fromisoformat(payload["offered_at"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        log.warning("unreadable recorded screen-pop skipped")
        return None
    state = payload.get("state")
    if state not in (RINGING, ANSWERED):
        return None
    return Pop(message["pop_id"], offer, state=state, payload=payload)


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
        record: PopRecord | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.push = push
        self.book = book if book is not None else PopBook()
        self.record = record
        self._lookups: set[asyncio.Task[None]] = set()
        self._restored: set[str] = set()

    async def handle(self, event: DomainEvent) -> None:
        if self.record is not None and event.node not in self._restored:
            # First event of this node since the process started: take back the pops it
            # had made (the resync that follows says which of them still ring or talk).
            self._restored.add(event.node)
            for message in await self.record.restore(event.node):
                pop = pop_of_message(message)
                if pop is not None:
                    self.book.restore(pop)
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
                if self.record is not None:
                    self.record.delete(action.pop_id)
            else:
                pop = action.pop
                if pop is not None and pop.payload is not None:
                    pop.payload["state"] = ENDED if action.kind == "ended" else pop.state
                await self.push(
                    action.agent_interface, {"type": action.kind, "pop_id": action.pop_id}
                )
                if self.record is not None and pop is not None and pop.payload is not None:
                    self.record.put(_message(pop))

    async def _show(self, pop: Pop) -> None:
        try:
            lookup = await lookup_caller(self.session_factory, pop.offer)
        except (SQLAlchemyError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.exception("caller lookup failed; popping without history")
            lookup = {"lookup_failed": True}
        ended = self.book.get(pop.pop_id) is not pop
        if ended and pop.state != ANSWERED:
            return  # withdrawn while we looked the caller up
        pop.payload = build_pop(pop, lookup)
        if ended:
            # Answered and over before the lookup came back (a short call, or one that
            # ended while the AMI link was down): the agent talked to this caller and
            # writes the ticket from the ended pop, so it is shown, as ended.
            pop.payload["state"] = ENDED
        await self.push(
            pop.offer.agent_interface,
            {"type": "pop", "pop_id": pop.pop_id, "pop": pop.payload},
        )
        if self.record is not None:
            self.record.put(_message(pop))

    def pending(self, agent_interface: str) -> list[dict[str, Any]]:
        """Payloads of the pops still pending for a (re)connecting browser."""
        return [p.payload for p in self.book.pending(agent_interface) if p.payload is not None]

    async def drain(self) -> None:
        """Wait for the lookups in flight (tests, shutdown)."""
        while self._lookups:
            await asyncio.gather(*list(self._lookups), return_exceptions=True)
