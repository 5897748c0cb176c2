"""The jobs dispatched to one company, as its portal and its API show them: what the ticket
says the company needs to do the work, and what it may answer now.

A company only ever reads its own dispatches: every query here is filtered by the
company's id, and a dispatch of another company is "not found", not "forbidden" (its
existence is nobody else's business). The citizen's name and phone are shown only while
the job is active with the company (offered, accepted, in service); afterwards the
company keeps what it did, not whom it did it for.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from cti.companies.review import may_answer_jobs
from cti.store.catalog import ServiceCategory
from cti.store.citizens import Citizen
from cti.store.companies import ACTIVE_DISPATCH_STATUSES, Company, Dispatch, DispatchStatus
from cti.store.counties import County
from cti.store.tickets import Ticket
from cti.store.users import Role
from cti.tickets import lifecycle

#: What the portal lists unless asked otherwise: the work that is or was the company's.
LISTED_STATUSES = (
    DispatchStatus.OFFERED,
    DispatchStatus.ACCEPTED,
    DispatchStatus.IN_SERVICE,
    DispatchStatus.DONE,
)
LIST_LIMIT = 200
#: The answers a company gives to a job (``cti.dispatch.service.respond``'s actions).
ANSWERS = (
    lifecycle.Action.ACCEPT,
    lifecycle.Action.DECLINE,
    lifecycle.Action.START,
    lifecycle.Action.FINISH,
)


class NoSuchJob(LookupError):
    """No dispatch of that id for this company (it may be another company's)."""


class JobView(BaseModel):
    dispatch_id: int
    status: DispatchStatus = Field(description="the dispatch: offered, accepted, in_service...")
    ticket_number: str
    ticket_status: str
    category: str | None = Field(description="the category's name")
    category_code: str | None
    subcategory: str | None
    county: str | None = Field(description="the county's code")
    county_name: str | None
    priority: str
    address: str | None
    preferred_start: datetime | None
    preferred_end: datetime | None
    description: str
    dispatched_at: datetime
    accept_by: datetime
    finish_by: datetime
    accepted_at: datetime | None
    declined_at: datetime | None
    decline_reason: str | None
    started_at: datetime | None
    done_at: datetime | None
    done_note: str | None
    citizen_name: str | None = Field(description="only while the job is active with you")
    citizen_phone: str | None = Field(description="only while the job is active with you")
    actions: list[str] = Field(description="what you may answer now: accept, decline...")


def shows_citizen(status: DispatchStatus | str) -> bool:
    """Whether the citizen's name and phone are shown for a dispatch in ``status``."""
    return DispatchStatus(status) in ACTIVE_DISPATCH_STATUSES


def answers_for(
    dispatch_status: DispatchStatus | str, ticket_status: str, company_status: str
) -> tuple[str, ...]:
    """The answers the company may give now (the buttons): the lifecycle's actions for a
    company on the ticket's state, while the dispatch is active and the company approved
    (a suspended company reads its work but answers nothing)."""
    if not shows_citizen(dispatch_status) or not may_answer_jobs(company_status):
        return ()
    return tuple(
        a.value for a in lifecycle.actions_for(ticket_status, Role.COMPANY) if a in ANSWERS
    )


_Sub = aliased(ServiceCategory)


def _query(company_id: int) -> Select:
    return (
        select(Dispatch, Ticket, ServiceCategory, _Sub, County, Citizen)
        .join(Ticket, Ticket.id == Dispatch.ticket_id)
        .outerjoin(ServiceCategory, ServiceCategory.id == Ticket.category_id)
        .outerjoin(_Sub, _Sub.id == Ticket.subcategory_id)
        .outerjoin(County, County.id == Ticket.county_id)
        .outerjoin(Citizen, Citizen.id == Ticket.citizen_id)
        .where(Dispatch.company_id == company_id)
    )


def _view(row: Row, company_status: str) -> JobView:
    dispatch, ticket, category, sub, county, citizen = row
    active = shows_citizen(dispatch.status)
    phones = citizen.phones if (active and citizen is not None) else []
    return JobView(
        dispatch_id=dispatch.id,
        status=DispatchStatus(dispatch.status),
        ticket_number=ticket.number,
        ticket_status=ticket.status,
        category=category.name if category else None,
        category_code=category.code if category else None,
        subcategory=sub.name if sub else None,
        county=county.code if county else None,
        county_name=county.name if county else None,
        priority=ticket.priority,
        address=ticket.address,
        preferred_start=ticket.preferred_start,
        preferred_end=ticket.preferred_end,
        description=ticket.description,
        dispatched_at=dispatch.dispatched_at,
        accept_by=dispatch.accept_by,
        finish_by=dispatch.finish_by,
        accepted_at=dispatch.accepted_at,
        declined_at=dispatch.declined_at,
        decline_reason=dispatch.decline_reason,
        started_at=dispatch.started_at,
        done_at=dispatch.done_at,
        done_note=dispatch.done_note,
        citizen_name=citizen.name if (active and citizen is not None) else None,
        citizen_phone=phones[0].number if phones else None,
        actions=list(answers_for(dispatch.status, ticket.status, company_status)),
    )


async def _company_status(db: AsyncSession, company_id: int) -> str:
    return (await db.scalars(select(Company.status).where(Company.id == company_id))).one()


async def jobs_of(
    db: AsyncSession,
    company_id: int,
    statuses: tuple[DispatchStatus, ...] = LISTED_STATUSES,
) -> list[JobView]:
    """The company's dispatches in ``statuses``, active ones first, newest first within,
    at most :data:`LIST_LIMIT`."""
    company_status = await _company_status(db, company_id)
    rows = (
        await db.execute(
            _query(company_id)
            .where(Dispatch.status.in_([s.value for s in statuses]))
            .order_by(
                Dispatch.status.in_([s.value for s in ACTIVE_DISPATCH_STATUSES]).desc(),
                Dispatch.dispatched_at.desc(),
                Dispatch.id.desc(),
            )
            .limit(LIST_LIMIT)
        )
    ).all()
    return [_view(row, company_status) for row in rows]


async def job_of(db: AsyncSession, company_id: int, dispatch_id: int) -> JobView:
    """One of the company's dispatches; :class:`NoSuchJob` when it is not the company's."""
    row = (await db.execute(_query(company_id).where(Dispatch.id == dispatch_id))).first()
    if row is None:
        raise NoSuchJob(dispatch_id)
    return _view(row, await _company_status(db, company_id))
