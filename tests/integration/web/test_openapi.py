"""The published API description: complete, and honest about the errors.

- every HTTP route of the app is in ``/api/openapi.json``, with a summary written for it
  and a typed response;
- the errors each operation documents are exactly the ones it can return: the access
  rule's (401/403, proven route by route in ``test_permissions``'s matrix) plus the
  ``AppError`` classes its code raises, found by reading the endpoint, its dependencies and
  the functions of ``cti.web`` they call;
- ``/api/openapi.json`` and ``/api/docs`` are for logged-in users only.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from functools import cache

import pytest
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute

from cti.app import ROLES, create_app
from cti.settings import Settings
from cti.store.users import Role
from cti.web import errors as web_errors
from cti.web.openapi import access_rules, auth_errors, flatten
from tests.conftest import csrf_of, login


@cache
def _app():
    return create_app(
        Settings(_env_file=None), "postgresql+asyncpg://unused/unused", roles=ROLES, services=[]
    )


def _http_routes() -> list[APIRoute]:
    return [r for r in flatten(_app().routes) if isinstance(r, APIRoute)]


def _operations():
    for route in _http_routes():
        for method in sorted(route.methods - {"HEAD"}):
            yield pytest.param(route, method, id=f"{method} {route.path}")


def _function_ast(func) -> ast.AST | None:
    try:
        source = textwrap.dedent(inspect.getsource(func))
    except (OSError, TypeError):
        return None
    return ast.parse(source)


def _callee(node: ast.Call, module_globals: dict):
    if isinstance(node.func, ast.Name):
        return module_globals.get(node.func.id)
    if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
        return getattr(module_globals.get(node.func.value.id), node.func.attr, None)
    return None


def _is_app_error(obj) -> bool:
    return isinstance(obj, type) and issubclass(obj, web_errors.AppError)


def _ours(func) -> bool:
    return inspect.isfunction(func) and func.__module__.startswith("cti.web")


def built_errors(func) -> set[type]:
    """The ``AppError`` classes a helper such as ``_refused(exc)`` builds (to be raised)."""
    tree = _function_ast(func)
    if tree is None:
        return set()
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return {func.__globals__[n] for n in names if _is_app_error(func.__globals__.get(n))}


def raised_errors(func, seen: set | None = None) -> set[type | int]:
    """What ``func`` can answer with an error: the ``AppError`` classes it raises (by name,
    through a conditional, or built by a helper of its module), the literal 4xx/5xx
    ``status_code=`` of responses it builds, and the same for the ``cti.web`` functions it
    calls, however deep."""
    seen = set() if seen is None else seen
    func = inspect.unwrap(func)
    if func in seen or not _ours(func):
        return set()
    seen.add(func)
    tree = _function_ast(func)
    if tree is None:
        return set()
    found: set[type | int] = set()
    module_globals = func.__globals__
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            for sub in ast.walk(node.exc):
                if isinstance(sub, ast.Name) and _is_app_error(module_globals.get(sub.id)):
                    found.add(module_globals[sub.id])
                elif isinstance(sub, ast.Call) and _ours(_callee(sub, module_globals)):
                    found |= built_errors(_callee(sub, module_globals))
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "status_code":
                    found |= {
                        c.value
                        for c in ast.walk(keyword.value)
                        if isinstance(c, ast.Constant)
                        and isinstance(c.value, int)
                        and c.value >= 400
                    }
            callee = _callee(node, module_globals)
            if _ours(callee):
                found |= raised_errors(callee, seen)
    return found


def route_errors(route: APIRoute) -> set[type | int]:
    """What the endpoint and its own dependencies (not the access rule) raise."""
    found = raised_errors(route.endpoint)

    def walk(dependant) -> None:
        nonlocal found
        for dep in dependant.dependencies:
            if inspect.isfunction(dep.call):
                found |= raised_errors(dep.call)
            walk(dep)

    walk(route.dependant)
    return found


def _documented(operation: dict) -> dict[int, set[str]]:
    """Documented errors by status (FastAPI's own request-validation 422 aside); for the
    API's own errors (body ``ErrorOut``), the codes listed in the description."""
    out: dict[int, set[str]] = {}
    for status, entry in operation["responses"].items():
        if int(status) < 400:
            continue
        ours = "ErrorOut" in str(entry.get("content", ""))
        content = entry.get("content", {})
        if status == "422" and not ours and "text/html" not in content:
            continue  # FastAPI's own request validation
        out[int(status)] = {c.strip() for c in entry["description"].split(",")} if ours else set()
    return out


def _expected(route: APIRoute, method: str) -> dict[int, set[str]]:
    (rule,) = access_rules(route)
    expected: dict[int, set[str]] = {s: set(c) for s, c in auth_errors(rule, method).items()}
    for error in route_errors(route):
        if isinstance(error, int):  # a response built with a literal status (a page's)
            expected.setdefault(error, set())
        else:
            expected.setdefault(error.status_code, set()).add(error.code)
    return expected


def test_schema_lists_every_route():
    schema = _app().openapi()
    documented = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    routes = {(m, r.path) for r in _http_routes() for m in r.methods - {"HEAD"}}
    assert documented == routes
    websockets = [r.path for r in flatten(_app().routes) if r not in _http_routes()]
    assert websockets and all(f"`{p}`" in schema["info"]["description"] for p in websockets)


@pytest.mark.parametrize(("route", "method"), list(_operations()))
def test_operation_is_described(route, method):
    assert route.summary, f"{method} {route.path} has no summary of its own"
    operation = _app().openapi()["paths"][route.path_format][method.lower()]
    success = [s for s in operation["responses"] if s.startswith(("2", "3"))]
    assert success, f"{method} {route.path} documents no success response"
    bodiless = route.status_code == 204 or 300 <= (route.status_code or 200) < 400
    if route.response_class is not HTMLResponse and not bodiless:
        content = operation["responses"][success[0]].get("content", {})
        schema = next(iter(content.values()), {}).get("schema", {})
        assert schema, f"{method} {route.path} has an untyped response"


@pytest.mark.parametrize(("route", "method"), list(_operations()))
def test_documented_errors_are_the_ones_the_route_returns(route, method):
    operation = _app().openapi()["paths"][route.path_format][method.lower()]
    assert _documented(operation) == _expected(route, method)


def test_the_error_reader_finds_raises_through_helpers():
    """The reader above must see a raise in a helper, or the test above proves nothing."""
    from cti.web import health, routing, users

    assert web_errors.NotFound in raised_errors(users.update_user)  # directly
    assert web_errors.Conflict in raised_errors(users.create_user)  # through a conditional
    assert web_errors.Invalid in raised_errors(routing.save_rules)  # built by a helper
    assert 503 in raised_errors(health.healthz)  # a literal status of a response it builds


async def test_docs_and_schema_need_a_login(client, make_user):
    assert (await client.get("/api/openapi.json")).status_code == 401
    assert (await client.get("/api/docs")).status_code == 401
    for role in Role:
        await login(client, await make_user(role))
        response = await client.get("/api/openapi.json")
        assert response.status_code == 200 and "/api/tickets" in response.json()["paths"]
        page = await client.get("/api/docs")
        assert page.status_code == 200 and "swagger-ui-bundle.js" in page.text
        await client.post("/logout", headers={"X-CSRF-Token": await csrf_of(client)})
    assets = await client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert assets.status_code == 200  # the library's files are public, like /static
