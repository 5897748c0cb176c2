"""cti.dispatch.eligibility.order and check: pure ranking and refusal reasons."""

from __future__ import annotations

from cti.dispatch.eligibility import Candidate, Standing, check, order
from cti.dispatch.reputation import Facts, Reputation


def _c(cid: int, score: float, load: int, name: str = "") -> Candidate:
    return Candidate(cid, name or f"Company {cid}", Reputation(score, Facts(), "x"), load)


def test_best_reputation_first_then_least_load_then_name():
    ranked = order(
        [_c(1, 60, 0), _c(2, 80, 5), _c(3, 80, 1), _c(4, 60, 0, "Aardvark"), _c(5, 40, 0)]
    )
    assert [s.company_id for s in ranked] == [3, 2, 4, 1, 5]
    assert [s.rank for s in ranked] == [1, 2, 3, 4, 5]


def test_why_names_reputation_and_load():
    ranked = order([_c(1, 72.5, 1), _c(2, 72.5, 3), _c(3, 10, 0)])
    assert ranked[0].why == "reputation 72.5 (x); 1 open job"
    assert ranked[1].why.startswith("reputation 72.5 (x); 3 open jobs; same reputation")
    assert ranked[2].why == "reputation 10.0 (x); no open jobs"
    assert ranked[0].reasons()["reputation"]["score"] == 72.5


def test_no_candidates_no_suggestions():
    assert order([]) == []


def test_check_says_the_first_reason_a_company_cannot_take_the_ticket():
    ok = Standing("approved", True, True, 2)
    assert check(ok) is None
    assert (
        check(Standing("suspended", True, True, 2))
        == "the company is not approved (it is suspended)"
    )
    assert (
        check(Standing("applied", True, True, 2)) == "the company is not approved (it is applied)"
    )
    assert "county" in check(Standing("approved", False, True, 2))
    assert "category" in check(Standing("approved", True, False, 2))
    assert "certified" in check(Standing("approved", True, True, 0))
