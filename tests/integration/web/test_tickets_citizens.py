"""Agents create citizens and tickets from the pop; bad input gets field-level errors."""

import re

from sqlalchemy import select

from cti.store.calls import Call
from cti.store.citizens import CitizenPhone
from cti.store.users import Role
from tests.conftest import csrf_of, login


async def _agent(client, make_user):
    await login(client, await make_user(Role.AGENT, interface=None))
    return {"X-CSRF-Token": await csrf_of(client)}


async def test_unknown_caller_gets_a_profile_and_a_ticket_for_the_call(
    client, make_user, session_factory
):
    headers = await _agent(client, make_user)
    citizen = await client.post(
        "/api/citizens",
        json={"name": "Li Wei", "phones": ["+86 138 0013 8099"], "county": "north"},
        headers=headers,
    )
    assert citizen.status_code == 201
    assert citizen.json()["phones"] == ["13800138099"]  # stored normalised

    ticket = await client.post(
        "/api/tickets",
        json={
            "category": "family.nanny",
            "description": "Needs a live-in nanny from May",
            "citizen_id": citizen.json()["id"],
            "county": "north",
            "call": {"node": "pbx1", "linkedid": "1795710920.0"},
        },
        headers=headers,
    )
    assert ticket.status_code == 201, ticket.text
    body = ticket.json()
    assert re.fullmatch(r"T\d{4}-\d{6}", body["number"])
    async with session_factory() as db:
        call = await db.get(Call, body["call_id"])
        assert (call.node, call.linkedid) == ("pbx1", "1795710920.0")
        phones = (
            await db.scalars(
                select(CitizenPhone.number).where(CitizenPhone.citizen_id == citizen.json()["id"])
            )
        ).all()
        assert phones == ["13800138099"]

    second = await client.post(
        "/api/tickets",
        json={
            "category": "maintenance.water",
            "description": "Leaking tap",
            "call": {"node": "pbx1", "linkedid": "1795710920.0"},
        },
        headers=headers,
    )
    assert second.json()["call_id"] == body["call_id"]  # same call, same row
    assert int(second.json()["number"][-6:]) == int(body["number"][-6:]) + 1


async def test_ticket_validation_errors_name_the_field(client, make_user):
    headers = await _agent(client, make_user)
    cases = [
        ({"category": "no.such", "description": "x"}, "category"),
        ({"category": "family.nanny", "description": "   "}, "description"),
        ({"category": "family.nanny", "description": "a\x00b"}, "description"),
        ({"category": "family.nanny", "description": "x", "citizen_id": 99999999}, "citizen_id"),
        ({"category": "family.nanny", "description": "x", "county": "atlantis"}, "county"),
    ]
    for body, field in cases:
        response = await client.post("/api/tickets", json=body, headers=headers)
        assert response.status_code == 422, body
        assert field in response.json()["fields"], (body, response.json())
    hostile_call = {
        "category": "family.nanny",
        "description": "x",
        "call": {"node": "pbx1", "linkedid": "1.0'; DROP TABLE calls;--"},
    }
    assert (
        await client.post("/api/tickets", json=hostile_call, headers=headers)
    ).status_code == 422


async def test_citizen_validation(client, make_user):
    headers = await _agent(client, make_user)
    cases = [
        ({"name": "", "phones": ["13800138000"]}, "name"),
        ({"name": "A", "phones": ["anonymous"]}, "phones"),
        ({"name": "A", "phones": ["<script>"]}, "phones"),
        ({"name": "A", "phones": ["13800138000"], "flags": ["Not A Flag!"]}, "flags"),
    ]
    for body, field in cases:
        response = await client.post("/api/citizens", json=body, headers=headers)
        assert response.status_code == 422, body
        assert field in response.json()["fields"], body
    html_name = await client.post(
        "/api/citizens",
        json={"name": "<b>Bold</b> & co", "phones": ["13800138011"]},
        headers=headers,
    )
    assert html_name.json()["name"] == "<b>Bold</b> & co"  # data stays data, escaped on output
