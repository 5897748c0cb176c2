"""The review table: every company status x every review action, allowed or refused, and
what a company's logins may do in each status."""

from __future__ import annotations

import pytest

from cti.companies.review import (
    ReviewAction,
    ReviewRefused,
    actions_for,
    decide,
    may_answer_jobs,
)
from cti.store.companies import CompanyStatus as S

A = ReviewAction
#: The whole table, written out: (status, action) -> the status it leads to.
ALLOWED = {
    (S.APPLIED, A.APPROVE): S.APPROVED,
    (S.APPLIED, A.REJECT): S.REJECTED,
    (S.APPROVED, A.SUSPEND): S.SUSPENDED,
    (S.SUSPENDED, A.REINSTATE): S.APPROVED,
}


@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("action", list(A))
def test_every_status_and_action(status, action):
    if (status, action) in ALLOWED:
        assert decide(action, status) is ALLOWED[(status, action)]
        assert decide(action.value, status.value) is ALLOWED[(status, action)]
    else:
        with pytest.raises(ReviewRefused, match=f"a company that is {status.value} cannot be"):
            decide(action, status)


@pytest.mark.parametrize("status", list(S))
def test_the_buttons_are_the_allowed_actions(status):
    assert set(actions_for(status)) == {a for (s, a) in ALLOWED if s is status}


@pytest.mark.parametrize("action", ["delete", "", "approve; DROP TABLE companies", "<b>x</b>"])
def test_an_unknown_action_is_refused_not_raised_as_something_else(action):
    """Hostile input: an action that is no review action (SQL, markup, empty)."""
    with pytest.raises(ReviewRefused, match="is not a review action"):
        decide(action, S.APPLIED)


def test_only_an_approved_company_answers_jobs():
    assert [s for s in S if may_answer_jobs(s)] == [S.APPROVED]
