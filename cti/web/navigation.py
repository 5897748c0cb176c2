"""What each role may open: the navigation bar on every page and the home page's list.

A role's console adds itself here when it lands; ``tests/integration/web/test_pages.py``
checks that every link opens for the roles it is shown to.
"""

from __future__ import annotations

from dataclasses import dataclass

from cti.store.users import Role


@dataclass(frozen=True, slots=True)
class Link:
    href: str
    label: str


AGENT_CONSOLE = Link("/agent", "Agent console")
RECORDINGS = Link("/recordings", "Recordings")
ROUTING = Link("/admin/routing", "County routing")
USERS = Link("/admin/users", "Users")
AUDIT = Link("/admin/audit", "Audit log")
COUNTIES = Link("/admin/counties", "Counties")
CATALOGUE = Link("/admin/catalogue", "Catalogue")
TICKETS = Link("/tickets", "Tickets")
API_DOCS = Link("/api/docs", "API")
REVISITS = Link("/revisits", "Revisits")
COMPANIES = Link("/admin/companies", "Companies")
PORTAL = Link("/portal", "Jobs")
KNOWLEDGE = Link("/knowledge", "Knowledge")
WALLBOARD = Link("/supervisor", "Wallboard")
REPORTS = Link("/reports", "Reports")
VOLUNTEERS = Link("/admin/volunteers", "Volunteers")

BY_ROLE: dict[Role, tuple[Link, ...]] = {
    Role.AGENT: (AGENT_CONSOLE, TICKETS, REVISITS, KNOWLEDGE),
    Role.INSPECTOR: (RECORDINGS, TICKETS, KNOWLEDGE),  # tickets read-only: no buttons, no notes
    Role.SUPERVISOR: (WALLBOARD, TICKETS, RECORDINGS, REVISITS, REPORTS, KNOWLEDGE),
    Role.ADMIN: (
        USERS,
        COUNTIES,
        CATALOGUE,
        COMPANIES,
        ROUTING,
        TICKETS,
        RECORDINGS,
        AUDIT,
        REVISITS,
        KNOWLEDGE,
        WALLBOARD,
        REPORTS,
        VOLUNTEERS,
    ),
    Role.COMPANY: (PORTAL,),
    Role.EDITOR: (KNOWLEDGE,),
}
#: Shown to every role, after the role's own.
COMMON: tuple[Link, ...] = (API_DOCS,)


def links_for(role: Role | str) -> tuple[Link, ...]:
    """The pages ``role`` may open, in the order the bar shows them."""
    return BY_ROLE[Role(role)] + COMMON
