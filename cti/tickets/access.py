"""Who may see which ticket, as data and as SQL conditions (pure: nothing here runs a query).

Agents see their county's tickets (every county's when their account has none) and the
tickets they own wherever they are; supervisors, admins and inspectors see their county's
(all when none). A service company never sees tickets through the centre's routes (its
portal shows it its own dispatches). A ticket outside the scope answers 404, exactly like
a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_

from cti.store.tickets import Ticket
from cti.store.users import Role, User

#: Who may read tickets at all, and who may change them (inspectors only read).
READERS = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN, Role.INSPECTOR)
WRITERS = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class Scope:
    """``everything``: no county limit; else ``county_id`` (None: none at all). An agent's
    ``owner_id`` adds the tickets they own. ``nothing``: a company account."""

    county_id: int | None = None
    owner_id: int | None = None
    everything: bool = False
    nothing: bool = False


def scope_of(user: User) -> Scope:
    role = Role(user.role)
    if role not in READERS:
        return Scope(nothing=True)
    owner = user.id if role is Role.AGENT else None
    if user.county_id is None:
        return Scope(everything=True, owner_id=owner)
    return Scope(county_id=user.county_id, owner_id=owner)


def conditions(scope: Scope) -> list[ColumnElement[bool]]:
    """WHERE terms on ``tickets`` limiting a query to ``scope``."""
    if scope.nothing:
        return [false()]
    if scope.everything:
        return []
    terms: list[ColumnElement[bool]] = []
    if scope.county_id is not None:
        terms.append(Ticket.county_id == scope.county_id)
    if scope.owner_id is not None:
        terms.append(Ticket.owner_id == scope.owner_id)
    return [or_(*terms)] if terms else [false()]


def may_see(scope: Scope, ticket: Ticket) -> bool:
    """The same rule as :func:`conditions`, for a row already loaded."""
    if scope.nothing:
        return False
    if scope.everything:
        return True
    return (scope.county_id is not None and ticket.county_id == scope.county_id) or (
        scope.owner_id is not None and ticket.owner_id == scope.owner_id
    )
