"""What a company's portal shows of a job and which answers it offers, per state."""

from __future__ import annotations

import pytest

from cti.companies.jobs import answers_for, shows_citizen
from cti.store.companies import CompanyStatus, DispatchStatus
from cti.store.tickets import TicketStatus as T

D = DispatchStatus


@pytest.mark.parametrize("status", list(D))
def test_the_citizen_is_shown_only_while_the_job_is_active(status):
    assert shows_citizen(status) is (status in {D.OFFERED, D.ACCEPTED, D.IN_SERVICE})


@pytest.mark.parametrize(
    ("dispatch", "ticket", "answers"),
    [
        (D.OFFERED, T.DISPATCHED, ("accept", "decline")),
        (D.ACCEPTED, T.ACCEPTED, ("start", "finish")),
        (D.IN_SERVICE, T.IN_SERVICE, ("finish",)),
        (D.DONE, T.DONE, ()),
        (D.DECLINED, T.DECLINED, ()),
        (D.WITHDRAWN, T.DECLINED, ()),
        # a dispatch withdrawn while the ticket was redispatched to someone else
        (D.WITHDRAWN, T.DISPATCHED, ()),
    ],
)
def test_answers_follow_the_lifecycle_while_approved(dispatch, ticket, answers):
    assert answers_for(dispatch, ticket, CompanyStatus.APPROVED) == answers


@pytest.mark.parametrize("company", [s for s in CompanyStatus if s is not CompanyStatus.APPROVED])
def test_a_company_that_is_not_approved_answers_nothing(company):
    assert answers_for(D.OFFERED, T.DISPATCHED, company) == ()
    assert answers_for(D.IN_SERVICE, T.IN_SERVICE, company) == ()
