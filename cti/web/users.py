"""User administration API (admin only) and the caller's own profile."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from cti import accounts
from cti.store.counties import County
from cti.store.users import Role, User
from cti.web.deps import AdminUser, AgentPhones, AnyAccount, DbSession, client_ip
from cti.web.errors import Conflict, Invalid, NotFound, documented

router = APIRouter(prefix="/api")


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    county: str | None
    interface: str | None
    active: bool


class MeOut(UserOut):
    csrf_token: str


class UserCreate(BaseModel):
    username: str = Field(max_length=32)
    display_name: str | None = Field(default=None, max_length=120)
    role: Role
    county: str | None = Field(default=None, max_length=32)
    interface: str | None = Field(default=None, max_length=80)
    password: str = Field(max_length=accounts.MAX_PASSWORD_LENGTH)


class UserUpdate(BaseModel):
    display_name: str | None = Field(default=None, max_length=120)
    role: Role | None = None
    county: str | None = Field(default=None, max_length=32)
    interface: str | None = Field(default=None, max_length=80)
    active: bool | None = None
    password: str | None = Field(default=None, max_length=accounts.MAX_PASSWORD_LENGTH)


async def _out(db: DbSession, user: User) -> UserOut:
    county = None
    if user.county_id is not None:
        county = await db.scalar(select(County.code).where(County.id == user.county_id))
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        county=county,
        interface=user.interface,
        active=user.active,
    )


@router.get("/me", summary="Your own profile and the session's CSRF token")
async def me(ctx: AnyAccount, db: DbSession) -> MeOut:
    out = await _out(db, ctx.user)
    return MeOut(**out.model_dump(), csrf_token=ctx.csrf_token)


@router.get("/users", summary="List users")
async def list_users(_: AdminUser, db: DbSession) -> list[UserOut]:
    users = (await db.scalars(select(User).order_by(User.username))).all()
    return [await _out(db, user) for user in users]


@router.post(
    "/users", status_code=201, summary="Create a user", responses=documented(Invalid, Conflict)
)
async def create_user(
    body: UserCreate, request: Request, ctx: AdminUser, db: DbSession, phones: AgentPhones
) -> UserOut:
    try:
        user = await accounts.create_user(
            db,
            username=body.username,
            role=body.role.value,
            password=body.password,
            display_name=body.display_name,
            county=body.county,
            interface=body.interface,
            actor=ctx.user,
            phones=phones,
        )
    except accounts.AccountConflict as exc:
        raise Conflict(str(exc)) from None
    except accounts.AccountError as exc:
        raise Invalid(str(exc)) from None
    await db.commit()
    return await _out(db, user)


@router.patch(
    "/users/{user_id}",
    summary="Change a user: name, role, county, phone, password, active",
    responses=documented(NotFound, Invalid, Conflict),
)
async def update_user(
    request: Request,
    body: UserUpdate,
    ctx: AdminUser,
    db: DbSession,
    phones: AgentPhones,
    user_id: Annotated[int, Path(ge=1)],
) -> UserOut:
    user = await db.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    changes = body.model_dump(exclude_unset=True)
    if isinstance(changes.get("role"), Role):
        changes["role"] = changes["role"].value
    try:
        await accounts.update_user(
            db, user, changes, ctx.user, phones=phones, ip=client_ip(request)
        )
    except accounts.AccountConflict as exc:
        raise Conflict(str(exc)) from None
    except accounts.AccountError as exc:
        raise Invalid(str(exc)) from None
    await db.commit()
    return await _out(db, user)
