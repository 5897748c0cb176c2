"""The ticket lifecycle: which action moves a ticket from which state to which, and who may
take it. Pure: no database, no clock; :mod:`cti.tickets.service` applies what this decides
and writes the event.

::

    new ──answer──▶ answered ──close──▶ closed
     │                                    ▲
     └─dispatch─▶ dispatched ─accept─▶ accepted ─start─▶ in_service ─finish─▶ done
          ▲          │  ▲                 │                               │
          │       decline withdraw ◀──────┘ (and from in_service)      revisit
          │          ▼                                                    ▼
          └───── declined                         reopened ◀─complain─ revisited ─close─▶ closed
                                                     │
                                                  dispatch / answer again

A complaint either reopens the ticket (``complain``) or opens a new complaint ticket that
names it (``Ticket.complaint_of_id``): the second is a new ticket, not a transition.
``cancel`` withdraws a ticket nobody is working on (a duplicate, or the citizen no longer
needs it). Notes are not transitions: anyone who may see a ticket may write one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cti.store.tickets import TicketStatus as S
from cti.store.users import Role


class Action(StrEnum):
    ANSWER = "answer"  # an information request, answered by the agent on the call
    DISPATCH = "dispatch"  # hand it to a service company
    ACCEPT = "accept"  # the company takes the job
    DECLINE = "decline"  # the company will not do it: back to the agents
    WITHDRAW = "withdraw"  # the centre takes the job back from the company
    START = "start"  # the company is at work
    FINISH = "finish"  # the company says the work is done
    REVISIT = "revisit"  # the citizen was asked how it went
    CLOSE = "close"
    COMPLAIN = "complain"  # the citizen complains: the ticket is worked on again
    CANCEL = "cancel"


#: The centre's staff who work tickets; inspectors only read them.
_DESK = frozenset({Role.AGENT, Role.SUPERVISOR, Role.ADMIN})
_COMPANY = frozenset({Role.COMPANY})
_LEADS = frozenset({Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class Transition:
    action: Action
    sources: frozenset[S]
    target: S
    roles: frozenset[Role]


def _t(action: Action, sources: set[S], target: S, roles: frozenset[Role]) -> Transition:
    return Transition(action, frozenset(sources), target, roles)


#: Every allowed move; anything not listed here is refused.
TRANSITIONS: tuple[Transition, ...] = (
    _t(Action.ANSWER, {S.NEW, S.REOPENED}, S.ANSWERED, _DESK),
    _t(Action.DISPATCH, {S.NEW, S.DECLINED, S.REOPENED}, S.DISPATCHED, _DESK),
    _t(Action.ACCEPT, {S.DISPATCHED}, S.ACCEPTED, _COMPANY),
    _t(Action.DECLINE, {S.DISPATCHED}, S.DECLINED, _COMPANY),
    _t(Action.WITHDRAW, {S.DISPATCHED, S.ACCEPTED, S.IN_SERVICE}, S.DECLINED, _LEADS),
    _t(Action.START, {S.ACCEPTED}, S.IN_SERVICE, _COMPANY),
    _t(Action.FINISH, {S.ACCEPTED, S.IN_SERVICE}, S.DONE, _COMPANY),
    _t(Action.REVISIT, {S.DONE}, S.REVISITED, _DESK),
    _t(Action.CLOSE, {S.ANSWERED, S.REVISITED}, S.CLOSED, _DESK),
    _t(Action.COMPLAIN, {S.ANSWERED, S.DONE, S.REVISITED, S.CLOSED}, S.REOPENED, _DESK),
    _t(Action.CANCEL, {S.NEW, S.DECLINED, S.REOPENED}, S.CANCELLED, _DESK),
)
_BY_ACTION = {t.action: t for t in TRANSITIONS}

#: The moves that may name the knowledge article the agent answered from.
CITES_ARTICLE = frozenset({Action.ANSWER})

#: States in which the ticket is finished with (``closed_at`` is set on entering them).
FINAL = frozenset({S.CLOSED, S.CANCELLED})


class TransitionRefused(ValueError):
    """The action is not allowed from this state, or not for this role; the message says
    which, in words an agent can read."""

    def __init__(self, action: Action, state: S, role: Role, message: str) -> None:
        super().__init__(message)
        self.action = action
        self.state = state
        self.role = role


def decide(action: Action | str, state: S | str, role: Role | str) -> S:
    """The state ``action`` takes a ticket in ``state`` to when ``role`` takes it, or
    :class:`TransitionRefused`. Unknown actions, states and roles are refused, not raised
    as other errors: they come from requests."""
    try:
        action_, state_, role_ = Action(action), S(state), Role(role)
    except ValueError as exc:
        raise TransitionRefused(
            Action.CANCEL, S.NEW, Role.AGENT, f"not a ticket action: {exc}"
        ) from None
    move = _BY_ACTION[action_]
    if role_ not in move.roles:
        raise TransitionRefused(
            action_, state_, role_, f"a {role_.value} cannot {action_.value} a ticket"
        )
    if state_ not in move.sources:
        raise TransitionRefused(
            action_,
            state_,
            role_,
            f"a ticket that is {state_.value.replace('_', ' ')} cannot be "
            f"{_past(action_)} (it can be from: "
            f"{', '.join(sorted(s.value for s in move.sources))})",
        )
    return move.target


def actions_for(state: S | str, role: Role | str) -> tuple[Action, ...]:
    """What ``role`` may do to a ticket in ``state``, in the order of :data:`TRANSITIONS`
    (the buttons the ticket page shows)."""
    state_, role_ = S(state), Role(role)
    return tuple(t.action for t in TRANSITIONS if state_ in t.sources and role_ in t.roles)


def _past(action: Action) -> str:
    return {
        Action.ANSWER: "answered",
        Action.DISPATCH: "dispatched",
        Action.ACCEPT: "accepted",
        Action.DECLINE: "declined",
        Action.WITHDRAW: "withdrawn",
        Action.START: "started",
        Action.FINISH: "finished",
        Action.REVISIT: "revisited",
        Action.CLOSE: "closed",
        Action.COMPLAIN: "complained about",
        Action.CANCEL: "cancelled",
    }[action]
