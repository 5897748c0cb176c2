"""Complaints on a recording: opening one links a ticket and puts the recording on legal
hold; closing the last open one releases the hold."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy import exists, or_, select, update

from cti.store import audit
from cti.store.recordings import Complaint, Recording
from cti.store.tickets import Ticket
from cti.web.deps import DbSession, client_ip
from cti.web.errors import Conflict, Invalid, NotFound, documented
from cti.web.recordings.shared import RecordingId, StaffUser, visible

router = APIRouter()


class ComplaintOut(BaseModel):
    id: int
    ticket: str | None
    reason: str
    opened_at: datetime
    closed_at: datetime | None


class ComplaintIn(BaseModel):
    ticket: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{1,24}$")
    reason: str = Field(min_length=1, max_length=5000)


def _free_text(value: str, field: str, what: str) -> str:
    """Trimmed free text for complaints: not empty, no NUL or other control characters
    (tab and line breaks allowed). Stored as typed; the page shows it as text, never HTML."""
    value = value.strip()
    if not value:
        raise Invalid(f"give the {what}", fields={field: "empty"})
    if any((ord(ch) < 32 and ch not in "\t\r\n") or ord(ch) == 127 for ch in value):
        raise Invalid(
            f"the {what} must not contain control characters", fields={field: "control character"}
        )
    return value


@router.post(
    "/api/recordings/{recording_id}/complaints",
    status_code=201,
    summary="Open a complaint on a recording (holds it from retention)",
    responses=documented(NotFound, Invalid),
)
async def open_complaint(
    request: Request, recording_id: RecordingId, body: ComplaintIn, ctx: StaffUser, db: DbSession
) -> ComplaintOut:
    """Link the recording to the complaint's ticket and put it on legal hold (never purged)."""
    row = await visible(db, ctx.user, recording_id)
    ticket_id = None
    if body.ticket:
        # A county-scoped user links only tickets of their county (or of none); another
        # county's ticket reads as unknown, so ticket numbers do not leak across counties.
        query = select(Ticket.id).where(Ticket.number == body.ticket)
        if ctx.user.county_id is not None:
            query = query.where(
                or_(Ticket.county_id.is_(None), Ticket.county_id == ctx.user.county_id)
            )
        ticket_id = await db.scalar(query)
        if ticket_id is None:
            raise Invalid(f"no ticket {body.ticket}", fields={"ticket": "unknown"})
    reason = _free_text(body.reason, "reason", "reason")
    # The UPDATE takes the row lock that purge holds while deleting, so a hold is never
    # lost to a purge running at the same moment.
    await db.execute(update(Recording).where(Recording.id == row.id).values(legal_hold=True))
    complaint = Complaint(
        recording_id=row.id, ticket_id=ticket_id, reason=reason, opened_by=ctx.user.id
    )
    db.add(complaint)
    audit.record(
        db,
        actor_id=ctx.user.id,
        actor_name=ctx.user.username,
        action="recording.complaint",
        object_type="recording",
        object_id=row.id,
        detail={"ticket": body.ticket},
        ip=client_ip(request),
    )
    await db.commit()
    return ComplaintOut(
        id=complaint.id,
        ticket=body.ticket,
        reason=reason,
        opened_at=complaint.opened_at,
        closed_at=None,
    )


class ComplaintCloseIn(BaseModel):
    resolution: str = Field(min_length=1, max_length=5000)


class ComplaintClosedOut(ComplaintOut):
    #: The recording's hold after the close: released only when no complaint stays open.
    legal_hold: bool


@router.post(
    "/api/recordings/{recording_id}/complaints/{complaint_id}/close",
    summary="Close a complaint",
    responses=documented(NotFound, Invalid, Conflict),
)
async def close_complaint(
    request: Request,
    recording_id: RecordingId,
    complaint_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    body: ComplaintCloseIn,
    ctx: StaffUser,
    db: DbSession,
) -> ComplaintClosedOut:
    """Resolve a complaint. The recording's legal hold is released only when this was its
    last open complaint; the resolution goes to the audit log."""
    row = await visible(db, ctx.user, recording_id)
    resolution = _free_text(body.resolution, "resolution", "resolution")
    # Lock order as in ``open_complaint`` and ``retention.purge``: the recording row first.
    # Opening a complaint and purging take this lock too, so the "no other open complaint"
    # check below cannot miss a complaint opened at the same moment, and purge skips the row
    # (``SKIP LOCKED``) until the new hold state is committed.
    await db.execute(select(Recording.id).where(Recording.id == row.id).with_for_update())
    complaint = await db.scalar(
        select(Complaint)
        .where(Complaint.id == complaint_id, Complaint.recording_id == row.id)
        .with_for_update()
    )
    if complaint is None:
        raise NotFound(f"no complaint {complaint_id} on recording {row.id}")
    if complaint.closed_at is not None:
        raise Conflict(f"complaint {complaint_id} is already closed")
    complaint.closed_at = datetime.now(UTC)
    still_open = await db.scalar(
        select(
            exists().where(
                Complaint.recording_id == row.id,
                Complaint.closed_at.is_(None),
                Complaint.id != complaint.id,
            )
        )
    )
    if not still_open:
        await db.execute(update(Recording).where(Recording.id == row.id).values(legal_hold=False))
    number = (
        await db.scalar(select(Ticket.number).where(Ticket.id == complaint.ticket_id))
        if complaint.ticket_id is not None
        else None
    )
    audit.record(
        db,
        actor_id=ctx.user.id,
        actor_name=ctx.user.username,
        action="recording.complaint.close",
        object_type="recording",
        object_id=row.id,
        detail={
            "complaint": complaint.id,
            "ticket": number,
            "resolution": resolution,
            "legal_hold": bool(still_open),
        },
        ip=client_ip(request),
    )
    await db.commit()
    return ComplaintClosedOut(
        id=complaint.id,
        ticket=number,
        reason=complaint.reason,
        opened_at=complaint.opened_at,
        closed_at=complaint.closed_at,
        legal_hold=bool(still_open),
    )
