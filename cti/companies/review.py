"""An admin's review of a company: approve, reject, suspend, reinstate, each with a reason
and an audit entry, each allowed only from the statuses :data:`TABLE` lists.

What a suspension means for the company's portal logins: they stay active (reinstating
restores everything at once, nothing to re-enable), but while the company is not approved
its portal and API show its work read-only and refuse every answer to a job
(:func:`may_answer_jobs`). A suspended company receives no new work (dispatch checks
the status).
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from cti.companies import rules
from cti.store import audit
from cti.store.base import utcnow
from cti.store.companies import Company
from cti.store.companies import CompanyStatus as S
from cti.store.users import User


class ReviewAction(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    SUSPEND = "suspend"
    REINSTATE = "reinstate"


#: (action) -> (the statuses it may be taken from, the status it leads to). Anything not
#: listed is refused: a rejected company applies again (a new application), an applied one
#: is not "reinstated", an approved one is suspended rather than rejected.
TABLE: dict[ReviewAction, tuple[frozenset[S], S]] = {
    ReviewAction.APPROVE: (frozenset({S.APPLIED}), S.APPROVED),
    ReviewAction.REJECT: (frozenset({S.APPLIED}), S.REJECTED),
    ReviewAction.SUSPEND: (frozenset({S.APPROVED}), S.SUSPENDED),
    ReviewAction.REINSTATE: (frozenset({S.SUSPENDED}), S.APPROVED),
}


class ReviewRefused(ValueError):
    """The action is not allowed from the company's status; the message says so."""


def decide(action: ReviewAction | str, status: S | str) -> S:
    """The status ``action`` takes a company in ``status`` to, or :class:`ReviewRefused`."""
    try:
        action_ = ReviewAction(action)
    except ValueError:
        raise ReviewRefused(f"{str(action)[:40]!r} is not a review action") from None
    status_ = S(status)
    sources, target = TABLE[action_]
    if status_ not in sources:
        allowed = ", ".join(sorted(s.value for s in sources))
        raise ReviewRefused(
            f"a company that is {status_.value} cannot be {_PAST[action_]} "
            f"(it can be when: {allowed})"
        )
    return target


def actions_for(status: S | str) -> tuple[ReviewAction, ...]:
    """The review buttons the company's page shows, in the order of :data:`TABLE`."""
    status_ = S(status)
    return tuple(action for action, (sources, _) in TABLE.items() if status_ in sources)


def may_answer_jobs(status: S | str) -> bool:
    """Whether the company's logins may accept, decline, start and finish jobs: only
    while it is approved (suspended: read-only)."""
    return S(status) is S.APPROVED


_PAST = {
    ReviewAction.APPROVE: "approved",
    ReviewAction.REJECT: "rejected",
    ReviewAction.SUSPEND: "suspended",
    ReviewAction.REINSTATE: "reinstated",
}


async def review(
    db: AsyncSession,
    company: Company,
    action: ReviewAction | str,
    reason: str,
    actor: User,
    *,
    ip: str | None = None,
) -> Company:
    """Apply ``action`` to ``company`` with ``reason`` (required), audited as
    ``company.<action>`` (not committed). Raises :class:`ReviewRefused` or
    :class:`rules.CompanyError` (the reason); nothing changes then. The row is locked so
    two admins cannot both pass the check from the same status."""
    why = rules.reason(reason)
    await db.flush()
    await db.refresh(company, with_for_update=True)
    before = company.status
    after = decide(action, before)
    company.status = after.value
    company.reviewed_at = utcnow()
    company.reviewed_by = actor.id
    company.review_reason = why
    audit.record(
        db,
        actor_id=actor.id,
        actor_name=actor.username,
        action=f"company.{ReviewAction(action).value}",
        object_type="company",
        object_id=company.id,
        detail={"from": before, "to": after.value, "reason": why},
        ip=ip,
    )
    await db.flush()
    return company
