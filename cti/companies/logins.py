"""A company's portal logins: ``company`` accounts that act for it and only for it, created
by an admin with a generated password shown once (as ``/admin/users`` does)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cti import accounts
from cti.store.companies import Company, CompanyStatus
from cti.store.users import Role, User


@dataclass(frozen=True, slots=True)
class NewLogin:
    user: User
    password: str  # shown once, never stored


class LoginRefused(accounts.AccountError):
    """The company may not have a new login in its status."""


async def create_login(db: AsyncSession, company: Company, username: str, actor: User) -> NewLogin:
    """A new ``company`` account for ``company`` (approved only: an applicant or a rejected
    company has no work to see), named after the company, with a generated password (not
    committed). Raises :class:`accounts.AccountError` / ``AccountConflict``."""
    if company.status != CompanyStatus.APPROVED.value:
        raise LoginRefused(f"a company that is {company.status} gets no portal login")
    password = accounts.generate_password()
    user = await accounts.create_user(
        db,
        username=username.strip(),
        role=Role.COMPANY.value,
        password=password,
        display_name=company.name[:120],
        actor=actor,
        company_id=company.id,
    )
    return NewLogin(user=user, password=password)


async def logins_of(db: AsyncSession, company_id: int) -> list[User]:
    return list(
        (
            await db.scalars(
                select(User).where(User.company_id == company_id).order_by(User.username)
            )
        ).all()
    )
