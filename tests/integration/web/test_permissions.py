"""Every route of the app, every role: each role gets exactly the access the route declares.

Routes added later are covered automatically: a route that declares neither
``RequireRole(...)`` nor ``PUBLIC`` fails ``test_every_route_declares_its_access``.
"""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from fastapi.routing import APIWebSocketRoute
from starlette.routing import Mount

from cti import accounts
from cti.app import ROLES, create_app
from cti.settings import Settings
from cti.store.users import Role
from cti.web.deps import Public
from cti.web.openapi import access_rules, flatten
from tests.conftest import csrf_of, login


def _app_routes():
    app = create_app(
        Settings(_env_file=None), "postgresql+asyncpg://unused/unused", roles=ROLES, services=[]
    )
    return app, list(flatten(app.routes))


def test_every_route_declares_its_access():
    app, routes = _app_routes()
    assert routes, "no routes found"
    for route in routes:
        rules = access_rules(route)
        assert len(rules) == 1, f"{route.path} declares {rules or 'no access rule'}"
    mounts = [r.path for r in app.routes if isinstance(r, Mount)]
    # Both serve public files only: the app's scripts and styles, Swagger UI's library.
    assert mounts == ["/static", "/api/docs/assets"], "a new mount must be reviewed"


def _cases():
    _, routes = _app_routes()
    for route in routes:
        if isinstance(route, APIWebSocketRoute):
            continue  # WebSocket routes are checked by their own tests
        (rule,) = access_rules(route)
        for method in sorted(route.methods - {"HEAD"}):
            yield pytest.param(method, route.path, rule, id=f"{method} {route.path}")


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch):
    """This matrix checks who may use which route, not password hashing (tested with the
    login): argon2's default cost for every user it makes and logs in (6 roles per route)
    was most of the suite's time. Same algorithm, minimal cost."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", cheap)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "999999", path)


@pytest.mark.parametrize(("method", "path", "rule"), list(_cases()))
async def test_route_access_matrix(method, path, rule, app, make_user):
    import httpx

    transport = httpx.ASGITransport(app=app)
    url = _concrete(path)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anon:
        response = await anon.request(method, url)
        if isinstance(rule, Public):
            assert response.status_code not in (401, 403), f"public {path} refused anonymous"
            return
        assert response.status_code == 401, f"{method} {path} open to anonymous"

    for role in Role:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            await login(c, await make_user(role))
            headers = {"X-CSRF-Token": await csrf_of(c)}
            response = await c.request(method, url, headers=headers)
            if role in rule.roles:
                assert response.status_code not in (401, 403), f"{role} refused on {method} {path}"
            else:
                assert response.status_code == 403, f"{role} allowed on {method} {path}"
