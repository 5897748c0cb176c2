"""``GET /api/recordings/{id}``: one recording with its scores, timed comments and complaints."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from cti.store.recordings import Complaint, Recording, Score, ScoreItem, TimedComment
from cti.store.tickets import Ticket
from cti.store.users import User
from cti.web.deps import AnyUser, DbSession
from cti.web.errors import NotFound, documented
from cti.web.recordings.comments import CommentOut
from cti.web.recordings.complaints import ComplaintOut
from cti.web.recordings.scores import ScoreOut
from cti.web.recordings.shared import RecordingId, RecordingOut, recordings_out, visible

router = APIRouter()


class DetailOut(RecordingOut):
    scores: list[ScoreOut]
    comments: list[CommentOut]
    complaints: list[ComplaintOut]


async def _detail(db: DbSession, row: Recording) -> DetailOut:
    (base,) = await recordings_out(db, [row])
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
    return await _detail(db, await visible(db, ctx.user, recording_id))
