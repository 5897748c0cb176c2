"""``/knowledge``: search and browse the knowledge base (all the centre's staff), read an
article; editors and admins write one, edit it, read its history and any old version, and
restore one. Server-rendered forms (they work without JavaScript); a refused form is shown
again with why (422) and loses nothing typed.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from cti.knowledge import articles, render
from cti.knowledge import query as kquery
from cti.knowledge import search as ksearch
from cti.store.catalog import ServiceCategory
from cti.store.counties import County
from cti.store.knowledge import MAX_BODY, MAX_NOTE, MAX_TITLE, Article
from cti.store.users import Role
from cti.web.deps import DbSession
from cti.web.errors import NotFound, documented
from cti.web.forms import form_again, staff_page
from cti.web.knowledge import (
    EDITORS,
    ArticleId,
    Editor,
    Reader,
    Trigram,
    VersionNo,
    article_out,
    find,
    run_search,
    version_out,
)
from cti.web.sessions import AuthContext

router = APIRouter(tags=["pages"])

FORM_REFUSED = {
    422: {
        "description": "a value is not valid (the page again, with why)",
        "content": {"text/html": {}},
    },
}
Title = Annotated[str, Form(max_length=MAX_TITLE + 50)]
Body = Annotated[str, Form(max_length=MAX_BODY + 100)]
Short = Annotated[str, Form(max_length=64)]
Note = Annotated[str, Form(max_length=MAX_NOTE + 50)]


async def _choices(db: DbSession) -> dict[str, Any]:
    categories = (
        await db.execute(
            select(
                ServiceCategory.id,
                ServiceCategory.code,
                ServiceCategory.name,
                ServiceCategory.parent_id,
            ).order_by(ServiceCategory.sort_order, ServiceCategory.code)
        )
    ).all()
    tops = [c for c in categories if c.parent_id is None]
    groups = [(top, [c for c in categories if c.parent_id == top.id]) for top in tops]
    counties = (
        await db.execute(
            select(County.code, County.name)
            .where(County.retired_at.is_(None))
            .order_by(County.code)
        )
    ).all()
    return {"groups": groups, "counties": counties}


def _page(
    request: Request, ctx: AuthContext, name: str, status_code: int = 200, **values: Any
) -> Response:
    may_edit = Role(ctx.user.role) in EDITORS
    return staff_page(request, ctx, name, status_code, may_edit=may_edit, **values)


@router.get(
    "/knowledge",
    response_class=HTMLResponse,
    summary="The knowledge base: search, and browse by category and county (page)",
    responses=FORM_REFUSED,
)
async def knowledge_page(
    request: Request,
    ctx: Reader,
    db: DbSession,
    has_trigram: Trigram,
    q: Annotated[str, Query(max_length=kquery.MAX_TEXT)] = "",
    category: Annotated[str, Query(max_length=64)] = "",
    county: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    form = {"q": q, "category": category, "county": county}
    errors: dict[str, str] = {}
    results = None
    try:
        results = await _results(db, q, category, county, has_trigram)
    except ksearch.UnknownFilter as exc:
        errors[exc.field] = str(exc)
    return _page(
        request,
        ctx,
        "knowledge.html",
        status_code=422 if errors else 200,
        form=form,
        errors=errors,
        results=results,
        searching=bool(q.strip()),
        typo_tolerant=has_trigram,
        every_county=ksearch.EVERY_COUNTY,
        **await _choices(db),
    )


async def _results(db: DbSession, q: str, category: str, county: str, trigram: bool):
    filters = await ksearch.resolve_filters(db, category, county)
    return (await run_search(db, q, filters, trigram=trigram, limit=50)).results


@router.get(
    "/knowledge/articles/{article_id}",
    response_class=HTMLResponse,
    summary="One knowledge article (page)",
    responses=documented(NotFound),
)
async def article_page(
    request: Request, article_id: ArticleId, ctx: Reader, db: DbSession
) -> Response:
    shown = await article_out(db, await find(db, article_id))
    return _page(request, ctx, "knowledge_article.html", a=shown)


def _form_of(a: Any = None) -> dict[str, str]:
    if a is None:
        return {"title": "", "body": "", "category": "", "county": "", "note": "", "base": ""}
    return {
        "title": a.title,
        "body": a.body,
        "category": a.category or "",
        "county": a.county or "",
        "note": "",
        "base": str(a.version),
    }


async def _editor_page(
    request: Request,
    ctx: AuthContext,
    db: DbSession,
    *,
    form: dict[str, str],
    article_id: int | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return _page(
        request,
        ctx,
        "knowledge_edit.html",
        status_code=status_code,
        form=form,
        article_id=article_id,
        errors=errors or {},
        preview=render.to_html(form["body"]) if form["body"] else "",
        **await _choices(db),
    )


@router.get(
    "/knowledge/new",
    response_class=HTMLResponse,
    summary="Write a new knowledge article (page)",
)
async def new_page(
    request: Request,
    ctx: Editor,
    db: DbSession,
    category: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    form = _form_of() | {"category": category}
    return await _editor_page(request, ctx, db, form=form)


@router.post(
    "/knowledge/new",
    response_class=HTMLResponse,
    status_code=303,
    summary="Write a new knowledge article (form)",
    responses=FORM_REFUSED,
)
async def create_form(
    request: Request,
    ctx: Editor,
    db: DbSession,
    title: Title = "",
    body: Body = "",
    category: Short = "",
    county: Short = "",
    note: Note = "",
) -> Response:
    form = {"title": title, "body": body, "category": category, "county": county, "note": note}
    try:
        created = await articles.create(
            db, ctx.user, articles.Draft(title, body, category, county or None, note)
        )
    except articles.ArticleError as exc:
        return await form_again(
            db,
            ctx,
            partial(_editor_page, request, ctx, db),
            status_code=422,
            form=form | {"base": ""},
            errors={exc.field: str(exc)},
        )
    await db.commit()
    return RedirectResponse(f"/knowledge/articles/{created.id}", status_code=303)


@router.get(
    "/knowledge/articles/{article_id}/edit",
    response_class=HTMLResponse,
    summary="Edit a knowledge article (page)",
    responses=documented(NotFound),
)
async def edit_page(
    request: Request, article_id: ArticleId, ctx: Editor, db: DbSession
) -> Response:
    shown = await article_out(db, await find(db, article_id))
    return await _editor_page(request, ctx, db, form=_form_of(shown), article_id=article_id)


@router.post(
    "/knowledge/articles/{article_id}/edit",
    response_class=HTMLResponse,
    status_code=303,
    summary="Save an edit as the article's next version (form)",
    responses={**FORM_REFUSED, **documented(NotFound)},
)
async def edit_form(
    request: Request,
    article_id: ArticleId,
    ctx: Editor,
    db: DbSession,
    title: Title = "",
    body: Body = "",
    category: Short = "",
    county: Short = "",
    note: Note = "",
    base_version: Annotated[int, Form(ge=0, le=2**31 - 1)] = 0,
) -> Response:
    found: Article = await find(db, article_id)
    form = {
        "title": title,
        "body": body,
        "category": category,
        "county": county,
        "note": note,
        "base": str(base_version),
    }
    try:
        await articles.edit(
            db,
            ctx.user,
            found,
            articles.Draft(title, body, category, county or None, note),
            base_version=base_version,
        )
    except (articles.ArticleError, articles.StaleVersion) as exc:
        field = exc.field if isinstance(exc, articles.ArticleError) else "base"
        return await form_again(
            db,
            ctx,
            partial(_editor_page, request, ctx, db),
            status_code=422,
            form=form,
            article_id=article_id,
            errors={field: str(exc)},
        )
    await db.commit()
    return RedirectResponse(f"/knowledge/articles/{article_id}", status_code=303)


@router.get(
    "/knowledge/articles/{article_id}/history",
    response_class=HTMLResponse,
    summary="Every version of a knowledge article: who, when, what (page)",
    responses=documented(NotFound),
)
async def history_page(
    request: Request, article_id: ArticleId, ctx: Editor, db: DbSession
) -> Response:
    return await _history_page(request, ctx, db, article_id)


async def _history_page(
    request: Request,
    ctx: AuthContext,
    db: DbSession,
    article_id: int,
    *,
    status_code: int = 200,
    error: str = "",
) -> Response:
    shown = await article_out(db, await find(db, article_id))
    versions = [await version_out(db, v) for v in await articles.history(db, article_id)]
    return _page(
        request,
        ctx,
        "knowledge_history.html",
        status_code=status_code,
        a=shown,
        versions=versions,
        error=error,
    )


@router.get(
    "/knowledge/articles/{article_id}/versions/{version}",
    response_class=HTMLResponse,
    summary="One old version of a knowledge article, as it was (page)",
    responses=documented(NotFound),
)
async def version_page(
    request: Request, article_id: ArticleId, version: VersionNo, ctx: Editor, db: DbSession
) -> Response:
    current = await find(db, article_id)
    found = await articles.version_of(db, article_id, version)
    if found is None:
        raise NotFound(f"article {article_id} has no version {version}")
    return _page(
        request,
        ctx,
        "knowledge_version.html",
        article_id=article_id,
        current=current.version,
        v=await version_out(db, found),
        html=render.to_html(found.body),
        body=found.body,
    )


@router.post(
    "/knowledge/articles/{article_id}/versions/{version}/restore",
    response_class=HTMLResponse,
    status_code=303,
    summary="Make an old version the article's next version (form)",
    responses={**FORM_REFUSED, **documented(NotFound)},
)
async def restore_form(
    request: Request,
    article_id: ArticleId,
    version: VersionNo,
    ctx: Editor,
    db: DbSession,
    note: Note = "",
) -> Response:
    found = await find(db, article_id)
    try:
        await articles.restore(db, ctx.user, found, version, note)
    except articles.ArticleError as exc:
        return await form_again(
            db,
            ctx,
            partial(_history_page, request, ctx, db, article_id),
            status_code=422,
            error=str(exc),
        )
    await db.commit()
    return RedirectResponse(f"/knowledge/articles/{article_id}", status_code=303)
