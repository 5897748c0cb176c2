"""Admin pages and API for the county routing (cti.routing).

Everything here goes through ``RoutingService``: the API only parses requests, names the
actor and maps the service's errors to status codes. Rule sets arrive as the typed body
``cti.routing.rules.RuleSet`` and are checked by ``cti.routing.rules`` (the one whitelist:
its model and its messages, also for a body that does not fit the model), so a refusal
comes back as 422 with one message per field path (``prefixes.3.prefix``) -- the editor
shows it next to the field -- and nothing is stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from sqlalchemy import select

from cti.routing.apply import ApplyOutcome, describe
from cti.routing.rules import RuleErrors, RuleSet, Weekday, check_number, error_fields
from cti.routing.service import (
    Actor,
    ApplyBusy,
    ApplyReport,
    NotConfigured,
    QueuesUnrenderable,
    RoutingService,
    from_settings,
)
from cti.store.counties import QUEUE_PATTERN, County
from cti.store.routing import RoutingVersion
from cti.web.deps import AdminUser, AppSettings, DbSession, client_ip
from cti.web.errors import AppError, Conflict, Invalid, NotFound, documented

router = APIRouter()

VersionId = Annotated[int, Path(ge=1, le=2**62)]
_QUEUE = re.compile(QUEUE_PATTERN)


class ApplyUnavailable(AppError):
    """Applying needs the routing AMI user; editing and simulating do not."""

    status_code = 503
    code = "not_configured"


def routing_service(settings: AppSettings) -> RoutingService:
    # Cheap to build (a folder and an AMI opener, no I/O): one per request keeps the
    # wiring in Settings and lets a test app point at its own folder and AMI server.
    return from_settings(settings)


Routing = Annotated[RoutingService, Depends(routing_service)]


def _actor(request: Request, ctx: Any) -> Actor:
    return Actor(ctx.user.id, ctx.user.username, client_ip(request))


def _refused(exc: RuleErrors) -> Invalid:
    if isinstance(exc, QueuesUnrenderable):
        # The rules are fine; queues.conf (hand-written) cannot take the county queues.
        return Invalid(
            "queues.conf cannot render the county queues: nothing can be applied until it is fixed",
            fields=exc.fields,
        )
    return Invalid("the routing rules were refused", fields=exc.fields)


def _pydantic_fields(errors: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Field path (without FastAPI's leading ``body``) -> message, never echoing the
    value that was sent."""
    fields: dict[str, str] = {}
    for error in errors:
        loc = tuple(error["loc"])
        path = ".".join(str(part) for part in loc[1:] if loc[:1] == ("body",)) or "body"
        kind = error.get("type", "")
        if kind == "string_type":
            message = "must be a text value"
        elif kind == "missing":
            message = "required"
        elif kind == "extra_forbidden":
            message = "unknown field"
        elif kind == "string_too_long":
            message = "too long"
        else:
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        fields.setdefault(path, message)
    return fields


class _BodyRefusedRoute(APIRoute):
    """A route whose typed body, when it does not validate, is refused as the API's own
    ``Invalid`` with one message per field path (``prefixes.3.prefix``), the way the
    editor shows it, instead of FastAPI's validation body."""

    detail = "the request was refused"

    @staticmethod
    def fields(errors: Iterable[Mapping[str, Any]]) -> dict[str, str]:
        return _pydantic_fields(errors)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise Invalid(self.detail, fields=self.fields(exc.errors())) from None

        return route


class _RulesBodyRoute(_BodyRefusedRoute):
    """The body is a ``RuleSet``: its messages are the routing rules' own (``rules``)."""

    detail = "the routing rules were refused"

    @staticmethod
    def fields(errors: Iterable[Mapping[str, Any]]) -> dict[str, str]:
        # FastAPI reports the whole body's errors at ("body", ...).
        return error_fields(errors, skip=1)


class _SimulateBodyRoute(_BodyRefusedRoute):
    detail = "the simulation request was refused"


#: The routes that take a typed body, each with its refusal (included into ``router``).
rules_body = APIRouter(route_class=_RulesBodyRoute)
simulate_body = APIRouter(route_class=_SimulateBodyRoute)


# --- response and request models -----------------------------------------------------------


class CountyOut(BaseModel):
    code: str
    name: str
    queue: str


class CatalogOut(BaseModel):
    counties: list[CountyOut]
    #: Every queue a rule may name (county queues and the other queues of queues.conf).
    queues: list[str]
    weekdays: list[Weekday]
    #: False when CTI_ROUTING_AMI_URL is unset: rules can be edited but not applied.
    can_apply: bool


class ValidOut(BaseModel):
    ok: Literal[True] = True
    dids: int
    prefixes: int
    counties: int


class SimulateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    caller: StrictStr = Field(default="", max_length=40)
    did: StrictStr = Field(max_length=40)
    #: ISO 8601 with a UTC offset; none: now.
    at: StrictStr | None = Field(default=None, max_length=40)
    #: Queues with no logged-in agent at that moment (for the "no agent" overflow).
    empty_queues: list[StrictStr] = Field(default_factory=list, max_length=100)


class SimulateOut(BaseModel):
    did: str
    caller: str
    at: datetime
    action: str
    county: str | None
    queue: str | None
    matched_rule: str | None
    reason: str
    mailbox: str | None
    overflow_after_s: int | None
    overflow_queue: str | None
    steps: list[str]


class FilePreviewOut(BaseModel):
    text: str
    sha256: str
    #: None when there is no live file (or it is empty).
    live_sha256: str | None
    #: Unified diff ``live/<file>`` -> ``<file>``; '' when unchanged.
    diff: str
    changed: bool


class PreviewOut(FilePreviewOut):
    """The dialplan include (``extensions_routing.conf``) in the top-level fields, the
    county queues (``queues_counties.conf``) in ``queues``."""

    queues: FilePreviewOut
    #: Apply would write queues_counties.conf and reload app_queue (its text changed).
    reloads_queues: bool


class VersionOut(BaseModel):
    id: int
    created_at: datetime | None
    author: str
    sha256: str
    result: str
    error: str | None
    rollback_of: int | None


class VersionDetail(VersionOut):
    text: str
    diff: str
    lint_output: str
    rules: dict[str, Any]


class HistoryOut(BaseModel):
    items: list[VersionOut]
    #: Pass as ``before_id`` for the next (older) page; None on the last page.
    next_before_id: int | None


class OutcomeOut(BaseModel):
    ok: bool
    error: str | None
    restored: bool | None
    lint_ok: bool
    lint_output: str
    steps: list[str]


class ApplyOut(BaseModel):
    ok: bool
    #: What happened, in a sentence for the admin.
    message: str
    #: True when the routing Asterisk runs is still the one from before this attempt.
    previous_routing_live: bool
    version: VersionDetail
    outcome: OutcomeOut


def _version(row: RoutingVersion) -> VersionOut:
    return VersionOut(
        id=row.id,
        created_at=row.created_at,
        author=row.author_name,
        sha256=row.sha256,
        result=row.result,
        error=row.error,
        rollback_of=row.rollback_of,
    )


def _detail(row: RoutingVersion) -> VersionDetail:
    return VersionDetail(
        **_version(row).model_dump(),
        text=row.text,
        diff=row.diff,
        lint_output=row.lint_output,
        rules=row.rules,
    )


def _verdict(version: RoutingVersion, outcome: ApplyOutcome) -> tuple[str, bool]:
    """The sentence for the admin, and whether the previous routing is still live."""
    if outcome.ok:
        return f"Applied: version {version.id} is live.", False
    if outcome.restored is None:
        # Refused before or at the write (lint, file system): Asterisk was not reloaded.
        return (
            f"Version {version.id} failed and nothing was loaded: the previous routing stays live.",
            True,
        )
    if outcome.restored:
        return (
            f"Version {version.id} failed; the previous file was put back and reloaded: "
            "the previous routing stays live.",
            True,
        )
    if "previous file restored" in outcome.steps:
        # The previous file is back on disk but Asterisk did not answer the reload of it.
        # Unreachable from the start (the common case): it never loaded the new file.
        return (
            f"Version {version.id} failed and Asterisk could not be reloaded. The previous "
            "file is back in place, so the previous routing stays live (and is what the "
            "next reload loads); check that Asterisk is reachable.",
            True,
        )
    return (
        f"Version {version.id} failed and the previous file could not be put back: "
        "check the Asterisk configuration folder before the next reload.",
        False,
    )


def _apply_out(report: ApplyReport) -> ApplyOut:
    message, previous_live = _verdict(report.version, report.outcome)
    return ApplyOut(
        ok=report.outcome.ok,
        message=message,
        previous_routing_live=previous_live,
        version=_detail(report.version),
        outcome=OutcomeOut.model_validate(describe(report.outcome)),
    )


# --- API -------------------------------------------------------------------------------------


@router.get("/api/routing/catalog", summary="What the routing editor offers in its lists")
async def catalog(_: AdminUser, db: DbSession, service: Routing) -> CatalogOut:
    """What the editor offers in its lists: counties, queues, weekdays. Retired counties
    and their queues are left out: no rule may send calls to them."""
    known = await service.catalog(db)
    names = dict((await db.execute(select(County.code, County.name))).all())
    return CatalogOut(
        counties=[
            CountyOut(code=code, name=names.get(code, code), queue=queue)
            for code, queue in sorted(known.active_counties.items())
        ],
        queues=sorted(known.queues),
        weekdays=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        can_apply=service.open_ami is not None,
    )


@router.get("/api/routing/rules", summary="The stored routing rules (export format)")
async def get_rules(_: AdminUser, db: DbSession, service: Routing) -> dict[str, Any]:
    """The stored rules in the export format (``cti routing export --format json``)."""
    return (await service.rules(db)).as_data()


@rules_body.post(
    "/api/routing/validate",
    summary="Check routing rules without saving them",
    responses=documented(Invalid),
)
async def validate_rules(_: AdminUser, db: DbSession, service: Routing, body: RuleSet) -> ValidOut:
    """Check a proposed rule set without storing it: 200, or 422 with ``fields``."""
    try:
        rules = await service.validate(db, body)
    except RuleErrors as exc:
        raise _refused(exc) from None
    return ValidOut(
        dids=len(rules.dids), prefixes=len(rules.prefixes), counties=len(rules.counties)
    )


@rules_body.put(
    "/api/routing/rules", summary="Save the routing rules", responses=documented(Invalid)
)
async def save_rules(
    request: Request,
    ctx: AdminUser,
    db: DbSession,
    service: Routing,
    body: RuleSet,
) -> dict[str, Any]:
    """Replace the stored rules (checked, audited). Not applied until ``apply``."""
    try:
        rules: RuleSet = await service.save(db, body, _actor(request, ctx))
    except RuleErrors as exc:
        raise _refused(exc) from None
    return rules.as_data()


def _parse_at(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    # fromisoformat also takes week dates and other forms; ask for the plain one.
    if not re.fullmatch(r"[0-9T:.+\-Z ]{10,40}", value):
        raise Invalid("bad time", fields={"at": "an ISO time such as 2027-01-04T09:30:00+08:00"})
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(
            "bad time", fields={"at": "an ISO time such as 2027-01-04T09:30:00+08:00"}
        ) from None
    if at.tzinfo is None:
        raise Invalid("bad time", fields={"at": "give a UTC offset, e.g. +08:00 or Z"})
    return at


@simulate_body.post(
    "/api/routing/simulate",
    summary="Where a call would go: number, caller, time",
    responses=documented(Invalid),
)
async def simulate(_: AdminUser, db: DbSession, service: Routing, query: SimulateIn) -> SimulateOut:
    """Where would this call go with the stored rules? The same decision function the
    dialplan is rendered from (``cti.routing.decide``)."""
    try:
        caller = check_number(query.caller, "caller") if query.caller else ""
        did = check_number(query.did, "did")
    except RuleErrors as exc:
        raise Invalid("the simulation request was refused", fields=exc.fields) from None
    for i, queue in enumerate(query.empty_queues):
        if not _QUEUE.fullmatch(queue):
            raise Invalid(
                "the simulation request was refused",
                fields={f"empty_queues.{i}": "a queue name: lowercase letters, digits, _ and -"},
            )
    at = _parse_at(query.at)
    try:
        decision = await service.simulate(
            db, caller=caller, did=did, at=at, empty_queues=frozenset(query.empty_queues)
        )
    except RuleErrors as exc:
        raise _refused(exc) from None
    return SimulateOut.model_validate({**decision.as_data(), "at": at})


@router.get(
    "/api/routing/preview",
    summary="What apply would write, with diffs against the live files",
    responses=documented(Invalid),
)
async def preview(_: AdminUser, db: DbSession, service: Routing) -> PreviewOut:
    """What apply would write: the include the stored rules render to and the county
    queues the counties render to, each with its diff against the live file. 422 with
    ``fields`` when the rules are refused or queues.conf cannot render the queues
    (field ``queues``)."""
    try:
        return PreviewOut.model_validate(await service.preview(db))
    except RuleErrors as exc:
        raise _refused(exc) from None


@router.post(
    "/api/routing/apply",
    summary="Apply the stored rules to Asterisk (render, lint, write, reload, verify)",
    responses=documented(Invalid, Conflict, ApplyUnavailable),
)
async def apply(request: Request, ctx: AdminUser, db: DbSession, service: Routing) -> ApplyOut:
    """Render, lint, write, reload and verify the stored rules. Every attempt becomes a
    version; on failure the previous file is put back (``previous_routing_live``)."""
    try:
        report = await service.apply(db, _actor(request, ctx))
    except NotConfigured as exc:
        raise ApplyUnavailable(str(exc)) from None
    except ApplyBusy as exc:
        raise Conflict(str(exc)) from None
    except RuleErrors as exc:
        raise _refused(exc) from None
    return _apply_out(report)


@router.get("/api/routing/versions", summary="History of routing versions, newest first")
async def history(
    _: AdminUser,
    db: DbSession,
    service: Routing,
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> HistoryOut:
    """Applied and failed versions, newest first (keyset pages with ``before_id``)."""
    rows = await service.history(db, limit=limit + 1, before_id=before_id)
    page = rows[:limit]
    return HistoryOut(
        items=[_version(row) for row in page],
        next_before_id=page[-1].id if len(rows) > limit else None,
    )


@router.get(
    "/api/routing/versions/{version_id}",
    summary="One routing version in full",
    responses=documented(NotFound),
)
async def get_version(
    version_id: VersionId, _: AdminUser, db: DbSession, service: Routing
) -> VersionDetail:
    row = await service.version(db, version_id)
    if row is None:
        raise NotFound(f"no routing version {version_id}")
    return _detail(row)


@router.post(
    "/api/routing/versions/{version_id}/rollback",
    summary="Apply an earlier routing version again",
    responses=documented(NotFound, Invalid, Conflict, ApplyUnavailable),
)
async def rollback(
    version_id: VersionId, request: Request, ctx: AdminUser, db: DbSession, service: Routing
) -> ApplyOut:
    """Apply the rules of an earlier version again (a new version); the stored rules
    become that version's only if the apply succeeds."""
    try:
        report = await service.rollback(db, version_id, _actor(request, ctx))
    except NotConfigured as exc:
        raise ApplyUnavailable(str(exc)) from None
    except ApplyBusy as exc:
        raise Conflict(str(exc)) from None
    except LookupError:
        raise NotFound(f"no routing version {version_id}") from None
    except RuleErrors as exc:
        # The version names a county or queue that no longer exists.
        raise _refused(exc) from None
    return _apply_out(report)


# --- page ------------------------------------------------------------------------------------


@router.get(
    "/admin/routing", response_class=HTMLResponse, summary="The county routing editor (page)"
)
async def page(request: Request, ctx: AdminUser) -> Response:
    """The editor, simulator, preview/apply and history; it talks to the API above."""
    return request.app.state.templates.TemplateResponse(
        request, "routing.html", {"user": ctx.user, "csrf_token": ctx.csrf_token}
    )


router.include_router(rules_body)
router.include_router(simulate_body)
