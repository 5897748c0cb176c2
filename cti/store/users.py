"""Users (agents, inspectors, supervisors, admins, editors, companies' logins), their browser
sessions and login attempts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column

from cti.store.base import Base, Timestamps


class Role(StrEnum):
    AGENT = "agent"
    INSPECTOR = "inspector"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    #: A service company's own login: its portal and API see only its own work.
    COMPANY = "company"
    #: Writes the knowledge base's articles (reads it like all centre staff; no tickets,
    #: no recordings).
    EDITOR = "editor"


ROLE_VALUES = tuple(role.value for role in Role)
#: An agent's phone as Asterisk names the queue member: technology/resource.
INTERFACE_PATTERN = r"^(PJSIP|SIP|IAX2|Local)/[A-Za-z0-9_.@-]{1,64}$"
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{1,31}$"


class User(Timestamps, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLE_VALUES!r}", name="role_known"),
        CheckConstraint(f"interface ~ '{INTERFACE_PATTERN}'", name="interface_format"),
        CheckConstraint(f"username ~ '{USERNAME_PATTERN}'", name="username_format"),
        CheckConstraint("(role = 'company') = (company_id IS NOT NULL)", name="company_role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    #: Null means every county (centre-wide staff).
    county_id: Mapped[int | None] = mapped_column(ForeignKey("counties.id", ondelete="SET NULL"))
    #: The agent's phone as a queue member, e.g. ``PJSIP/1001``; unique across users.
    interface: Mapped[str | None] = mapped_column(String(80), unique=True)
    active: Mapped[bool] = mapped_column(default=True, server_default="true")
    #: Where a supervisor gets the wallboard alerts of their county emailed (optional).
    email: Mapped[str | None] = mapped_column(String(254))
    #: The company a ``company`` account acts for (and only for it).
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )


class WebSession(Base):
    """A server-side browser session. Only a SHA-256 of the cookie token is stored."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    ip: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(String(255))


class LoginAttempt(Base):
    """Every login attempt, kept for rate limiting (per username and per address) and audit."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_username_at", "username", "at"),
        Index("ix_login_attempts_ip_at", "ip", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(INET)
    at: Mapped[datetime] = mapped_column(server_default=func.now())
    success: Mapped[bool]


class ApiToken(Base):
    """A machine client's bearer token: it acts as ``user`` for as long as that user is
    active and still has ``role`` (the role it was issued for), until revoked or expired.
    Only the SHA-256 of the token is kept; ``prefix`` (its first characters) lets a person
    tell tokens apart in lists and logs."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint(f"role IN {ROLE_VALUES!r}", name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
