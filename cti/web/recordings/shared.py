"""What the recordings endpoints share: the role aliases, the path parameter, who may see
which recording, and the recording row as the API shows it.

Who sees what: inspectors, supervisors and admins see every recording of their county
(all counties when their account has none; only those centre-wide staff see orphans,
which have no county); an agent (or an editor) sees only recordings of calls they answered. A recording
outside the user's scope answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Path
from pydantic import BaseModel
from sqlalchemy import select

from cti.recordings import search
from cti.store.counties import County
from cti.store.recordings import Recording
from cti.store.tickets import Ticket
from cti.store.users import Role, User
from cti.web.deps import DbSession, RequireRole
from cti.web.errors import NotFound
from cti.web.sessions import AuthContext

STAFF = (Role.INSPECTOR, Role.SUPERVISOR, Role.ADMIN)
StaffUser = Annotated[AuthContext, Depends(RequireRole(*STAFF))]
CardEditor = Annotated[AuthContext, Depends(RequireRole(Role.SUPERVISOR, Role.ADMIN))]
RecordingId = Annotated[int, Path(ge=1, le=2**62)]


def scope_of(user: User) -> search.Scope:
    # Everyone but the staff above (agents; editors too, who reach these routes as centre
    # staff) sees only the recordings of calls they answered themselves.
    if Role(user.role) not in STAFF:
        return search.Scope(county_id=None, agent_id=user.id)
    if user.county_id is None:
        return search.Scope(everything=True)
    return search.Scope(county_id=user.county_id)


async def visible(db: DbSession, user: User, recording_id: int) -> Recording:
    """The recording if the user may see it; 404 otherwise (no existence oracle)."""
    stmt = select(Recording).where(
        Recording.id == recording_id, *search.conditions(search.Filters(), scope_of(user))
    )
    row = await db.scalar(stmt)
    if row is None:
        raise NotFound(f"no recording {recording_id}")
    return row


class RecordingOut(BaseModel):
    id: int
    started_at: datetime
    duration_ms: int
    caller_number: str
    did: str | None
    county: str | None
    agent: str | None
    disposition: str | None
    qa_score: float | None
    tickets: list[str]
    orphan: bool
    problem: str | None
    missing: bool
    purged: bool
    checksum_changed: bool
    legal_hold: bool
    format: str
    sample_rate: int
    channels: int
    size_bytes: int
    sha256: str


async def recordings_out(db: DbSession, rows: list[Recording]) -> list[RecordingOut]:
    call_ids = [r.call_id for r in rows if r.call_id is not None]
    tickets: dict[int, list[str]] = {}
    if call_ids:
        for call_id, number in await db.execute(
            select(Ticket.call_id, Ticket.number)
            .where(Ticket.call_id.in_(call_ids))
            .order_by(Ticket.id)
        ):
            tickets.setdefault(call_id, []).append(number)
    counties = dict((await db.execute(select(County.id, County.code))).all())
    return [
        RecordingOut(
            id=r.id,
            started_at=r.started_at,
            duration_ms=r.duration_ms,
            caller_number=r.caller_number,
            did=r.did,
            county=counties.get(r.county_id),
            agent=r.agent_interface,
            disposition=r.disposition,
            qa_score=float(r.qa_score) if r.qa_score is not None else None,
            tickets=tickets.get(r.call_id, []) if r.call_id else [],
            orphan=r.call_id is None,
            problem=r.problem,
            missing=r.missing_at is not None,
            purged=r.purged_at is not None,
            checksum_changed=r.checksum_changed_at is not None,
            legal_hold=r.legal_hold,
            format=r.format,
            sample_rate=r.sample_rate,
            channels=r.channels,
            size_bytes=r.size_bytes,
            sha256=r.sha256,
        )
        for r in rows
    ]
