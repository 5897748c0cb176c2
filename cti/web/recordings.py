"""Recording search, replay, QA scoring and the access log (cti.recordings).

Who sees what: inspectors, supervisors and admins see every recording of their county
(all counties when their account has none; only those centre-wide staff see orphans,
which have no county); an agent sees only recordings of calls they answered. A recording
outside the user's scope answers 404, exactly like one that does not exist.

Audio is served by recording id only; the file's path comes from the index row and is
resolved inside the recordings folder (``names.resolve_inside``), never from the client.
Every byte range served is written to the append-only access log.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, BinaryIO, Literal

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exists, or_, select, update

from cti.numbers import normalise
from cti.recordings import names, scoring, search
from cti.recordings.media import VARIANTS, MediaCache, MediaError
from cti.recordings.ranges import RangeNotSatisfiable, parse_range
from cti.store import audit
from cti.store.calls import DISPOSITION_VALUES
from cti.store.counties import County, UnknownCounty, county_id_by_code
from cti.store.recordings import (
    Complaint,
    Criterion,
    Recording,
    RecordingAccess,
    Score,
    Scorecard,
    ScoreItem,
    TimedComment,
)
from cti.store.tickets import Ticket
from cti.store.users import Role, User
from cti.web.deps import AdminUser, AnyUser, AppSettings, DbSession, RequireRole, client_ip
from cti.web.errors import AppError, Conflict, Invalid, NotFound, documented
from cti.web.sessions import AuthContext

router = APIRouter()

STAFF = (Role.INSPECTOR, Role.SUPERVISOR, Role.ADMIN)
StaffUser = Annotated[AuthContext, Depends(RequireRole(*STAFF))]
CardEditor = Annotated[AuthContext, Depends(RequireRole(Role.SUPERVISOR, Role.ADMIN))]
RecordingId = Annotated[int, Path(ge=1, le=2**62)]
CHUNK = 64 * 1024


class Gone(AppError):
    status_code = 410
    code = "gone"


class Unavailable(AppError):
    status_code = 503
    code = "unavailable"


def media_cache(request: Request) -> MediaCache:
    state = request.app.state
    cache = getattr(state, "recordings_media", None)
    if cache is None:
        cache = state.recordings_media = MediaCache(state.settings.data_dir / "recordings-cache")
    return cache


def scope_of(user: User) -> search.Scope:
    if Role(user.role) is Role.AGENT:
        return search.Scope(county_id=None, agent_id=user.id)
    if user.county_id is None:
        return search.Scope(everything=True)
    return search.Scope(county_id=user.county_id)


async def _visible(db: DbSession, user: User, recording_id: int) -> Recording:
    """The recording if the user may see it; 404 otherwise (no existence oracle)."""
    stmt = select(Recording).where(
        Recording.id == recording_id, *search.conditions(search.Filters(), scope_of(user))
    )
    row = await db.scalar(stmt)
    if row is None:
        raise NotFound(f"no recording {recording_id}")
    return row


# --- search ------------------------------------------------------------------------------


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


class SearchOut(BaseModel):
    items: list[RecordingOut]
    next_cursor: str | None
    #: Matches, counted up to ``count_cap``; ``count_capped`` says there are more.
    count: int
    count_capped: bool
    count_cap: int


async def _out(db: DbSession, rows: list[Recording]) -> list[RecordingOut]:
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


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


TEXT = r"^[A-Za-z0-9_.:/@+-]{1,80}$"


@router.get(
    "/api/recordings",
    summary="Search recordings: caller, agent, county, time, duration, score, ticket",
    responses=documented(Invalid),
)
async def search_recordings(
    ctx: AnyUser,
    db: DbSession,
    settings: AppSettings,
    caller: Annotated[str | None, Query(max_length=40)] = None,
    agent: Annotated[str | None, Query(pattern=TEXT)] = None,
    county: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = None,
    did: Annotated[str | None, Query(pattern=r"^[0-9+*#]{1,32}$")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    min_duration: Annotated[float | None, Query(ge=0, le=86400 * 7)] = None,
    max_duration: Annotated[float | None, Query(ge=0, le=86400 * 7)] = None,
    disposition: Annotated[Literal[DISPOSITION_VALUES] | None, Query()] = None,  # type: ignore[valid-type]
    ticket: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9-]{1,24}$")] = None,
    min_score: Annotated[float | None, Query(ge=0, le=100)] = None,
    max_score: Annotated[float | None, Query(ge=0, le=100)] = None,
    orphan: bool | None = None,
    sort: search.Sort = search.Sort.NEWEST,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SearchOut:
    """Filters combine with AND. ``caller`` takes the number in any form (normalised);
    ``agent`` is a username, an interface (``PJSIP/1001``) or an extension (``1001``);
    durations are in seconds; ``since`` is inclusive, ``until`` exclusive."""
    caller_key = None
    if caller is not None:
        caller_key = normalise(caller, settings.number_plan).key
        if not caller_key:
            raise Invalid("caller is not a phone number", fields={"caller": "not a number"})
    agent_id = None
    if agent is not None:
        agent_id = await db.scalar(
            select(User.id).where(
                (User.username == agent)
                | (User.interface == agent)
                | (User.interface == f"PJSIP/{agent}")
            )
        )
        if agent_id is None:
            raise Invalid(f"no agent {agent!r}", fields={"agent": "unknown agent"})
    try:
        county_id = await county_id_by_code(db, county)
    except UnknownCounty as e:
        raise Invalid(f"no county {e.code!r}", fields={"county": "unknown county"}) from None
    filters = search.Filters(
        caller=caller_key,
        agent_id=agent_id,
        county_id=county_id,
        did=did,
        since=_utc(since),
        until=_utc(until),
        min_duration_ms=None if min_duration is None else int(min_duration * 1000),
        max_duration_ms=None if max_duration is None else int(max_duration * 1000),
        disposition=disposition,
        ticket=ticket,
        min_score=min_score,
        max_score=max_score,
        orphan=orphan,
    )
    scope = scope_of(ctx.user)
    try:
        stmt = search.page_query(filters, scope, sort, cursor, limit)
    except search.InvalidCursor as exc:
        raise Invalid(str(exc), fields={"cursor": "invalid"}) from None
    rows = list((await db.scalars(stmt)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    count = await db.scalar(search.count_query(filters, scope)) or 0
    return SearchOut(
        items=await _out(db, rows),
        next_cursor=search.next_cursor(sort, rows[-1]) if more else None,
        count=min(count, search.COUNT_CAP),
        count_capped=count > search.COUNT_CAP,
        count_cap=search.COUNT_CAP,
    )


# --- the access log (admins read it; nobody edits it) ---------------------------------


class AccessOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    user_id: int | None
    username: str
    recording_id: int
    action: str
    variant: str
    byte_range: str | None
    ip: Any = None
    user_agent: str | None


@router.get("/api/recordings/access-log", summary="Who listened to or downloaded which recording")
async def read_access_log(
    _: AdminUser,
    db: DbSession,
    recording_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AccessOut]:
    """Newest first; page with ``before_id``."""
    stmt = select(RecordingAccess).order_by(RecordingAccess.id.desc()).limit(limit)
    if recording_id is not None:
        stmt = stmt.where(RecordingAccess.recording_id == recording_id)
    if before_id is not None:
        stmt = stmt.where(RecordingAccess.id < before_id)
    return [
        AccessOut.model_validate(row).model_copy(update={"ip": str(row.ip) if row.ip else None})
        for row in (await db.scalars(stmt)).all()
    ]


# --- scorecards --------------------------------------------------------------------------


class CriterionIn(BaseModel):
    label: str = Field(max_length=200)
    weight: int
    max_points: int


class ScorecardIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    criteria: list[CriterionIn] = Field(max_length=50)


class CriterionOut(BaseModel):
    id: int
    label: str
    weight: int
    max_points: int


class ScorecardOut(BaseModel):
    id: int
    name: str
    criteria: list[CriterionOut]


async def _card_out(db: DbSession, card: Scorecard) -> ScorecardOut:
    crits = (
        await db.scalars(
            select(Criterion).where(Criterion.scorecard_id == card.id).order_by(Criterion.position)
        )
    ).all()
    return ScorecardOut(
        id=card.id,
        name=card.name,
        criteria=[
            CriterionOut(id=c.id, label=c.label, weight=c.weight, max_points=c.max_points)
            for c in crits
        ],
    )


@router.get("/api/qa/scorecards", summary="List QA scorecards")
async def list_scorecards(_: StaffUser, db: DbSession) -> list[ScorecardOut]:
    cards = (
        await db.scalars(select(Scorecard).where(Scorecard.active).order_by(Scorecard.id))
    ).all()
    return [await _card_out(db, card) for card in cards]


@router.post(
    "/api/qa/scorecards",
    status_code=201,
    summary="Create a QA scorecard (a new version of one)",
    responses=documented(Invalid, Conflict),
)
async def create_scorecard(
    request: Request, body: ScorecardIn, ctx: CardEditor, db: DbSession
) -> ScorecardOut:
    specs = [(c.label, c.weight, c.max_points) for c in body.criteria]
    try:
        scoring.validate_criteria(specs)
    except scoring.ScoringError as exc:
        raise Invalid(str(exc)) from None
    if await db.scalar(select(Scorecard.id).where(Scorecard.name == body.name.strip())):
        raise Conflict(f"a scorecard named {body.name.strip()!r} exists")
    card = Scorecard(name=body.name.strip())
    db.add(card)
    await db.flush()
    for position, (label, weight, max_points) in enumerate(specs):
        db.add(
            Criterion(
                scorecard_id=card.id,
                position=position,
                label=label.strip(),
                weight=weight,
                max_points=max_points,
            )
        )
    audit.record(
        db,
        actor_id=ctx.user.id,
        actor_name=ctx.user.username,
        action="qa.scorecard.create",
        object_type="scorecard",
        object_id=card.id,
        detail={"name": card.name},
        ip=client_ip(request),
    )
    await db.commit()
    return await _card_out(db, card)


# --- one recording -----------------------------------------------------------------------


class ScoreOut(BaseModel):
    id: int
    scorecard_id: int
    inspector: str | None
    total: float
    comment: str
    created_at: datetime
    points: dict[int, int]


class CommentOut(BaseModel):
    id: int
    at_ms: int
    author: str
    text: str
    created_at: datetime


class ComplaintOut(BaseModel):
    id: int
    ticket: str | None
    reason: str
    opened_at: datetime
    closed_at: datetime | None


class DetailOut(RecordingOut):
    scores: list[ScoreOut]
    comments: list[CommentOut]
    complaints: list[ComplaintOut]


async def _detail(db: DbSession, row: Recording) -> DetailOut:
    (base,) = await _out(db, [row])
    scores = []
    for score, inspector in await db.execute(
        select(Score, User.username)
        .outerjoin(User, User.id == Score.inspector_id)
        .where(Score.recording_id == row.id)
        .order_by(Score.id)
    ):
        items = dict(
            (
                await db.execute(
                    select(ScoreItem.criterion_id, ScoreItem.points).where(
                        ScoreItem.score_id == score.id
                    )
                )
            ).all()
        )
        scores.append(
            ScoreOut(
                id=score.id,
                scorecard_id=score.scorecard_id,
                inspector=inspector,
                total=float(score.total),
                comment=score.comment,
                created_at=score.created_at,
                points=items,
            )
        )
    comments = [
        CommentOut(
            id=c.id, at_ms=c.at_ms, author=c.author_name, text=c.text, created_at=c.created_at
        )
        for c in (
            await db.scalars(
                select(TimedComment)
                .where(TimedComment.recording_id == row.id)
                .order_by(TimedComment.at_ms, TimedComment.id)
            )
        ).all()
    ]
    complaints = [
        ComplaintOut(
            id=c.id, ticket=number, reason=c.reason, opened_at=c.opened_at, closed_at=c.closed_at
        )
        for c, number in await db.execute(
            select(Complaint, Ticket.number)
            .outerjoin(Ticket, Ticket.id == Complaint.ticket_id)
            .where(Complaint.recording_id == row.id)
            .order_by(Complaint.id)
        )
    ]
    return DetailOut(**base.model_dump(), scores=scores, comments=comments, complaints=complaints)


@router.get(
    "/api/recordings/{recording_id}",
    summary="One recording: its call, ticket, scores, comments, complaints",
    responses=documented(NotFound),
)
async def get_recording(recording_id: RecordingId, ctx: AnyUser, db: DbSession) -> DetailOut:
    return await _detail(db, await _visible(db, ctx.user, recording_id))


class ScoreIn(BaseModel):
    scorecard_id: int = Field(ge=1)
    points: dict[int, int] = Field(max_length=50)
    comment: str = Field(default="", max_length=5000)


@router.post(
    "/api/recordings/{recording_id}/scores",
    status_code=201,
    summary="Score a recording against a scorecard",
    responses=documented(NotFound, Invalid),
)
async def score_recording(
    request: Request, recording_id: RecordingId, body: ScoreIn, ctx: StaffUser, db: DbSession
) -> ScoreOut:
    row = await _visible(db, ctx.user, recording_id)
    card = await db.get(Scorecard, body.scorecard_id)
    if card is None or not card.active:
        raise Invalid(f"no scorecard {body.scorecard_id}", fields={"scorecard_id": "unknown"})
    crits = (await db.scalars(select(Criterion).where(Criterion.scorecard_id == card.id))).all()
    specs = [scoring.CriterionSpec(c.id, c.label, c.weight, c.max_points) for c in crits]
    try:
        total = scoring.total(specs, body.points)
    except scoring.ScoringError as exc:
        raise Invalid(str(exc), fields={"points": str(exc)}) from None
    if "\x00" in body.comment:
        raise Invalid("comment must not contain NUL characters")
    score = Score(
        recording_id=row.id,
        scorecard_id=card.id,
        inspector_id=ctx.user.id,
        total=total,
        comment=body.comment.strip(),
    )
    db.add(score)
    await db.flush()
    for criterion_id, points in body.points.items():
        db.add(ScoreItem(score_id=score.id, criterion_id=criterion_id, points=points))
    await db.execute(update(Recording).where(Recording.id == row.id).values(qa_score=total))
    audit.record(
        db,
        actor_id=ctx.user.id,
        actor_name=ctx.user.username,
        action="qa.score",
        object_type="recording",
        object_id=row.id,
        detail={"scorecard": card.id, "total": str(total)},
        ip=client_ip(request),
    )
    await db.commit()
    return ScoreOut(
        id=score.id,
        scorecard_id=card.id,
        inspector=ctx.user.username,
        total=float(total),
        comment=score.comment,
        created_at=score.created_at,
        points=body.points,
    )


class CommentIn(BaseModel):
    at_ms: int = Field(ge=0, le=2**31 - 1)
    text: str = Field(min_length=1, max_length=5000)


@router.post(
    "/api/recordings/{recording_id}/comments",
    status_code=201,
    summary="Comment on a moment of a recording",
    responses=documented(NotFound, Invalid),
)
async def comment_recording(
    recording_id: RecordingId, body: CommentIn, ctx: StaffUser, db: DbSession
) -> CommentOut:
    row = await _visible(db, ctx.user, recording_id)
    if body.at_ms > row.duration_ms:
        raise Invalid(f"the recording lasts {row.duration_ms} ms", fields={"at_ms": "past the end"})
    text = body.text.strip()
    if not text or "\x00" in text:
        raise Invalid("write a comment (no NUL characters)", fields={"text": "empty"})
    comment = TimedComment(
        recording_id=row.id,
        author_id=ctx.user.id,
        author_name=ctx.user.username,
        at_ms=body.at_ms,
        text=text,
    )
    db.add(comment)
    await db.commit()
    return CommentOut(
        id=comment.id,
        at_ms=comment.at_ms,
        author=comment.author_name,
        text=comment.text,
        created_at=comment.created_at,
    )


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
    row = await _visible(db, ctx.user, recording_id)
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
    row = await _visible(db, ctx.user, recording_id)
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


# --- audio -------------------------------------------------------------------------------


def _source_path(request: Request, row: Recording):  # noqa: ANN202
    if row.purged_at is not None:
        raise Gone(f"recording {row.id} was removed by retention on {row.purged_at:%Y-%m-%d}")
    try:
        return names.resolve_inside(request.app.state.settings.recordings_dir, row.path)
    except names.OutsideRoot:
        raise Gone(f"recording {row.id} has no servable file") from None


def _open_checked(path, row: Recording) -> tuple[BinaryIO, int]:  # noqa: ANN001
    """Open the indexed file and check it is still what was indexed (size and mtime):
    altered audio is never served as the recording."""
    fh = path.open("rb")
    st = os.fstat(fh.fileno())
    if st.st_size != row.size_bytes or abs(st.st_mtime - row.mtime.timestamp()) > 1e-3:
        fh.close()
        raise Conflict(
            f"recording {row.id} changed on disk since it was indexed; not served "
            "(run cti recordings reconcile)"
        )
    return fh, st.st_size


async def _mark_missing(db: DbSession, row: Recording) -> None:
    await db.execute(
        update(Recording)
        .where(Recording.id == row.id, Recording.missing_at.is_(None))
        .values(missing_at=datetime.now(UTC))
    )
    await db.commit()


async def _chunks(fh: BinaryIO, start: int, length: int) -> AsyncIterator[bytes]:
    try:
        await anyio.to_thread.run_sync(fh.seek, start)
        remaining = length
        while remaining > 0:
            chunk = await anyio.to_thread.run_sync(fh.read, min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        fh.close()


@router.get(
    "/api/recordings/{recording_id}/audio",
    summary="The recording's audio (byte ranges for seeking; logged in the access log)",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"audio/*": {"schema": {"type": "string", "format": "binary"}}}},
        206: {"description": "the requested byte range"},
        416: {"description": "the byte range is outside the file"},
        **documented(NotFound, Gone, Unavailable),
    },
)
async def audio(
    request: Request,
    recording_id: RecordingId,
    ctx: AnyUser,
    db: DbSession,
    cache: Annotated[MediaCache, Depends(media_cache)],
    variant: Literal["original", "opus"] = "original",
    download: bool = False,
) -> Response:
    """The audio with HTTP Range support (206, ``Content-Range``, suffix ranges, 416).
    ``variant=opus`` is the compressed copy the player uses; ``original`` is the file as
    Asterisk wrote it (what ``download`` gives for evidence)."""
    row = await _visible(db, ctx.user, recording_id)
    path = _source_path(request, row)
    try:
        fh, size = await anyio.to_thread.run_sync(_open_checked, path, row)
    except FileNotFoundError:
        await _mark_missing(db, row)
        raise Gone(f"the file of recording {row.id} is missing on disk") from None
    except OSError as exc:
        raise Unavailable(f"cannot read recording {row.id}: {exc.strerror}") from None
    media_type = "audio/wav" if row.format == "wav" else f"audio/{row.format}"
    filename = f"recording-{row.id}.{row.format}"
    if variant != "original":
        fh.close()
        try:
            path = await cache.compressed(path, row.sha256, variant)
            fh = await anyio.to_thread.run_sync(path.open, "rb")
        except MediaError as exc:
            raise Unavailable(f"cannot convert recording {row.id}: {exc}") from None
        size = os.fstat(fh.fileno()).st_size
        ext, media_type = VARIANTS[variant]
        filename = f"recording-{row.id}.{ext}"
    headers = {
        "Accept-Ranges": "bytes",
        "ETag": f'"{row.sha256[:32]}-{variant}"',
        "Cache-Control": "private, no-transform",
    }
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    try:
        if request.headers.get("if-range") not in (None, headers["ETag"]):
            wanted = None  # the client's copy is another version: send it all
        else:
            wanted = parse_range(request.headers.get("range"), size)
    except RangeNotSatisfiable as exc:
        fh.close()
        return Response(
            status_code=416,
            headers={**headers, "Content-Range": exc.content_range},
            content=b"",
        )
    start, length, status = 0, size, 200
    if wanted is not None:
        start, length, status = wanted.start, wanted.length, 206
        headers["Content-Range"] = wanted.content_range(size)
    headers["Content-Length"] = str(length)
    db.add(
        RecordingAccess(
            user_id=ctx.user.id,
            username=ctx.user.username,
            recording_id=row.id,
            action="download" if download else "play",
            variant=variant,
            byte_range=headers.get("Content-Range", f"full/{size}"),
            ip=client_ip(request),
            user_agent=(request.headers.get("user-agent") or "")[:255] or None,
        )
    )
    try:
        await db.commit()  # logged before a byte is sent
    except Exception:
        fh.close()
        raise
    return StreamingResponse(
        _chunks(fh, start, length), status_code=status, media_type=media_type, headers=headers
    )


@router.get(
    "/api/recordings/{recording_id}/peaks",
    summary="Waveform peaks of the recording, for drawing it",
    responses=documented(NotFound, Gone, Unavailable),
)
async def peaks(
    request: Request,
    recording_id: RecordingId,
    ctx: AnyUser,
    db: DbSession,
    cache: Annotated[MediaCache, Depends(media_cache)],
) -> dict[str, Any]:
    """Waveform peaks (0..1, ``count`` buckets over ``duration_ms``) for the player."""
    row = await _visible(db, ctx.user, recording_id)
    path = _source_path(request, row)
    if not await anyio.to_thread.run_sync(path.is_file):
        await _mark_missing(db, row)
        raise Gone(f"the file of recording {row.id} is missing on disk")
    try:
        values = await cache.peaks(path, row.sha256)
    except (MediaError, OSError) as exc:
        raise Unavailable(f"cannot read recording {row.id}: {exc}") from None
    return {"duration_ms": row.duration_ms, "count": len(values), "peaks": values}


# --- the inspector's page ----------------------------------------------------------------


@router.get(
    "/recordings", response_class=HTMLResponse, summary="Recordings: search, replay, score (page)"
)
async def page(request: Request, ctx: StaffUser, db: DbSession) -> Response:
    counties = (await db.execute(select(County.code, County.name).order_by(County.code))).all()
    return request.app.state.templates.TemplateResponse(
        request,
        "recordings.html",
        {
            "user": ctx.user,
            "csrf_token": ctx.csrf_token,
            "counties": counties,
            "dispositions": DISPOSITION_VALUES,
        },
    )
