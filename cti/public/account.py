"""The account the public site acts as: who opened a web order's ticket, created its
citizen, offered it to a company automatically. It cannot log in (disabled, no password)
and is made on first use, like the SMS gateway's (``cti.sms.account``)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from cti.store.users import Role, User

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
