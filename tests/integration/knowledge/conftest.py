"""A category of the test's own to hold its articles (removed with them at the end), and
an editor to write them."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import delete, select

from cti.store.catalog import ServiceCategory
from cti.store.knowledge import Article
from cti.store.users import Role, User


@pytest.fixture
async def category(session_factory, seeded):
    code = f"kbtest_{secrets.token_hex(3)}"
    async with session_factory() as db:
        row = ServiceCategory(code=code, name=f"Test {code}", sort_order=99)
        db.add(row)
        await db.commit()
        category_id = row.id
    yield code, category_id
    async with session_factory() as db:
        await db.execute(delete(Article).where(Article.category_id == category_id))
        await db.commit()


@pytest.fixture
async def editor(session_factory, make_user):
    name = await make_user(Role.EDITOR)
    async with session_factory() as db:
        return await db.scalar(select(User).where(User.username == name))
