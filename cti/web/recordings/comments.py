"""Timed comments: an inspector's note on a moment (``at_ms``) of a recording."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from cti.store.recordings import TimedComment
from cti.web.deps import DbSession
from cti.web.errors import Invalid, NotFound, documented
from cti.web.recordings.shared import RecordingId, StaffUser, visible

router = APIRouter()


class CommentOut(BaseModel):
    id: int
    at_ms: int
    author: str
    text: str
    created_at: datetime


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
    row = await visible(db, ctx.user, recording_id)
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
