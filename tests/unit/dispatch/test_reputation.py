"""cti.dispatch.reputation.score: facts in, a score and its explanation out."""

from __future__ import annotations

from cti.dispatch.reputation import NEUTRAL, Facts, score


def test_no_facts_is_exactly_neutral_and_says_so():
    rep = score(Facts())
    assert rep.score == NEUTRAL
    assert rep.explanation == "no history yet: neutral"


def test_few_facts_stay_close_to_neutral_many_move_far():
    """One perfect job barely moves a new company; fifty of them move it a long way."""
    one = score(Facts(revisits=1, mean_satisfaction=5.0, jobs_done=1, done_in_time=1, offered=1))
    fifty = score(
        Facts(revisits=50, mean_satisfaction=5.0, jobs_done=50, done_in_time=50, offered=50)
    )
    assert NEUTRAL < one.score < 60
    assert fifty.score > 90
    assert "few facts: close to neutral" in one.explanation
    assert "few facts" not in fifty.explanation


def test_an_established_good_company_beats_a_new_one_with_one_perfect_job():
    new = score(Facts(revisits=1, mean_satisfaction=5.0, jobs_done=1, done_in_time=1, offered=1))
    established = score(
        Facts(
            revisits=100,
            mean_satisfaction=4.6,
            jobs_done=100,
            done_in_time=92,
            offered=104,
            declines=4,
        )
    )
    assert established.score > new.score


def test_bad_facts_sink_below_neutral_each_on_its_own():
    base = dict(revisits=20, mean_satisfaction=3.0, jobs_done=20, done_in_time=10, offered=20)
    middle = score(Facts(**base)).score
    assert score(Facts(**{**base, "mean_satisfaction": 1.5})).score < middle
    assert score(Facts(**{**base, "done_in_time": 2})).score < middle
    assert score(Facts(**{**base, "declines": 15, "offered": 35})).score < middle
    assert score(Facts(**{**base, "complaints_upheld": 8})).score < middle
    worst = score(
        Facts(
            revisits=40,
            mean_satisfaction=1.0,
            jobs_done=40,
            done_in_time=0,
            offered=80,
            declines=80,
            complaints_upheld=40,
        )
    )
    assert worst.score < 10


def test_score_stays_between_0_and_100_even_for_odd_facts():
    """More complaints than jobs, more in time than done: clamped, not out of range."""
    odd = score(Facts(jobs_done=1, done_in_time=5, complaints_upheld=9, offered=0, declines=3))
    assert 0 <= odd.score <= 100


def test_explanation_names_the_facts():
    rep = score(
        Facts(
            revisits=12,
            mean_satisfaction=4.25,
            jobs_done=10,
            done_in_time=9,
            offered=14,
            declines=1,
            complaints_upheld=1,
        )
    )
    assert rep.explanation == (
        "4.2/5 from 12 revisits; 9 of 10 jobs done in time; 1 of 14 offers declined; "
        "1 complaint upheld"
    )
    assert rep.as_dict()["facts"]["revisits"] == 12
