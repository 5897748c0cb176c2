"""SQLAlchemy models, one module per aggregate. Importing this package registers them all
on ``Base.metadata`` (Alembic's env and the tests rely on that)."""

from cti.store import (
    audit,
    callbacks,
    calls,
    catalog,
    citizens,
    companies,
    counties,
    knowledge,
    password_links,
    recordings,
    reports,
    revisits,
    routing,
    screen_pops,
    sms,
    tickets,
    users,
    volunteers,
    wallboard,
)
from cti.store.base import Base

__all__ = [
    "Base",
    "audit",
    "callbacks",
    "calls",
    "catalog",
    "citizens",
    "companies",
    "counties",
    "knowledge",
    "password_links",
    "recordings",
    "reports",
    "revisits",
    "routing",
    "screen_pops",
    "sms",
    "tickets",
    "users",
    "volunteers",
    "wallboard",
]
