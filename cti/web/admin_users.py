"""``/admin/users``: the administrator's user pages (plain HTML forms, no script needed).

List with filters, add (the generated password is shown once, on the answer page, never in
a URL), edit role, county and phone (an agent phone of pjsip.conf), disable/enable (ends the
user's sessions), reset the password (a new one, shown once). Every change goes through
``cti.accounts`` and is audited there.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import or_, select

from cti import accounts, password_links
from cti.store.counties import County
from cti.store.users import Role, User
from cti.web.deps import AdminUser, AgentPhones, DbSession, client_ip
from cti.web.errors import NotFound, documented
from cti.web.forms import staff_page, undo_refused

router = APIRouter(prefix="/admin/users", tags=["pages"])

FORM_REFUSED = {
    409: {"description": "the username or phone is another user's (the form again, with why)"},
    422: {
        "description": "a value is not valid (the form again, with why)",
        "content": {"text/html": {}},
    },
}


UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]
LINK_HOURS = int(password_links.LIFETIME.total_seconds() // 3600)
Field = Annotated[str, Form(max_length=200)]


async def _counties(db: DbSession, keep: str | None = None) -> list[tuple[str, str]]:
    """The counties a user may be given: not retired, plus ``keep`` (the user's own)."""
    rows = await db.execute(
        select(County.code, County.name, County.retired_at)
        .where(or_(County.retired_at.is_(None), County.code == keep))
        .order_by(County.code)
    )
    return [(code, f"{name} (retired)" if retired else name) for code, name, retired in rows]


def _page(
    request: Request, ctx: Any, template: str, status_code: int = 200, **context: Any
) -> Response:
    context = {"roles": [r.value for r in Role], "link_hours": LINK_HOURS, **context}
    return staff_page(request, ctx, template, status_code, **context)


async def _list_context(
    db: DbSession, role: str | None, county: str | None, active: str | None
) -> dict[str, Any]:
    stmt = select(User, County.code).outerjoin(County, County.id == User.county_id)
    if role in {r.value for r in Role}:
        stmt = stmt.where(User.role == role)
    if county == "-":
        stmt = stmt.where(User.county_id.is_(None))
    elif county:
        stmt = stmt.where(County.code == county)
    if active in ("yes", "no"):
        stmt = stmt.where(User.active.is_(active == "yes"))
    rows = (await db.execute(stmt.order_by(User.username))).all()
    return {
        "rows": [{"user": u, "county": c} for u, c in rows],
        "filters": {"role": role or "", "county": county or "", "active": active or ""},
    }


@router.get("", response_class=HTMLResponse, summary="Users: list, filter, add (page)")
async def users_page(
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    phones: AgentPhones,
    role: Annotated[str | None, Query(max_length=16)] = None,
    county: Annotated[str | None, Query(max_length=32)] = None,
    active: Annotated[str | None, Query(max_length=3)] = None,
) -> Response:
    return _page(
        request,
        ctx,
        "admin_users.html",
        counties=await _counties(db),
        phones=sorted(phones),
        form={},
        errors=None,
        created=None,
        **await _list_context(db, role, county, active),
    )


@router.post(
    "",
    response_class=HTMLResponse,
    status_code=201,
    summary="Add a user (form); shows its password once",
    responses=FORM_REFUSED,
)
async def add_user(
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    phones: AgentPhones,
    username: Field,
    role: Field,
    display_name: Field = "",
    county: Field = "",
    interface: Field = "",
    credential: Field = "password",
) -> Response:
    form = {
        "username": username,
        "role": role,
        "display_name": display_name,
        "county": county,
        "interface": interface,
        "credential": credential,
    }
    # With a link the user chooses their password; the generated one is never shown.
    password = accounts.generate_password()
    try:
        created = await accounts.create_user(
            db,
            username=username.strip(),
            role=role,
            password=password,
            display_name=display_name.strip() or None,
            county=county or None,
            interface=interface.strip() or None,
            actor=ctx.user,
            phones=phones,
        )
        link = None
        if credential == "link":
            link = _link_url(request, await password_links.issue(db, created, ctx.user))
    except accounts.AccountError as exc:
        await undo_refused(db, ctx)
        return _page(
            request,
            ctx,
            "admin_users.html",
            status_code=409 if isinstance(exc, accounts.AccountConflict) else 422,
            counties=await _counties(db),
            phones=sorted(phones),
            form=form,
            errors=str(exc),
            created=None,
            **await _list_context(db, None, None, None),
        )
    await db.commit()
    return _page(
        request,
        ctx,
        "admin_users.html",
        status_code=201,
        counties=await _counties(db),
        phones=sorted(phones),
        form={},
        errors=None,
        created={
            "username": created.username,
            "password": None if link else password,
            "link": link,
        },
        **await _list_context(db, None, None, None),
    )


def _link_url(request: Request, secret: str) -> str:
    return str(request.url_for("set_password_page", secret=secret))


async def _edit(
    request: Request,
    ctx: Any,
    db: DbSession,
    phones: frozenset[str],
    target: User,
    *,
    status_code: int = 200,
    error: str | None = None,
    message: str | None = None,
    password: str | None = None,
    link: str | None = None,
) -> Response:
    county = None
    if target.county_id is not None:
        county = await db.scalar(select(County.code).where(County.id == target.county_id))
    return _page(
        request,
        ctx,
        "admin_user.html",
        status_code=status_code,
        target=target,
        target_county=county or "",
        counties=await _counties(db, keep=county),
        phones=sorted(phones),
        error=error,
        message=message,
        new_password=password,
        password_link=link,
    )


async def _target(db: DbSession, user_id: int) -> User:
    target = await db.get(User, user_id)
    if target is None:
        raise NotFound(f"no user {user_id}")
    return target


@router.get(
    "/{user_id}",
    response_class=HTMLResponse,
    summary="One user: edit, disable/enable, reset password (page)",
    responses=documented(NotFound),
)
async def user_page(
    user_id: UserId,
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    phones: AgentPhones,
    saved: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    messages = {
        "1": "Saved.",
        "enabled": "Enabled.",
        "disabled": "Disabled: logged out everywhere.",
    }
    target = await _target(db, user_id)
    return await _edit(request, ctx, db, phones, target, message=messages.get(saved or ""))


async def _change(
    request: Request,
    ctx: Any,
    db: DbSession,
    phones: frozenset[str],
    user_id: int,
    changes: dict[str, object],
    saved: str,
) -> Response:
    target = await _target(db, user_id)
    try:
        await accounts.update_user(
            db, target, changes, ctx.user, phones=phones, ip=client_ip(request)
        )
    except accounts.AccountError as exc:
        await undo_refused(db, ctx)
        target = await _target(db, user_id)
        return await _edit(
            request,
            ctx,
            db,
            phones,
            target,
            status_code=409 if isinstance(exc, accounts.AccountConflict) else 422,
            error=str(exc),
        )
    await db.commit()
    return RedirectResponse(f"/admin/users/{user_id}?saved={saved}", status_code=303)


@router.post(
    "/{user_id}",
    response_class=HTMLResponse,
    summary="Save a user's name, role, county, phone and email (form)",
    status_code=303,
    responses={**FORM_REFUSED, **documented(NotFound)},
)
async def save_user(
    user_id: UserId,
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    phones: AgentPhones,
    display_name: Field,
    role: Field,
    county: Field = "",
    interface: Field = "",
    email: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    changes: dict[str, object] = {
        "display_name": display_name,
        "role": role,
        "county": county or None,
        "interface": interface.strip() or None,
    }
    changes["email"] = email.strip() or None
    return await _change(request, ctx, db, phones, user_id, changes, "1")


@router.post(
    "/{user_id}/active",
    response_class=HTMLResponse,
    summary="Disable (ends their sessions) or enable a user (form)",
    status_code=303,
    responses={**FORM_REFUSED, **documented(NotFound)},
)
async def set_active(
    user_id: UserId,
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    phones: AgentPhones,
    active: Annotated[bool, Form()],
) -> Response:
    saved = "enabled" if active else "disabled"
    return await _change(request, ctx, db, phones, user_id, {"active": active}, saved)


@router.post(
    "/{user_id}/password",
    response_class=HTMLResponse,
    summary="Reset a user's password: a new one, shown once (form)",
    responses=documented(NotFound),
)
async def reset_password(
    user_id: UserId, request: Request, ctx: AdminUser, db: DbSession, phones: AgentPhones
) -> Response:
    target = await _target(db, user_id)
    password = accounts.generate_password()
    await accounts.set_password(db, target, password, actor=ctx.user)
    await db.commit()
    return await _edit(
        request, ctx, db, phones, target, message="New password set.", password=password
    )


@router.post(
    "/{user_id}/password-link",
    response_class=HTMLResponse,
    summary="A one-time set-password link for a user, shown once (form)",
    responses={422: FORM_REFUSED[422], **documented(NotFound)},
)
async def password_link(
    user_id: UserId, request: Request, ctx: AdminUser, db: DbSession, phones: AgentPhones
) -> Response:
    target = await _target(db, user_id)
    try:
        secret = await password_links.issue(db, target, ctx.user)
    except accounts.AccountError as exc:
        await undo_refused(db, ctx)
        target = await _target(db, user_id)
        return await _edit(request, ctx, db, phones, target, status_code=422, error=str(exc))
    await db.commit()
    return await _edit(
        request,
        ctx,
        db,
        phones,
        target,
        message=f"Set-password link made: it works once, for {LINK_HOURS} hours.",
        link=_link_url(request, secret),
    )
