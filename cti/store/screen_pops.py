"""Screen-pops as the agents' screens should show them, kept across restarts.

The AMI side writes a row when it pops a call on an agent (the whole ``pop`` bus message),
updates it when the agent answers and when the call ends, and deletes it when the pop is
withdrawn. The API side reads an interface's rows when a browser (re)connects and marks a
row closed when the agent closes an ended pop -- made ended and closed, or inserted so,
when the AMI side's batched write of "ended" has not landed yet, since a closed row stays
closed whatever is written to it later. So a restart of either side, or a second API
process, knows which pops each agent should see: ringing, in call, or ended while the agent
may still be writing the ticket. Queries run on the pooled connection's asyncpg driver
(one round trip each): they sit on the screen-pop path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from cti.store.base import Base

RINGING, ANSWERED, ENDED = "ringing", "answered", "ended"
STATES = (RINGING, ANSWERED, ENDED)
#: A closed or ended pop older than this is deleted (nobody writes a ticket for 12 hours).
KEEP_HOURS = 12
#: A (re)loading browser gets at most this many ended pops, the newest (``cti.web.hub``
#: holds no more either).
MAX_ENDED = 20


class ScreenPopRow(Base):
    __tablename__ = "screen_pops"
    __table_args__ = (
        Index("ix_screen_pops_interface", "interface"),
        Index("ix_screen_pops_node", "node"),
    )

    #: ``node:linkedid:interface`` (``cti.ami.screenpop.pop_id``).
    pop_id: Mapped[str] = mapped_column(String(400), primary_key=True)
    node: Mapped[str] = mapped_column(String(100))
    linkedid: Mapped[str] = mapped_column(String(100))
    interface: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16))
    #: The ``pop`` bus message (``{"type": "pop", "pop_id", "pop", "interface"}``).
    message: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    closed_at: Mapped[datetime | None]


def _decoded(value: Any) -> dict[str, Any]:
    # SQLAlchemy's asyncpg dialect decodes jsonb itself; a bare asyncpg connection does not.
    return json.loads(value) if isinstance(value, str | bytes) else dict(value)


async def _driver(session: AsyncSession) -> Any:
    conn = await session.connection()
    return (await conn.get_raw_connection()).driver_connection


#: Deletes and upserts of one batch in one statement (atomic on its own: one round trip,
#: no BEGIN/COMMIT). A batch names each pop once, so the two parts touch different rows.
_WRITE = """
WITH gone AS (DELETE FROM screen_pops WHERE pop_id = ANY($8::text[]))
INSERT INTO screen_pops (pop_id, node, linkedid, interface, state, message, updated_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                     $6::jsonb[], $7::timestamptz[])
ON CONFLICT (pop_id) DO UPDATE
SET state = excluded.state, message = excluded.message, updated_at = excluded.updated_at
WHERE screen_pops.closed_at IS NULL
"""


async def write(
    session_factory: async_sessionmaker[AsyncSession],
    puts: Sequence[dict[str, Any]],
    deletes: Iterable[str],
    at: datetime,
) -> None:
    """Upsert ``puts`` (``pop`` bus messages, their ``pop.state`` the row's state) and
    delete the rows of ``deletes`` (no pop in both), all or nothing. A closed row is left
    closed."""
    deletes = list(deletes)
    async with session_factory() as session:
        driver = await _driver(session)
        await driver.execute(
            _WRITE,
            [m["pop_id"] for m in puts],
            [m["pop"]["node"] for m in puts],
            [m["pop"]["linkedid"] for m in puts],
            [m["interface"] for m in puts],
            [m["pop"]["state"] for m in puts],
            [json.dumps(m, ensure_ascii=False, default=str) for m in puts],
            [at] * len(puts),
            deletes,
        )


async def open_on_node(
    session_factory: async_sessionmaker[AsyncSession], node: str
) -> list[dict[str, Any]]:
    """The ``pop`` messages of ``node`` still ringing or in call, oldest first (what the
    AMI side had popped when it stopped); also forgets rows older than ``KEEP_HOURS``."""
    async with session_factory() as session:
        driver = await _driver(session)
        await driver.execute(
            "DELETE FROM screen_pops WHERE updated_at < now() - make_interval(hours => $1)",
            KEEP_HOURS,
        )
        rows = await driver.fetch(
            "SELECT message FROM screen_pops WHERE node = $1 AND state <> $2"
            " AND closed_at IS NULL ORDER BY updated_at",
            node,
            ENDED,
        )
    return [_decoded(r["message"]) for r in rows]


_FOR_INTERFACE = """
SELECT message FROM (
    SELECT p.message, p.state, p.updated_at,
           row_number() OVER (PARTITION BY p.state = 'ended' ORDER BY p.updated_at DESC) AS nth
    FROM screen_pops p
    WHERE p.interface = $1 AND p.closed_at IS NULL
      AND p.updated_at >= now() - make_interval(hours => $2)
      AND NOT (p.state = 'ended' AND EXISTS (
          SELECT 1 FROM tickets t JOIN calls k ON k.id = t.call_id
          WHERE k.node = p.node AND k.linkedid = p.linkedid))
) shown
WHERE state <> 'ended' OR nth <= $3
ORDER BY updated_at
"""


async def for_interface(
    session_factory: async_sessionmaker[AsyncSession], interface: str
) -> list[dict[str, Any]]:
    """The ``pop`` messages this interface should see now, oldest first: ringing, in call,
    and the newest ``MAX_ENDED`` ended ones the agent has not closed and no ticket was
    saved from."""
    async with session_factory() as session:
        driver = await _driver(session)
        rows = await driver.fetch(_FOR_INTERFACE, interface, KEEP_HOURS, MAX_ENDED)
    return [_decoded(r["message"]) for r in rows]


async def ticket_saved(
    session_factory: async_sessionmaker[AsyncSession], calls: Sequence[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Which of these (node, linkedid) calls a ticket was saved from."""
    if not calls:
        return set()
    async with session_factory() as session:
        driver = await _driver(session)
        rows = await driver.fetch(
            "SELECT k.node, k.linkedid FROM tickets t JOIN calls k ON k.id = t.call_id"
            " JOIN unnest($1::text[], $2::text[]) AS c(node, linkedid)"
            " ON k.node = c.node AND k.linkedid = c.linkedid",
            [c[0] for c in calls],
            [c[1] for c in calls],
        )
    return {(r["node"], r["linkedid"]) for r in rows}


_CLOSE = """
UPDATE screen_pops SET closed_at = now()
WHERE pop_id = $1 AND interface = $2 AND state = 'ended' AND closed_at IS NULL
"""

#: Close a pop the API side saw end, whatever its row says yet: the AMI side writes rows in
#: batches, so the row may still say ringing or answered, or not exist, and the write of
#: "ended" may land after the close. The row is made ended and closed now (inserted if
#: need be); ``_PUT`` leaves a closed row closed, so the late write cannot reopen it.
_CLOSE_ENDED = """
INSERT INTO screen_pops (pop_id, node, linkedid, interface, state, message, updated_at, closed_at)
VALUES ($1, $3, $4, $2, 'ended', $5::jsonb, now(), now())
ON CONFLICT (pop_id) DO UPDATE
SET state = 'ended', message = excluded.message, updated_at = now(), closed_at = now()
WHERE screen_pops.interface = excluded.interface AND screen_pops.closed_at IS NULL
"""


async def close(
    session_factory: async_sessionmaker[AsyncSession],
    pop_id: str,
    interface: str,
    ended: dict[str, Any] | None = None,
) -> bool:
    """Mark the agent's ended pop closed (it is not shown again). False when the row is
    not this interface's ended pop, or is closed already.

    ``ended`` is the pop's ``pop`` message in state ended, as the API side received it on
    the bus: given, the pop is closed even if its row does not say ended yet (the write
    of "ended" still queued or in flight on the AMI side), so that write cannot bring the
    pop back."""
    async with session_factory() as session:
        driver = await _driver(session)
        if ended is None:
            status = await driver.execute(_CLOSE, pop_id, interface)
        else:
            pop = ended["pop"]
            status = await driver.execute(
                _CLOSE_ENDED,
                pop_id,
                interface,
                str(pop["node"]),
                str(pop["linkedid"]),
                json.dumps(
                    {**ended, "pop": {**pop, "state": ENDED}}, ensure_ascii=False, default=str
                ),
            )
    return status.endswith(" 1")
