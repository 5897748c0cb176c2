"""QA scorecards: list the active ones, create a new one (its weighted criteria)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from cti.recordings import scoring
from cti.store import audit
from cti.store.recordings import Criterion, Scorecard
from cti.web.deps import DbSession, client_ip
from cti.web.errors import Conflict, Invalid, documented
from cti.web.recordings.shared import CardEditor, StaffUser

router = APIRouter()


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
