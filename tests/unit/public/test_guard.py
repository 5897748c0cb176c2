"""The public forms' guard, fed data: tokens (good, forged, altered, another form's,
another key's, too fast, expired), the honeypot, field sizes, and the sliding window.

Hostile input tried: a token with its time edited, a token of the order form sent to the
status form, a 10 kB token, a token with extra dots, an unknown field, a field one
character over its limit, a honeypot holding only spaces (passes) and holding a URL."""

from __future__ import annotations

import pytest

from cti.public import guard
from cti.public.guard import Refused, SlidingWindow, TokenPolicy

SECRET = b"k" * 32
POLICY = TokenPolicy(min_age_s=2.0, max_age_s=3600.0)
T0 = 1_800_000_000.0


def reason(call) -> str:
    with pytest.raises(Refused) as caught:
        call()
    return caught.value.reason


def test_a_token_passes_within_its_window_and_says_its_age():
    token = guard.issue_token(SECRET, "order", T0)
    assert guard.check_token(SECRET, "order", token, T0 + 2.5, POLICY) == pytest.approx(2.5)
    assert guard.check_token(SECRET, "order", token, T0 + 3599, POLICY) == pytest.approx(3599)


def test_two_tokens_of_one_moment_differ():
    assert guard.issue_token(SECRET, "order", T0) != guard.issue_token(SECRET, "order", T0)


def test_too_fast_and_expired():
    token = guard.issue_token(SECRET, "order", T0)
    assert reason(lambda: guard.check_token(SECRET, "order", token, T0 + 1.9, POLICY)) == (
        "too_fast"
    )
    assert reason(lambda: guard.check_token(SECRET, "order", token, T0 + 3601, POLICY)) == (
        "expired"
    )
    # A token from the future (a clock far off, or an edited time) is no good either.
    assert reason(lambda: guard.check_token(SECRET, "order", token, T0 - 60, POLICY)) == "expired"


@pytest.mark.parametrize(
    "make",
    [
        lambda t: "",
        lambda t: None,
        lambda t: "x" * 10_000,
        lambda t: t.replace(t.split(".")[1], str(int(t.split(".")[1]) - 60_000)),  # older
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
        lambda t: "order." + t,
        lambda t: t.replace("order", "status", 1),
        lambda t: guard.issue_token(b"another key", "order", T0),
    ],
    ids=["empty", "none", "huge", "time-edited", "mac-edited", "extra-dot", "form-edited", "key"],
)
def test_forged_tokens(make):
    token = make(guard.issue_token(SECRET, "order", T0))
    assert reason(lambda: guard.check_token(SECRET, "order", token, T0 + 10, POLICY)) == "forged"


def test_another_forms_token_is_forged():
    token = guard.issue_token(SECRET, "order", T0)
    assert reason(lambda: guard.check_token(SECRET, "join", token, T0 + 10, POLICY)) == "forged"


def test_honeypot():
    guard.check_honeypot(None)
    guard.check_honeypot("")
    guard.check_honeypot("   ")
    assert reason(lambda: guard.check_honeypot("http://spam.example")) == "honeypot"


def test_sizes():
    limits = {"name": 5, "phone": 3}
    guard.check_sizes({"name": "12345", "phone": ""}, limits)
    assert reason(lambda: guard.check_sizes({"name": "123456"}, limits)) == "oversize"
    assert reason(lambda: guard.check_sizes({"evil": "x"}, limits)) == "oversize"
    with pytest.raises(Refused) as caught:
        guard.check_sizes({"phone": "1234"}, limits)
    assert caught.value.field == "phone"


def test_sliding_window_allows_the_limit_then_refuses_until_the_oldest_leaves():
    window = SlidingWindow(limit=3, window_s=60)
    assert [window.hit("a", T0 + i) for i in range(4)] == [True, True, True, False]
    assert window.hit("b", T0 + 3), "another key has its own count"
    assert not window.hit("a", T0 + 59.9)
    assert window.hit("a", T0 + 60.0), "the first hit left the window"
    assert not window.hit("a", T0 + 60.5)
    assert window.hit("a", T0 + 61.0)


def test_refused_hits_are_not_recorded():
    window = SlidingWindow(limit=1, window_s=10)
    assert window.hit("a", T0)
    for i in range(100):
        assert not window.hit("a", T0 + 1 + i * 0.01)
    assert window.hit("a", T0 + 10), "the refusals did not extend the window"


def test_sliding_window_memory_is_bounded():
    window = SlidingWindow(limit=1, window_s=60, max_keys=100)
    for i in range(1000):
        window.hit(f"k{i}", T0)
    assert len(window) == 100
    assert not window.hit("k999", T0 + 1), "the most recent keys are kept"


def test_check_rate_refuses_with_the_reason_given():
    window = SlidingWindow(limit=1, window_s=60)
    guard.check_rate(window, "x", T0, "rate_phone")
    assert reason(lambda: guard.check_rate(window, "x", T0, "rate_phone")) == "rate_phone"


def test_unknown_reasons_are_a_programming_error():
    with pytest.raises(ValueError):
        Refused("because")
