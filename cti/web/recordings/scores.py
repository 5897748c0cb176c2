"""Scoring a recording against a scorecard; ``ScoreOut`` is a score as the API shows it."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select, update

from cti.recordings import scoring
from cti.store import audit
from cti.store.recordings import Criterion, Recording, Score, Scorecard, ScoreItem
from cti.web.deps import DbSession, client_ip
from cti.web.errors import Invalid, NotFound, documented
from cti.web.recordings.shared import RecordingId, StaffUser, visible

router = APIRouter()


class ScoreOut(BaseModel):
    id: int
    scorecard_id: int
    inspector: str | None
    total: float
    comment: str
    created_at: datetime
    points: dict[int, int]


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
    row = await visible(db, ctx.user, recording_id)
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
