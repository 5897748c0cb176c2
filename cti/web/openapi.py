"""The published API description: FastAPI's schema, completed from each route's access rule.

Every route declares one access rule (``RequireRole(...)`` or ``PUBLIC``, see
``cti.web.deps``); from it this module adds to each operation the errors the rule itself
returns (401 ``not_authenticated``; 403 ``forbidden`` when some role may not use it, 403
``csrf_failed`` on unsafe methods), the security it needs and the roles that may call it.
Routes list only the errors they raise themselves (``errors.documented``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import BaseRoute, Mount

from cti.store.users import Role
from cti.web.deps import UNSAFE_METHODS, Public, RequireRole
from cti.web.errors import CsrfFailed, ErrorOut, Forbidden, NotAuthenticated

ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}
VALIDATION_REF = {"$ref": "#/components/schemas/HTTPValidationError"}

DESCRIPTION = """\
The county hotline's backend: citizens, tickets, callbacks, recordings and their quality
scores, county routing, users and the audit log.

**Authentication.** A browser logs in at `/login` (a session cookie); every request that
changes something also sends the session's CSRF token in the `X-CSRF-Token` header (it is
in `GET /api/me`). A machine client sends `Authorization: Bearer <token>` with an API token
an admin issued (`POST /api/tokens`) for a user: it acts as that user, with the role the
token was issued for, and needs no CSRF token. Each operation says which roles may call it.

**Errors.** The API's own errors have the body `ErrorOut`: a machine-readable `error`
code, a `detail` for people and, for bad input, `fields`. A request that does not match
the declared parameters gets FastAPI's validation body (`HTTPValidationError`) with 422.
"""


def flatten(routes: Iterable[BaseRoute]) -> Iterator[APIRoute | APIWebSocketRoute]:
    """Every HTTP and WebSocket route, through included routers (FastAPI >= 0.160 includes
    them lazily); mounts (static files) are not routes of the API."""
    for route in routes:
        if isinstance(route, APIRoute | APIWebSocketRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from flatten(route.original_router.routes)
        elif not isinstance(route, Mount):
            raise TypeError(f"unexpected route type {type(route).__name__}")


def access_rules(route: APIRoute | APIWebSocketRoute) -> list[RequireRole | Public]:
    """The access rules among a route's dependencies, however deep (exactly one is right)."""
    found: list[RequireRole | Public] = []

    def walk(dependant: Any) -> None:
        for dep in dependant.dependencies:
            if isinstance(dep.call, RequireRole | Public):
                found.append(dep.call)
            walk(dep)

    walk(route.dependant)
    return found


def auth_errors(rule: RequireRole | Public, method: str) -> dict[int, list[str]]:
    """The error codes by status that ``rule`` itself returns for ``method``."""
    if isinstance(rule, Public):
        return {}
    errors: dict[int, list[str]] = {NotAuthenticated.status_code: [NotAuthenticated.code]}
    refused = []
    if rule.roles != frozenset(Role):
        refused.append(Forbidden.code)
    if method in UNSAFE_METHODS:
        refused.append(CsrfFailed.code)
    if refused:
        errors[Forbidden.status_code] = refused
    return errors


def _add_error(operation: dict[str, Any], status: int, codes: list[str]) -> None:
    responses = operation.setdefault("responses", {})
    entry = responses.get(str(status))
    if entry is None:
        responses[str(status)] = {
            "description": ", ".join(codes),
            "content": {"application/json": {"schema": ERROR_REF}},
        }
        return
    known = [c.strip() for c in entry.get("description", "").split(",") if c.strip()]
    entry["description"] = ", ".join(sorted(set(known) | set(codes)))


def _allow_validation_body(operation: dict[str, Any], route: APIRoute) -> None:
    """A route that documents its own 422 hides FastAPI's validation 422: list both bodies."""
    entry = operation.get("responses", {}).get("422")
    has_input = bool(route.dependant.path_params or route.dependant.query_params) or bool(
        route.body_field
    )
    if entry is None or not has_input:
        return
    content = entry.setdefault("content", {}).setdefault("application/json", {})
    if content.get("schema") == ERROR_REF:
        content["schema"] = {"anyOf": [ERROR_REF, VALIDATION_REF]}


def build_schema(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of ``app``, with every route's access rule written into it."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=DESCRIPTION,
        routes=app.routes,
    )
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.setdefault(
        "ErrorOut", ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    if "HTTPValidationError" not in schemas:
        from fastapi.openapi.utils import (
            validation_error_definition,
            validation_error_response_definition,
        )

        schemas["ValidationError"] = validation_error_definition
        schemas["HTTPValidationError"] = validation_error_response_definition
    components["securitySchemes"] = {
        "session": {"type": "apiKey", "in": "cookie", "name": "cti_session"},
        "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
        "token": {"type": "http", "scheme": "bearer", "description": "an API token"},
    }
    websockets = []
    for route in flatten(app.routes):
        (rule,) = access_rules(route)
        if isinstance(route, APIWebSocketRoute):
            websockets.append(route.path)
            continue
        if not route.include_in_schema:
            continue
        for method in sorted(route.methods - {"HEAD"}):
            operation = schema["paths"][route.path_format][method.lower()]
            for status, codes in auth_errors(rule, method).items():
                _add_error(operation, status, codes)
            _allow_validation_body(operation, route)
            if isinstance(rule, RequireRole):
                roles = sorted(rule.roles)
                operation["x-roles"] = roles
                needs = {"session": []} | ({"csrf": []} if method in UNSAFE_METHODS else {})
                operation["security"] = [needs, {"token": []}]
                note = f"Roles: {', '.join(roles)}."
                operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
    if websockets:
        schema["info"]["description"] += "\n**WebSockets** (same session cookie): " + ", ".join(
            f"`{path}`" for path in sorted(websockets)
        )
    return schema


def install(app: FastAPI) -> None:
    """Serve :func:`build_schema` as ``app.openapi()``, built once on first use."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_schema(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
