"""User accounts: password hashing, creation, password changes, disabling, authentication.

Shared by the CLI (``cti users ...``, ``cti db seed``) and the web login. Every change is
written to the audit log in the same transaction.
"""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.store import audit
from cti.store.base import utcnow
from cti.store.companies import Company
from cti.store.counties import UnknownCounty, county_id_by_code
from cti.store.users import INTERFACE_PATTERN, USERNAME_PATTERN, LoginAttempt, Role, User

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this keeps an unknown username as slow as a wrong password."""
    return _hasher.hash(secrets.token_urlsafe(16))


def prepare_logins() -> None:
    """Make the dummy hash now (0.2 s of argon2), not at import: every ``cti`` command
    imports this module, and only a process that serves logins needs it. The app calls
    this when it is built, so even the first unknown username is as slow as the rest."""
    _dummy_hash()


MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 takes anything; refuse megabyte "passwords" early


class AccountError(ValueError):
    """A request about an account that cannot be honoured; the message is safe to show."""


class AccountConflict(AccountError):
    """The value is valid but another account has it (a username, a phone)."""


class LoginThrottled(Exception):
    """Too many failed logins for this username or address in the window."""


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)

    @property
    def max_failures_per_ip(self) -> int:
        # One address may carry a whole call-centre floor behind NAT: allow more.
        return self.max_failures * 4


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")


def validate_username(username: str) -> str:
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise AccountError(
            "username must be 2-32 characters: lower-case letters, digits, '.', '_', '-'"
        )
    return username


def validate_interface(interface: str | None, phones: frozenset[str] | None = None) -> str | None:
    """``None`` for no phone; else the interface, which must look like ``PJSIP/1001`` and,
    when ``phones`` is given (the agents' endpoints in pjsip.conf), be one of them."""
    if interface in (None, ""):
        return None
    if not re.fullmatch(INTERFACE_PATTERN, interface):
        raise AccountError("interface must look like PJSIP/1001")
    if phones is not None and interface not in phones:
        known = ", ".join(sorted(phones)) or "none"
        raise AccountError(f"{interface} is not an agent phone in pjsip.conf (there: {known})")
    return interface


def validate_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AccountError(f"role must be one of {', '.join(r.value for r in Role)}") from None


def validate_display_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 120 or any(ord(c) < 32 for c in name):
        raise AccountError("display name must be 1-120 printable characters")
    return name


EMAIL_MAX = 254


def validate_email(value: str | None) -> str | None:
    """One plain address (``name@domain``) or None for none; stored as typed, trimmed."""
    text = (value or "").strip()
    if not text:
        return None
    local, at, domain = text.rpartition("@")
    if (
        len(text) > EMAIL_MAX
        or not at
        or not local
        or "." not in domain
        or domain.startswith(".")
        or domain.endswith(".")
        or "@" in local
        or any(ord(c) <= 32 or ord(c) == 127 or c in '<>,;:"()[]\\' for c in text)
    ):
        raise AccountError("email must be one address like name@example.org")
    return text


async def county_id_for(
    session: AsyncSession, code: str | None, *, keep: int | None = None
) -> int | None:
    """The county a user is given; a retired county is refused, unless it is ``keep``
    (the one the user already has: saving their other details does not move them)."""
    try:
        county_id = await county_id_by_code(session, code)
        if county_id is not None and county_id != keep:
            await county_id_by_code(session, code, for_new=True)
        return county_id
    except UnknownCounty as e:
        raise AccountError(str(e)) from None


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    role: str,
    password: str,
    display_name: str | None = None,
    county: str | None = None,
    interface: str | None = None,
    actor: User | None = None,
    phones: frozenset[str] | None = None,
    company_id: int | None = None,
) -> User:
    """Create a user (not committed). Raises AccountError on any invalid value,
    AccountConflict on a taken one; ``phones`` as in :func:`validate_interface`.

    A ``company`` account acts for the company ``company_id`` names (required for that
    role, refused for every other) and has no county and no phone."""
    username = validate_username(username)
    role_ = validate_role(role)
    check_password_strength(password)
    interface = validate_interface(interface, phones)
    display = validate_display_name(display_name or username)
    await _check_company(session, role_, company_id, county, interface)
    if await session.scalar(select(User.id).where(User.username == username)):
        raise AccountConflict(f"username {username!r} is taken")
    await _check_interface_free(session, interface, None)
    user = User(
        company_id=company_id,
        username=username,
        display_name=display,
        password_hash=hash_password(password),
        role=role_.value,
        county_id=await county_id_for(session, county),
        interface=interface,
        active=True,
    )
    session.add(user)
    await session.flush()
    audit.record(
        session,
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "system",
        action="user.create",
        object_type="user",
        object_id=user.id,
        detail={"username": username, "role": role_.value, "interface": interface},
    )
    return user


async def _check_company(
    session: AsyncSession,
    role: Role,
    company_id: int | None,
    county: str | None,
    interface: str | None,
) -> None:
    if role is not Role.COMPANY:
        if company_id is not None:
            raise AccountError("only a company account belongs to a company")
        return
    if company_id is None or await session.get(Company, company_id) is None:
        raise AccountError("a company account needs the company it acts for")
    if county or interface:
        raise AccountError("a company account has no county and no phone")


async def _check_interface_free(
    session: AsyncSession, interface: str | None, user_id: int | None
) -> None:
    if not interface:
        return
    taken = select(User.id).where(User.interface == interface)
    if user_id is not None:
        taken = taken.where(User.id != user_id)
    if await session.scalar(taken):
        raise AccountConflict(f"interface {interface} already belongs to another user")


#: What :func:`update_user` may change; ``password`` is never written to the audit log.
EDITABLE = ("display_name", "role", "county", "interface", "email", "active", "password")


async def update_user(
    session: AsyncSession,
    user: User,
    changes: dict[str, object],
    actor: User,
    *,
    phones: frozenset[str] | None = None,
    ip: str | None = None,
) -> dict[str, object]:
    """Apply ``changes`` (keys of ``EDITABLE``; a key that is absent stays as it is) to
    ``user``, all or nothing, audited as one ``user.update`` (not committed). Returns what
    was audited. Raises AccountError / AccountConflict; ``phones`` as in
    :func:`validate_interface`."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise AccountError(f"cannot change {', '.join(sorted(unknown))}")
    if changes.get("display_name") is not None:
        user.display_name = validate_display_name(str(changes["display_name"]))
    if changes.get("role") is not None:
        role = validate_role(str(changes["role"])).value
        if user.id == actor.id and role != user.role:
            raise AccountError("you cannot change your own role")
        if role != user.role and Role.COMPANY.value in (role, user.role):
            raise AccountError("a company's account and the centre's staff are kept apart")
        user.role = role
    if "county" in changes:
        county = changes["county"]
        user.county_id = await county_id_for(
            session, str(county) if county else None, keep=user.county_id
        )
    if "interface" in changes:
        value = changes["interface"]
        interface = validate_interface(str(value) if value else None, phones)
        await _check_interface_free(session, interface, user.id)
        user.interface = interface
    if "email" in changes:
        user.email = validate_email(str(changes["email"]) if changes["email"] else None)
    if changes.get("password") is not None:
        await set_password(session, user, str(changes["password"]), actor=actor)
    if changes.get("active") is not None:
        if not changes["active"] and user.id == actor.id:
            raise AccountError("you cannot disable your own account")
        await set_active(session, user, bool(changes["active"]), actor=actor)
    detail = {k: v for k, v in changes.items() if k != "password"}
    audit.record(
        session,
        actor_id=actor.id,
        actor_name=actor.username,
        action="user.update",
        object_type="user",
        object_id=user.id,
        detail=detail,
        ip=ip,
    )
    return detail


async def get_user(session: AsyncSession, username: str) -> User:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise AccountError(f"no user {username!r}")
    return user


async def set_password(
    session: AsyncSession, user: User, password: str, actor: User | None = None
) -> None:
    check_password_strength(password)
    user.password_hash = hash_password(password)
    audit.record(
        session,
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "system",
        action="user.set_password",
        object_type="user",
        object_id=user.id,
    )


async def set_active(
    session: AsyncSession, user: User, active: bool, actor: User | None = None
) -> None:
    from cti.store.users import WebSession  # local: only this path ends sessions

    user.active = active
    if not active:  # a disabled user is logged out everywhere at once
        await session.execute(WebSession.__table__.delete().where(WebSession.user_id == user.id))
    audit.record(
        session,
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else "system",
        action="user.enable" if active else "user.disable",
        object_type="user",
        object_id=user.id,
    )


async def authenticate(
    session: AsyncSession,
    username: str,
    password: str,
    ip: str | None,
    policy: LoginPolicy,
) -> User | None:
    """Check a login. Returns the user, or None for a wrong/unknown/disabled account.

    Every attempt is recorded. Raises LoginThrottled, before checking the password, when the
    username or the address has had too many failures within the policy window. The caller
    commits (the attempt row must be kept even when the login fails).
    """
    username = username.strip().lower()[:64]
    since = utcnow() - policy.window
    failures = await session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.username == username, LoginAttempt.at >= since, ~LoginAttempt.success)
    )
    ip_failures = 0
    if ip:
        ip_failures = await session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.ip == ip, LoginAttempt.at >= since, ~LoginAttempt.success)
        )
    if failures >= policy.max_failures or ip_failures >= policy.max_failures_per_ip:
        session.add(LoginAttempt(username=username, ip=ip, success=False))
        raise LoginThrottled()

    user = await session.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else _dummy_hash(), password)
    ok = ok and user is not None and user.active
    session.add(LoginAttempt(username=username, ip=ip, success=ok))
    return user if ok else None
