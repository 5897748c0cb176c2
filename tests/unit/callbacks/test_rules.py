"""An attempt's effect on a callback request, fed as data."""

import pytest

from cti.callbacks.rules import (
    MAX_ATTEMPTS,
    MAX_NOTE,
    AlreadyHandled,
    AttemptResult,
    CallbackError,
    State,
    after_attempt,
    clean_note,
)


def test_reached_closes_the_request_and_counts_the_attempt():
    assert after_attempt(State("open", 1), AttemptResult.REACHED) == State("done", 2)


def test_a_wrong_number_gives_up_at_once():
    assert after_attempt(State("open", 0), AttemptResult.WRONG_NUMBER) == State("unreachable", 1)


def test_no_answer_keeps_it_open_until_the_last_attempt():
    state = State("open", 0)
    for _ in range(MAX_ATTEMPTS - 1):
        state = after_attempt(state, AttemptResult.NO_ANSWER)
        assert state.status == "open"
    state = after_attempt(state, AttemptResult.NO_ANSWER)
    assert state == State("unreachable", MAX_ATTEMPTS)


@pytest.mark.parametrize("status", ["done", "unreachable"])
@pytest.mark.parametrize("result", list(AttemptResult))
def test_only_an_open_request_takes_an_attempt(status, result):
    with pytest.raises(AlreadyHandled, match=f"already {status}"):
        after_attempt(State(status, 1), result)


def test_notes_are_kept_verbatim_but_bounded():
    """Tried: HTML, SQL, quotes and newlines (kept as written), blank (none), NUL and one
    character too many (refused, naming the field)."""
    hostile = '<script>alert(1)</script>\'; DROP TABLE calls; --\n"x"'
    assert clean_note(hostile) == hostile
    assert clean_note("  called at 9:10  ") == "called at 9:10"
    assert clean_note("   ") is None and clean_note(None) is None
    assert clean_note("x" * MAX_NOTE) == "x" * MAX_NOTE
    for bad in ("a\0b", "x" * (MAX_NOTE + 1)):
        with pytest.raises(CallbackError) as caught:
            clean_note(bad)
        assert caught.value.field == "note"
