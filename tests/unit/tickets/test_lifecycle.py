"""The ticket lifecycle, as a table: every action from every state for every role is
either the move written below or refused. The table is written out by hand, apart from
the module's own, so a change to one without the other fails here."""

from __future__ import annotations

import itertools

import pytest

from cti.store.tickets import TicketStatus
from cti.store.users import Role
from cti.tickets.lifecycle import Action, TransitionRefused, actions_for, decide

DESK = "agent supervisor admin"
LEADS = "supervisor admin"
COMPANY = "company"

#: action: (from states, to state, roles allowed)
EXPECTED = {
    "answer": ("new reopened", "answered", DESK),
    "dispatch": ("new declined reopened", "dispatched", DESK),
    "accept": ("dispatched", "accepted", COMPANY),
    "decline": ("dispatched", "declined", COMPANY),
    "withdraw": ("dispatched accepted in_service", "declined", LEADS),
    "start": ("accepted", "in_service", COMPANY),
    "finish": ("accepted in_service", "done", COMPANY),
    "revisit": ("done", "revisited", DESK),
    "close": ("answered revisited", "closed", DESK),
    "complain": ("answered done revisited closed", "reopened", DESK),
    "cancel": ("new declined reopened", "cancelled", DESK),
}


def _cases():
    for action, state, role in itertools.product(Action, TicketStatus, Role):
        sources, target, roles = EXPECTED[action.value]
        allowed = state.value in sources.split() and role.value in roles.split()
        yield pytest.param(
            action, state, role, target if allowed else None, id=f"{role}-{action}-{state}"
        )


def test_the_table_names_every_action():
    assert set(EXPECTED) == {a.value for a in Action}


@pytest.mark.parametrize(("action", "state", "role", "target"), list(_cases()))
def test_every_move_for_every_role(action, state, role, target):
    if target is None:
        with pytest.raises(TransitionRefused) as refused:
            decide(action, state, role)
        assert refused.value.action is action and str(refused.value)
        assert action not in actions_for(state, role)
    else:
        assert decide(action, state, role) == TicketStatus(target)
        assert action in actions_for(state, role)


def test_refusals_say_why_in_words():
    with pytest.raises(TransitionRefused, match="a company cannot close a ticket"):
        decide("close", "revisited", "company")
    with pytest.raises(TransitionRefused, match="that is new cannot be accepted"):
        decide("accept", "new", "company")
    with pytest.raises(TransitionRefused, match="in service cannot be dispatched"):
        decide("dispatch", "in_service", "agent")


@pytest.mark.parametrize(
    ("action", "state", "role"),
    [
        ("drop table", "new", "agent"),  # not an action
        ("close", "open", "agent"),  # a state of before the lifecycle
        ("close", "answered", "root"),  # not a role
        ("", "", ""),
    ],
)
def test_unknown_words_from_a_request_are_refused_not_raised(action, state, role):
    with pytest.raises(TransitionRefused, match="not a ticket action"):
        decide(action, state, role)


def test_an_inspector_reads_tickets_and_moves_none():
    assert all(actions_for(state, Role.INSPECTOR) == () for state in TicketStatus)


def test_closed_and_cancelled_are_ends_but_a_complaint_reopens_a_closed_one():
    assert actions_for("cancelled", "admin") == ()
    assert actions_for("closed", "agent") == (Action.COMPLAIN,)
