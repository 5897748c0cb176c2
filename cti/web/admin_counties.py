"""``/admin/counties``: the administrator's county pages (plain HTML forms, no script).

List every county (retired ones marked) with its queue, time zone, the catalogue
categories it offers and its dispatch settings; add one (code and queue checked with the
routing editor's whitelist and renderer, ``cti.counties.validate``); edit its name, time
zone, categories and dispatch settings; retire or bring it back; delete one nothing
points at. A refusal shows the form again, as typed, with why (422). Every change is
audited (``cti.counties.service``).
"""

from __future__ import annotations

import logging
import re
import zoneinfo
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cti.counties import service
from cti.counties.validate import (
    ACCEPT_MINUTES,
    FINISH_HOURS,
    LONGEST_WAIT_S,
    SERVICE_LEVEL_S,
    WAITING_ABOVE,
    FormErrors,
    NewCounty,
    WallboardSettings,
    check_code_and_queue,
    check_settings,
    check_wallboard,
    default_queue,
    delete_refusal,
    describe_usage,
)
from cti.store.counties import CODE_PATTERN, County
from cti.wallboard.watch import settings_changed
from cti.web.deps import AdminUser, AppSettings, DbSession, client_ip
from cti.web.errors import NotFound, documented
from cti.web.forms import staff_page, undo_refused

log = logging.getLogger(__name__)

router = APIRouter(prefix="/admin/counties", tags=["pages"])

FORM_REFUSED = {
    422: {
        "description": "a value is not valid, or the county is in use (the form again, with why)",
        "content": {"text/html": {}},
    },
}

Code = Annotated[str, Path(max_length=32)]
_CODE = re.compile(CODE_PATTERN)
#: Every field has a default, so an empty one reaches the checks (and the page says why).
Field = Annotated[str, Form(max_length=200)]
Categories = Annotated[list[str], Form()]


@cache
def _zones() -> list[str]:
    return sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")


def _page(
    request: Request, ctx: Any, template: str, status_code: int = 200, **context: Any
) -> Response:
    return staff_page(
        request,
        ctx,
        template,
        status_code,
        **{
            "zones": _zones(),
            "accept_range": ACCEPT_MINUTES,
            "finish_range": FINISH_HOURS,
            "sl_range": SERVICE_LEVEL_S,
            "waiting_range": WAITING_ABOVE,
            "longest_range": LONGEST_WAIT_S,
            **context,
        },
    )


def _who(request: Request, ctx: Any) -> service.Who:
    return service.Who(ctx.user, client_ip(request))


def _values(county: County, offered: set[str], board: WallboardSettings) -> dict[str, Any]:
    def text(value: int | None) -> str:
        return "" if value is None else str(value)

    return {
        "name": county.name,
        "time_zone": county.time_zone,
        "auto_dispatch": county.auto_dispatch,
        "accept_within_minutes": str(county.accept_within_minutes),
        "finish_within_hours": str(county.finish_within_hours),
        "categories": sorted(offered),
        "answer_within_s": str(board.answer_within_s),
        "alert_waiting_above": text(board.alert_waiting_above),
        "alert_longest_wait_s": text(board.alert_longest_wait_s),
        "alert_no_agent": board.alert_no_agent,
        "alert_email": board.alert_email,
    }


NEW_DEFAULTS: dict[str, Any] = {
    "code": "",
    "queue": "",
    "name": "",
    "time_zone": "UTC",
    "auto_dispatch": False,
    "accept_within_minutes": "120",
    "finish_within_hours": "72",
    "categories": [],
}


async def _list(
    request: Request,
    ctx: Any,
    db: DbSession,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    return _page(
        request,
        ctx,
        "admin_counties.html",
        status_code=status_code,
        rows=await service.list_counties(db),
        categories=await service.top_categories(db),
        form=form or NEW_DEFAULTS,
        errors=errors or {},
        message=message,
    )


@router.get("", response_class=HTMLResponse, summary="Counties: list and add (page)")
async def counties_page(
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    deleted: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    # Only a code is echoed back: a crafted link cannot put a sentence on the page.
    message = f"Deleted the county {deleted}." if deleted and _CODE.fullmatch(deleted) else None
    return await _list(request, ctx, db, message=message)


@router.post(
    "",
    response_class=HTMLResponse,
    status_code=303,
    summary="Add a county (form)",
    responses=FORM_REFUSED,
)
async def add_county(
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    settings: AppSettings,
    code: Field = "",
    name: Field = "",
    queue: Field = "",
    time_zone: Field = "UTC",
    auto_dispatch: Field = "",
    accept_within_minutes: Field = "120",
    finish_within_hours: Field = "72",
    categories: Categories = [],  # noqa: B006 (FastAPI copies the default)
) -> Response:
    form = {
        "code": code,
        "queue": queue,
        "name": name,
        "time_zone": time_zone,
        "auto_dispatch": bool(auto_dispatch),
        "accept_within_minutes": accept_within_minutes,
        "finish_within_hours": finish_within_hours,
        "categories": categories,
    }
    code, queue = code.strip(), queue.strip() or default_queue(code.strip())
    errors: dict[str, str] = {}
    try:
        conf = service.queues_conf(settings.asterisk_conf_dir)
        check_code_and_queue(
            code,
            queue,
            counties=await service.queue_map(db),
            extra_queues=conf.queues,
            templates=conf.templates,
        )
    except FormErrors as exc:
        errors.update(exc.fields)
        if not form["queue"].strip() and "code" in errors:
            errors.pop("queue", None)  # the default queue comes from the code: one error
    try:
        checked = check_settings(
            name=name,
            time_zone=time_zone,
            auto_dispatch=auto_dispatch,
            accept_within_minutes=accept_within_minutes,
            finish_within_hours=finish_within_hours,
            categories=categories,
            known_categories=await service.known_categories(db),
        )
    except FormErrors as exc:
        errors.update(exc.fields)
    try:
        if errors:
            raise FormErrors(errors)
        await service.create_county(db, NewCounty(code, queue, checked), _who(request, ctx))
    except FormErrors as exc:
        await undo_refused(db, ctx)
        return await _list(request, ctx, db, form=form, errors=exc.fields, status_code=422)
    await db.commit()
    return RedirectResponse(f"/admin/counties/{code}?saved=created", status_code=303)


async def _county(db: DbSession, code: str) -> County:
    county = await service.county_by_code(db, code)
    if county is None:
        raise NotFound(f"no county {code!r}")
    return county


async def _edit(
    request: Request,
    ctx: Any,
    db: DbSession,
    county: County,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    offered = await service.offered(db, county)
    used = await service.usage(db, county)
    return _page(
        request,
        ctx,
        "admin_county.html",
        status_code=status_code,
        county=county,
        form=form or _values(county, offered, await service.wallboard_settings(db, county)),
        categories=await service.top_categories(db),
        offered=offered,
        usage=describe_usage(used),
        deletable=delete_refusal(used) is None,
        errors=errors or {},
        message=message,
    )


MESSAGES = {
    "1": "Saved.",
    "created": (
        "Added. Its queue is written to queues_counties.conf at the next routing apply: "
        "open County routing, check Preview and Apply, then give the county a DID or "
        "prefix rule so calls reach it."
    ),
    "retired": "Retired: it takes no new calls, tickets, users or companies.",
    "unretired": "Back in service.",
}


@router.get(
    "/{code}",
    response_class=HTMLResponse,
    summary="One county: edit, retire, delete (page)",
    responses=documented(NotFound),
)
async def county_page(
    code: Code,
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    saved: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    county = await _county(db, code)
    return await _edit(request, ctx, db, county, message=MESSAGES.get(saved or ""))


@router.post(
    "/{code}",
    response_class=HTMLResponse,
    status_code=303,
    summary="Save a county's name, time zone, categories, dispatch and wallboard settings (form)",
    responses={**FORM_REFUSED, **documented(NotFound)},
)
async def save_county(
    code: Code,
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    name: Field = "",
    time_zone: Field = "",
    accept_within_minutes: Field = "",
    finish_within_hours: Field = "",
    auto_dispatch: Field = "",
    categories: Categories = [],  # noqa: B006 (FastAPI copies the default)
    wallboard: Field = "",
    answer_within_s: Field = "",
    alert_waiting_above: Field = "",
    alert_longest_wait_s: Field = "",
    alert_no_agent: Field = "",
    alert_email: Field = "",
) -> Response:
    county = await _county(db, code)
    board = await service.wallboard_settings(db, county)
    if not wallboard:
        # A form without the wallboard part (an older page) leaves it as it is.
        answer_within_s = str(board.answer_within_s)
        alert_waiting_above = (
            "" if board.alert_waiting_above is None else str(board.alert_waiting_above)
        )
        alert_longest_wait_s = (
            "" if board.alert_longest_wait_s is None else str(board.alert_longest_wait_s)
        )
        alert_no_agent = "on" if board.alert_no_agent else ""
        alert_email = "on" if board.alert_email else ""
    form = {
        "name": name,
        "time_zone": time_zone,
        "auto_dispatch": bool(auto_dispatch),
        "accept_within_minutes": accept_within_minutes,
        "finish_within_hours": finish_within_hours,
        "categories": categories,
        "answer_within_s": answer_within_s,
        "alert_waiting_above": alert_waiting_above,
        "alert_longest_wait_s": alert_longest_wait_s,
        "alert_no_agent": bool(alert_no_agent),
        "alert_email": bool(alert_email),
    }
    errors: dict[str, str] = {}
    try:
        wallboard = check_wallboard(
            answer_within_s=answer_within_s,
            alert_waiting_above=alert_waiting_above,
            alert_longest_wait_s=alert_longest_wait_s,
            alert_no_agent=alert_no_agent,
            alert_email=alert_email,
        )
    except FormErrors as exc:
        errors.update(exc.fields)
    try:
        checked = check_settings(
            name=name,
            time_zone=time_zone,
            auto_dispatch=auto_dispatch,
            accept_within_minutes=accept_within_minutes,
            finish_within_hours=finish_within_hours,
            categories=categories,
            known_categories=await service.known_categories(db),
            offered=await service.offered(db, county),
        )
        if errors:
            raise FormErrors(errors)
        await service.update_county(db, county, checked, _who(request, ctx))
        await service.update_wallboard(db, county, wallboard, _who(request, ctx))
    except FormErrors as exc:
        await undo_refused(db, ctx)
        county = await _county(db, code)
        return await _edit(
            request, ctx, db, county, form=form, errors={**errors, **exc.fields}, status_code=422
        )
    await db.commit()
    try:
        await settings_changed(request.app.state.bus)
    except Exception:  # saved: the AMI side re-reads its settings within a minute anyway
        log.exception("could not tell the AMI side of the new wallboard settings")
    return RedirectResponse(f"/admin/counties/{code}?saved=1", status_code=303)


@router.post(
    "/{code}/retired",
    response_class=HTMLResponse,
    status_code=303,
    summary="Retire a county (keeps its history, takes nothing new) or bring it back (form)",
    responses={**FORM_REFUSED, **documented(NotFound)},
)
async def set_retired(
    code: Code,
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    retired: Annotated[bool, Form()],
) -> Response:
    county = await _county(db, code)
    try:
        await service.set_retired(db, county, retired, _who(request, ctx))
    except FormErrors as exc:
        await undo_refused(db, ctx)
        county = await _county(db, code)
        return await _edit(request, ctx, db, county, errors=exc.fields, status_code=422)
    await db.commit()
    saved = "retired" if retired else "unretired"
    return RedirectResponse(f"/admin/counties/{code}?saved={saved}", status_code=303)


@router.post(
    "/{code}/delete",
    response_class=HTMLResponse,
    status_code=303,
    summary="Delete a county that nothing points at (form)",
    responses={**FORM_REFUSED, **documented(NotFound)},
)
async def delete_county(code: Code, request: Request, ctx: AdminUser, db: DbSession) -> Response:
    county = await _county(db, code)
    try:
        await service.delete_county(db, county, _who(request, ctx))
    except FormErrors as exc:
        await undo_refused(db, ctx)
        county = await _county(db, code)
        return await _edit(request, ctx, db, county, errors=exc.fields, status_code=422)
    await db.commit()
    return RedirectResponse(f"/admin/counties?deleted={code}", status_code=303)
