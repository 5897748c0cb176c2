"""The company join form in Chinese: every kind of bad input the company rules
(``cti.companies.rules``, ``cti.companies.applications``) can refuse from this form is
said in Chinese, at its field, with the typed value escaped, and nothing of the English
message the admins and the API get."""

from __future__ import annotations

import re

import pytest
from markupsafe import escape

from cti.public.texts import ZH
from tests.integration.web.test_public_site import application, mobile

FIELD_ERROR = re.compile(r'data-testid="error-([a-z_]+)">([^<]*)</span>')


CASES = [
    # (what is typed, the field, the text key, its detail)
    ({"name": "  "}, "name", "c_required", ""),
    ({"address": ""}, "address", "c_required", ""),
    ({"name": "Fix\x01It"}, "name", "c_control", ""),
    ({"licence_number": "--<b>--"}, "licence_number", "c_licence", ""),
    ({"phone": "call me"}, "phone", "c_phone", ""),
    ({"email": "not-an-address"}, "email", "c_email", ""),
    ({"categories": []}, "categories", "c_none_chosen", ""),
    ({"categories": ["<b>Bad</b>"]}, "categories", "c_code", "<b>Bad</b>"),
    ({"categories": ["atlantis"]}, "categories", "c_no_category", "atlantis"),
    ({"counties": []}, "counties", "c_none_chosen", ""),
    ({"counties": ["atlantis"]}, "counties", "c_no_county", "atlantis"),
    ({"contact_phone": "12ab"}, "contact_phone", "c_phone", ""),
    ({"contact_name": "", "contact_phone": "13912345678"}, "contact_name", "c_required", ""),
    ("taken", "licence_number", "c_taken", ""),
]


@pytest.mark.parametrize(("changes", "field", "key", "detail"), CASES)
async def test_each_kind_of_bad_input_is_said_in_chinese(app, client, changes, field, key, detail):
    if changes == "taken":
        first = application(app, lang="zh")
        assert (await client.post("/site/join", data=first)).status_code == 200
        changes = {"licence_number": first["licence_number"], "phone": mobile()}
    got = await client.post("/site/join", data=application(app, lang="zh", **changes))
    assert got.status_code == 422, got.text
    assert '<html lang="zh-CN"' in got.text
    errors = dict(FIELD_ERROR.findall(got.text))
    assert errors == {field: str(escape(ZH[key].format(detail=detail)))}
    assert re.search(r"[\u4e00-\u9fff]", errors[field]), "said in Chinese"
    assert "<b>Bad</b>" not in got.text


async def test_english_stays_english(app, client):
    got = await client.post("/site/join", data=application(app, counties=["atlantis"]))
    assert got.status_code == 422
    assert dict(FIELD_ERROR.findall(got.text)) == {
        "counties": "&#34;atlantis&#34; is not a county we serve."
    }
