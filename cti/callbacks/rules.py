"""What an agent's attempt to call a citizen back does to the request. Pure.

An agent calls the number and says how it went:

* ``reached``: spoke with the citizen; the request is done.
* ``no_answer``: try again later; after ``MAX_ATTEMPTS`` tries nobody is asked to again.
* ``wrong_number``: the number does not reach the citizen; nothing more can be done.

Only an open request takes an attempt: two agents who pick the same request cannot both
close it, the second is told it was already handled.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cti.store.callbacks import CallbackStatus

#: Tries before an unanswered request is given up ("unreachable").
MAX_ATTEMPTS = 3
#: The agent's note, stored verbatim (it is shown with textContent, never as HTML).
MAX_NOTE = 1000


class AttemptResult(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"


class CallbackError(ValueError):
    """The attempt cannot be recorded; ``field`` names what the caller must change."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class AlreadyHandled(CallbackError):
    """The request is no longer open (another agent, or an earlier click, closed it)."""


@dataclass(frozen=True, slots=True)
class State:
    status: str
    attempts: int


def after_attempt(state: State, result: AttemptResult) -> State:
    """The request's state after one attempt with ``result``."""
    if state.status != CallbackStatus.OPEN:
        raise AlreadyHandled("status", f"this request is already {state.status}")
    attempts = state.attempts + 1
    if result is AttemptResult.REACHED:
        return State(CallbackStatus.DONE.value, attempts)
    if result is AttemptResult.WRONG_NUMBER:
        return State(CallbackStatus.UNREACHABLE.value, attempts)
    status = CallbackStatus.UNREACHABLE if attempts >= MAX_ATTEMPTS else CallbackStatus.OPEN
    return State(status.value, attempts)


def clean_note(note: str | None) -> str | None:
    """The note as stored: trimmed, None when empty; refuses NUL and over-long text."""
    if note is None:
        return None
    text = note.strip()
    if not text:
        return None
    if "\0" in text:
        raise CallbackError("note", "the note contains a NUL character")
    if len(text) > MAX_NOTE:
        raise CallbackError("note", f"the note is longer than {MAX_NOTE} characters")
    return text
