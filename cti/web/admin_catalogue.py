"""``/admin/catalogue``: the service catalogue (categories and their items) for admins.

Add a category or an item, rename, move up or down, deactivate or reactivate. Entries are
never deleted: tickets name them, and a deactivated one is only no longer offered for new
tickets (``GET /api/service-categories`` lists active entries). A refusal shows the page
again with why (422); every change is audited (``cti.counties.service``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cti.counties import service
from cti.counties.validate import FormErrors, check_category_name
from cti.store.catalog import ServiceCategory
from cti.web.deps import AdminUser, DbSession, client_ip
from cti.web.errors import NotFound, documented
from cti.web.forms import undo_refused

router = APIRouter(prefix="/admin/catalogue", tags=["pages"])

FORM_REFUSED = {
    422: {
        "description": "a value is not valid (the page again, with why)",
        "content": {"text/html": {}},
    },
}

EntryId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Field = Annotated[str, Form(max_length=200)]


def _who(request: Request, ctx: Any) -> service.Who:
    return service.Who(ctx.user, client_ip(request))


async def _page(
    request: Request,
    ctx: Any,
    db: DbSession,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    #: The entry whose rename was refused, and the name typed for it.
    renaming: tuple[int, str] | None = None,
) -> Response:
    return request.app.state.templates.TemplateResponse(
        request,
        "admin_catalogue.html",
        {
            "user": ctx.user,
            "csrf_token": ctx.csrf_token,
            "groups": await service.catalogue(db),
            "errors": errors or {},
            "form": form or {"code": "", "name": "", "parent": ""},
            "renaming": renaming,
        },
        status_code=status_code,
    )


async def _entry(db: DbSession, entry_id: int) -> ServiceCategory:
    entry = await service.category(db, entry_id)
    if entry is None:
        raise NotFound(f"no catalogue entry {entry_id}")
    return entry


@router.get("", response_class=HTMLResponse, summary="The service catalogue (page)")
async def catalogue_page(request: Request, ctx: AdminUser, db: DbSession) -> Response:
    return await _page(request, ctx, db)


@router.post(
    "",
    response_class=HTMLResponse,
    status_code=303,
    summary="Add a catalogue category, or an item under one (form)",
    responses=FORM_REFUSED,
)
async def add_entry(
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    code: Field = "",
    name: Field = "",
    parent: Field = "",
) -> Response:
    form = {"code": code, "name": name, "parent": parent}
    try:
        above = None
        if parent:
            above = await service.category_by_code(db, parent)
            if above is None:
                raise FormErrors({"parent": f"no catalogue category {parent[:64]!r}"})
        entry = await service.add_category(db, code, name, above, _who(request, ctx))
    except FormErrors as exc:
        await undo_refused(db, ctx)
        return await _page(request, ctx, db, status_code=422, errors=exc.fields, form=form)
    await db.commit()
    return RedirectResponse(f"/admin/catalogue#entry-{entry.id}", status_code=303)


@router.post(
    "/{entry_id}",
    response_class=HTMLResponse,
    status_code=303,
    summary="Rename a catalogue entry (form)",
    responses={**FORM_REFUSED, **documented(NotFound)},
)
async def rename_entry(
    entry_id: EntryId, request: Request, ctx: AdminUser, db: DbSession, name: Field = ""
) -> Response:
    entry = await _entry(db, entry_id)
    try:
        await service.rename_category(db, entry, check_category_name(name), _who(request, ctx))
    except FormErrors as exc:
        await undo_refused(db, ctx)
        return await _page(
            request, ctx, db, status_code=422, errors=exc.fields, renaming=(entry_id, name)
        )
    await db.commit()
    return RedirectResponse(f"/admin/catalogue#entry-{entry_id}", status_code=303)


@router.post(
    "/{entry_id}/move",
    response_class=HTMLResponse,
    status_code=303,
    summary="Move a catalogue entry up or down among its siblings (form)",
    responses=documented(NotFound),
)
async def move_entry(
    entry_id: EntryId,
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    direction: Annotated[Literal["up", "down"], Form()],
) -> Response:
    entry = await _entry(db, entry_id)
    await service.move_category(db, entry, direction, _who(request, ctx))
    await db.commit()
    return RedirectResponse(f"/admin/catalogue#entry-{entry_id}", status_code=303)


@router.post(
    "/{entry_id}/active",
    response_class=HTMLResponse,
    status_code=303,
    summary="Deactivate (no longer offered) or reactivate a catalogue entry (form)",
    responses=documented(NotFound),
)
async def set_active(
    entry_id: EntryId,
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    active: Annotated[bool, Form()],
) -> Response:
    entry = await _entry(db, entry_id)
    await service.set_category_active(db, entry, active, _who(request, ctx))
    await db.commit()
    return RedirectResponse(f"/admin/catalogue#entry-{entry_id}", status_code=303)
