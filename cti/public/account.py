"""The account the public site acts as: who opened a web order's ticket, created its
citizen, offered it to a company automatically. It cannot log in (disabled, no password)
and is made on first use, like the SMS gateway's (``cti.sms.account``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.store.users import Role, User
from cti.tickets.intake import Actor

USERNAME = "web-site"
DISPLAY_NAME = "Public web site"
#: Not an argon2 hash: no password verifies against it.
UNUSABLE_HASH = "!web"


async def site_account(db: AsyncSession) -> User:
    """The site's account (created when missing; concurrent first uses make one row).
    Raises ``RuntimeError`` when someone made a real login of that name."""
    await db.execute(
        insert(User)
        .values(
            username=USERNAME,
            display_name=DISPLAY_NAME,
            password_hash=UNUSABLE_HASH,
            role=Role.AGENT.value,
            active=False,
        )
        .on_conflict_do_nothing(index_elements=[User.username])
    )
    user = (await db.scalars(select(User).where(User.username == USERNAME))).one()
    if user.password_hash != UNUSABLE_HASH:
        raise RuntimeError(f"the user {USERNAME!r} is a real login: rename it")
    return user


@dataclass(slots=True)
class AccountCache:
    """The site's account, read once per process: made (when missing) and committed in a
    session of its own, so the copy kept never names a row that a rolled-back order took
    with it; every order after that merges the copy in without a query
    (``expire_on_commit`` is off, so it keeps its columns). The account is the site's own
    and never edited."""

    _user: User | None = None

    async def _load(self, factory: async_sessionmaker[AsyncSession]) -> User:
        if self._user is None:
            async with factory() as own:
                user = await site_account(own)
                await own.commit()
            self._user = user
        return self._user

    async def get(self, db: AsyncSession, factory: async_sessionmaker[AsyncSession]) -> User:
        """The account's row in ``db``'s session (for the ORM services)."""
        return await db.merge(await self._load(factory), load=False)

    async def actor(self, factory: async_sessionmaker[AsyncSession]) -> Actor:
        """The account as the rows it writes name it, with no query after the first."""
        return Actor.of(await self._load(factory))
