"""The company portal (``/portal``, pages) and the companies' token API
(``/api/company/jobs``): a company's login sees the jobs dispatched to its company, and
only those, and answers them: accept, decline (with a reason), start, finish (with a
note), through :func:`cti.dispatch.service.respond`.

Another company's dispatch, or one that does not exist, is 404 on every route: a company
never learns that someone else's work exists. While the company is not approved
(suspended), its logins still open the portal but see their jobs read-only: every answer
is refused with 409 (``cti.companies.review.may_answer_jobs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from cti.companies import jobs
from cti.companies.jobs import JobView
from cti.companies.review import may_answer_jobs
from cti.dispatch import service as dispatch_service
from cti.dispatch.errors import DispatchError, NotYours
from cti.store.companies import Company, DispatchStatus
from cti.store.users import Role
from cti.tickets.lifecycle import TransitionRefused
from cti.tickets.service import MAX_NOTE
from cti.web.deps import DbSession, RequireRole
from cti.web.errors import Conflict, Invalid, NotFound, documented
from cti.web.forms import form_again, staff_page
from cti.web.sessions import AuthContext

pages = APIRouter(prefix="/portal", tags=["pages"])
api = APIRouter(prefix="/api/company", tags=["company"])

CompanyUser = Annotated[AuthContext, Depends(RequireRole(Role.COMPANY))]
DispatchId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Note = Annotated[str, Field(max_length=MAX_NOTE + 100)]


class Answer(StrEnum):
    ACCEPT = "accept"
    DECLINE = "decline"  # the note is the reason, required
    START = "start"
    FINISH = "finish"  # the note says what was done


class AnswerIn(BaseModel):
    note: Note = Field(
        default="", description="decline: the reason (required); finish: what was done"
    )


def _company_id(ctx: AuthContext) -> int:
    company_id = ctx.user.company_id
    assert company_id is not None  # the company role requires it (users.company_role)
    return company_id


async def _job(db: DbSession, ctx: AuthContext, dispatch_id: int) -> JobView:
    try:
        return await jobs.job_of(db, _company_id(ctx), dispatch_id)
    except jobs.NoSuchJob:
        raise NotFound(f"no job {dispatch_id}") from None


@dataclass(frozen=True, slots=True)
class Refusal:
    """An answer dispatch refused: 409 (not from this state, company suspended) or 422
    (a decline without a reason, a bad note)."""

    status: int
    message: str
    field: str | None = None


async def _give(
    db: DbSession, ctx: AuthContext, dispatch_id: int, answer: Answer, note: str
) -> Refusal | None:
    """Give the answer through dispatch (which checks again that the dispatch is the
    company's and that the move is allowed) and commit; the refusal, if any (nothing
    changed then). Another company's dispatch is :class:`NotFound`."""
    await _job(db, ctx, dispatch_id)  # 404 before anything else for another's dispatch
    status = await db.scalar(select(Company.status).where(Company.id == _company_id(ctx)))
    if status is None or not may_answer_jobs(status):
        return Refusal(409, f"your company is {status}: its jobs are read-only")
    try:
        await dispatch_service.respond(db, dispatch_id, answer.value, ctx.user, note)
    except NotYours:
        raise NotFound(f"no job {dispatch_id}") from None
    except TransitionRefused as exc:
        return Refusal(409, str(exc))
    except DispatchError as exc:
        return Refusal(422, str(exc), exc.field)
    await db.commit()
    return None


def _statuses(status: str | None) -> tuple[DispatchStatus, ...]:
    if status == "all":
        return tuple(DispatchStatus)
    if status in {s.value for s in DispatchStatus}:
        return (DispatchStatus(status),)
    return jobs.LISTED_STATUSES


# --- the token API ------------------------------------------------------------------------


@api.get("/jobs", summary="Your company's jobs: active first, then done")
async def list_jobs(
    ctx: CompanyUser,
    db: DbSession,
    status: Annotated[
        str | None,
        Query(
            pattern=r"^(all|offered|accepted|declined|in_service|done|withdrawn)$",
            description="one dispatch status, or all; none: offered, accepted, in service, done",
        ),
    ] = None,
) -> list[JobView]:
    return await jobs.jobs_of(db, _company_id(ctx), _statuses(status))


@api.get(
    "/jobs/{dispatch_id}",
    summary="One of your company's jobs, with what the ticket says",
    responses=documented(NotFound),
)
async def get_job(dispatch_id: DispatchId, ctx: CompanyUser, db: DbSession) -> JobView:
    return await _job(db, ctx, dispatch_id)


@api.post(
    "/jobs/{dispatch_id}/{answer}",
    summary="Answer a job: accept, decline (reason), start, finish (note)",
    responses=documented(NotFound, Conflict, Invalid),
)
async def answer_job(
    dispatch_id: DispatchId, answer: Answer, body: AnswerIn, ctx: CompanyUser, db: DbSession
) -> JobView:
    refusal = await _give(db, ctx, dispatch_id, answer, body.note)
    if refusal is not None and refusal.status == 409:
        raise Conflict(refusal.message)
    if refusal is not None:
        raise Invalid(refusal.message, fields={refusal.field or "note": refusal.message})
    return await _job(db, ctx, dispatch_id)


# --- the pages ---------------------------------------------------------------------------


async def _company(db: DbSession, ctx: AuthContext) -> Company:
    company = await db.get(Company, _company_id(ctx))
    assert company is not None
    return company


@pages.get("", response_class=HTMLResponse, summary="Your company's jobs (page)")
async def portal_page(
    request: Request,
    ctx: CompanyUser,
    db: DbSession,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    return staff_page(
        request,
        ctx,
        "portal.html",
        company=await _company(db, ctx),
        rows=await jobs.jobs_of(db, _company_id(ctx), _statuses(status)),
        status=status or "",
        statuses=[s.value for s in DispatchStatus],
    )


SAVED = {
    "accept": "Accepted: the job is yours.",
    "decline": "Declined: the centre will find another company.",
    "start": "Started: the job is in service.",
    "finish": "Finished: the centre will ask the citizen how it went.",
}


async def _job_page(
    request: Request,
    ctx: AuthContext,
    db: DbSession,
    dispatch_id: int,
    *,
    status_code: int = 200,
    message: str | None = None,
    error: str | None = None,
) -> Response:
    job = await _job(db, ctx, dispatch_id)
    company = await _company(db, ctx)
    return staff_page(
        request,
        ctx,
        "portal_job.html",
        status_code=status_code,
        job=job,
        company=company,
        read_only=not may_answer_jobs(company.status),
        message=message,
        error=error,
    )


@pages.get(
    "/jobs/{dispatch_id}",
    response_class=HTMLResponse,
    summary="One of your company's jobs, with its answers (page)",
    responses=documented(NotFound),
)
async def job_page(
    dispatch_id: DispatchId,
    request: Request,
    ctx: CompanyUser,
    db: DbSession,
    saved: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    return await _job_page(request, ctx, db, dispatch_id, message=SAVED.get(saved or ""))


@pages.post(
    "/jobs/{dispatch_id}/{answer}",
    response_class=HTMLResponse,
    status_code=303,
    summary="Answer a job: accept, decline (reason), start, finish (note) (form)",
    responses={
        409: {
            "description": "not allowed from the job's state, or your company is suspended "
            "(the page again, with why)",
            "content": {"text/html": {}},
        },
        422: {
            "description": "a decline without a reason, or a bad note (the page again, with why)",
            "content": {"text/html": {}},
        },
        **documented(NotFound),
    },
)
async def answer_job_form(
    dispatch_id: DispatchId,
    answer: Answer,
    request: Request,
    ctx: CompanyUser,
    db: DbSession,
    note: Annotated[str, Form(max_length=MAX_NOTE + 100)] = "",
) -> Response:
    refusal = await _give(db, ctx, dispatch_id, answer, note)
    if refusal is not None:
        return await form_again(
            db,
            ctx,
            partial(_job_page, request, ctx, db, dispatch_id),
            status_code=409 if refusal.status == 409 else 422,
            error=refusal.message,
        )
    return RedirectResponse(f"/portal/jobs/{dispatch_id}?saved={answer.value}", status_code=303)
