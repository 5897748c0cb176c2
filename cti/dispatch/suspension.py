"""A company's review with its consequence for the work it holds: once a company is
suspended it may no longer answer its jobs (``cti.companies.review.may_answer_jobs``), so
each open dispatch is taken back at once, in the same transaction, rather than left to run
out its deadlines while the citizen waits."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from cti.companies import review as company_review
from cti.dispatch.service import take_back_all
from cti.store.companies import Company, CompanyStatus, Dispatch
from cti.store.users import User
from cti.tickets.service import MAX_NOTE


@dataclass(frozen=True, slots=True)
class Reviewed:
    company: Company
    #: The open dispatches withdrawn because of this review (a suspension), oldest first.
    withdrawn: list[Dispatch]


def withdraw_reason(reason: str) -> str:
    """The note each taken-back job carries: the suspension and the admin's reason."""
    return f"company suspended: {reason}"[:MAX_NOTE]


async def review(
    db: AsyncSession,
    company: Company,
    action: company_review.ReviewAction | str,
    reason: str,
    actor: User,
    *,
    ip: str | None = None,
) -> Reviewed:
    """:func:`cti.companies.review.review` (same errors, nothing changed then); when the
    company is suspended by it, every open dispatch of the company is withdrawn too. Not
    committed."""
    await company_review.review(db, company, action, reason, actor, ip=ip)
    withdrawn: list[Dispatch] = []
    if company.status == CompanyStatus.SUSPENDED.value:
        withdrawn = await take_back_all(
            db, company.id, actor, withdraw_reason(company.review_reason or reason)
        )
    return Reviewed(company, withdrawn)
