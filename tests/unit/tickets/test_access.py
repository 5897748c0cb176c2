"""Who sees which ticket: the scope per role, as data and as the same rule on a row."""

from cti.store.tickets import Ticket
from cti.store.users import Role, User
from cti.tickets import access


def _user(role, county_id=None, uid=1):
    return User(id=uid, role=role.value, county_id=county_id)


def test_scope_per_role():
    assert access.scope_of(_user(Role.AGENT, 2, uid=7)) == access.Scope(county_id=2, owner_id=7)
    assert access.scope_of(_user(Role.AGENT, None, uid=7)) == access.Scope(
        everything=True, owner_id=7
    )
    for role in (Role.SUPERVISOR, Role.ADMIN, Role.INSPECTOR):
        assert access.scope_of(_user(role, 3)) == access.Scope(county_id=3)
        assert access.scope_of(_user(role)) == access.Scope(everything=True)
    assert access.scope_of(_user(Role.COMPANY)).nothing
    # an editor writes the knowledge base: no tickets, even centre-wide
    assert access.scope_of(_user(Role.EDITOR)).nothing


def test_an_editor_sees_no_recordings_but_of_calls_they_answered():
    """Editors reach the recordings routes as centre staff (AnyUser): their scope is an
    agent's (their own calls, which they never answer), not a centre-wide one's."""
    from cti.recordings.search import Scope
    from cti.web.recordings.shared import scope_of

    assert scope_of(_user(Role.EDITOR, uid=5)) == Scope(county_id=None, agent_id=5)
    assert scope_of(_user(Role.ADMIN)) == Scope(everything=True)


def test_may_see_agrees_with_the_scope():
    own_elsewhere = Ticket(county_id=9, owner_id=7)
    in_county = Ticket(county_id=2, owner_id=99)
    no_county = Ticket(county_id=None, owner_id=99)
    agent = access.scope_of(_user(Role.AGENT, 2, uid=7))
    assert access.may_see(agent, own_elsewhere) and access.may_see(agent, in_county)
    assert not access.may_see(agent, no_county)
    supervisor = access.scope_of(_user(Role.SUPERVISOR, 2))
    assert not access.may_see(supervisor, own_elsewhere)
    assert access.may_see(access.scope_of(_user(Role.ADMIN)), no_county)
    assert not access.may_see(access.scope_of(_user(Role.COMPANY)), in_county)
