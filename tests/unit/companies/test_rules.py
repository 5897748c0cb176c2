"""What a company's application may hold, checked field by field.

Hostile input tried: markup and SQL in names (kept verbatim: shown as text), NUL and other
control characters, megabyte strings, wrong types (numbers, objects, lists where text is
due), phone numbers with letters or a SIP URI, email addresses with markup or spaces,
webhook URLs with javascript:, file:, data:, ftp:, credentials (http://user:pass@host),
this machine or a link-local address (cloud metadata), no host, spaces, backslashes and a
bad port; categories that are not codes; unknown fields; a certification for a category
not applied for; validity that ends before it starts.
"""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest

from cti.companies import rules
from cti.companies.rules import CompanyError
from cti.numbers import NumberPlan

PLAN = NumberPlan()


def good(**changes):
    data = {
        "name": "Clean & Bright <Home> Services",
        "licence_number": "BL-2026/0042",
        "address": "12 Harbour Road\nNorth County",
        "phone": "+86 551 555 0123",
        "email": "office@clean-bright.example.org",
        "categories": ["family", "maintenance"],
        "counties": ["north", "east"],
        "contacts": [{"name": "Lan Wei", "role": "owner", "phone": "13800138000"}],
        "staff": [
            {
                "name": "Zhang Min",
                "certifications": [
                    {
                        "category": "family",
                        "title": "Home care level 2",
                        "valid_from": "2026-01-01",
                        "valid_until": "2027-12-31",
                    }
                ],
            }
        ],
        "webhook_url": "https://hooks.clean-bright.example.org/cti?x=1",
    }
    data.update(changes)
    return data


def refused(data, field: str, why: str) -> None:
    with pytest.raises(CompanyError) as caught:
        rules.application(data, PLAN)
    assert caught.value.field == field, caught.value
    assert why in caught.value.message


def test_a_good_application_comes_back_clean_and_verbatim():
    app = rules.application(good(), PLAN)
    assert app.name == "Clean & Bright <Home> Services"  # markup kept, shown escaped
    assert app.phone == "5515550123"  # the caller-ID form
    assert app.contacts[0].phone == "13800138000"
    assert app.categories == ("family", "maintenance")
    cert = app.staff[0].certifications[0]
    assert (cert.valid_from, cert.valid_until) == (date(2026, 1, 1), date(2027, 12, 31))
    assert app.webhook_url == "https://hooks.clean-bright.example.org/cti?x=1"


def test_sql_in_a_name_is_just_text():
    app = rules.application(good(name="x'); DROP TABLE companies;--"), PLAN)
    assert app.name == "x'); DROP TABLE companies;--"


@pytest.mark.parametrize(
    ("changes", "field", "why"),
    [
        ({"name": ""}, "name", "is required"),
        ({"name": "   "}, "name", "is required"),
        ({"name": "a\x00b"}, "name", "NUL or control"),
        ({"name": "two\nlines"}, "name", "NUL or control"),
        ({"name": "x" * 1_000_000}, "name", "at most 200"),
        ({"name": 42}, "name", "must be text"),
        ({"name": {"$gt": ""}}, "name", "must be text"),
        ({"address": "a\x00"}, "address", "NUL or control"),
        ({"address": "x" * 501}, "address", "at most 500"),
        ({"licence_number": "<script>"}, "licence_number", "letters and digits"),
        ({"licence_number": "1' OR '1'='1"}, "licence_number", "letters and digits"),
        ({"licence_number": "-x"}, "licence_number", "letters and digits"),
        ({"phone": "call me"}, "phone", "not a phone number"),
        ({"phone": "0551-555-0123x"}, "phone", "not a phone number"),
        ({"phone": "sip:1000@evil"}, "phone", "not a phone number"),
        ({"phone": "112"}, "phone", "not a phone number"),
        ({"phone": ""}, "phone", "is required"),
        ({"email": "not an email"}, "email", "is not an email"),
        ({"email": "<a@b.cn>"}, "email", "is not an email"),
        ({"email": "a@b"}, "email", "is not an email"),
        ({"email": "a@b.cn\r\nBcc: x@y.cn"}, "email", "NUL or control"),
        ({"categories": []}, "categories", "name at least one"),
        ({"categories": "family"}, "categories", "must be a list"),
        ({"categories": ["Family!"]}, "categories[0]", "is not a code"),
        ({"categories": [None]}, "categories[0]", "is not a code"),
        ({"categories": ["family"] * 101}, "categories", "at most 100"),
        ({"counties": []}, "counties", "name at least one"),
        ({"counties": ["north'--"]}, "counties[0]", "is not a code"),
        ({"contacts": [{"name": ""}]}, "contacts[0].name", "is required"),
        ({"contacts": [{"name": "x", "phone": "abc"}]}, "contacts[0].phone", "not a phone"),
        ({"contacts": [{"name": "x", "email": "x@"}]}, "contacts[0].email", "not an email"),
        ({"contacts": ["Lan Wei"]}, "contacts[0]", "must be an object"),
        ({"contacts": [{"name": "x"}] * 21}, "contacts", "at most 20"),
        ({"staff": [{"name": "\x07"}]}, "staff[0].name", "NUL or control"),
        ({"staff": {"name": "x"}}, "staff", "must be a list"),
        ({"extra": 1}, "extra", "is not a field"),
    ],
)
def test_bad_fields_are_refused_by_name(changes, field, why):
    refused(good(**changes), field, why)


@pytest.mark.parametrize(
    ("cert", "field", "why"),
    [
        ({"category": "elderly", "title": "x"}, "category", "not one of the categories"),
        ({"category": "family", "title": ""}, "title", "is required"),
        ({"category": "family", "title": "x", "valid_from": "01/02/2026"}, "valid_from", "YYYY"),
        (
            {"category": "family", "title": "x", "valid_until": "2026-02-30"},
            "valid_until",
            "not a day",
        ),
        (
            {
                "category": "family",
                "title": "x",
                "valid_from": "2026-02-01",
                "valid_until": "2026-01-31",
            },
            "valid_until",
            "must not be before",
        ),
        ({"category": "family", "title": "x", "number": "n\x00"}, "number", "NUL"),
    ],
)
def test_bad_certifications_are_refused_by_name(cert, field, why):
    refused(
        good(staff=[{"name": "Zhang Min", "certifications": [cert]}]),
        f"staff[0].certifications[0].{field}",
        why,
    )


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("javascript:alert(1)", "must start with https:// or http://"),
        ("JAVASCRIPT:alert(1)", "must start with https:// or http://"),
        ("file:///etc/passwd", "must start with https:// or http://"),
        ("data:text/html,<script>x</script>", "must start with https:// or http://"),
        ("ftp://example.org/x", "must start with https:// or http://"),
        ("//example.org/x", "must start with https:// or http://"),
        ("http://user:pass@example.org/hook", "user name or password"),
        ("https://token@example.org/hook", "user name or password"),
        ("https://example.org@evil.example/hook", "user name or password"),
        ("https:///nohost", "must name a host"),
        ("https://exa_mple.org/", "must name a host"),
        ("https://<script>/", "must name a host"),
        ("https://example.org/a b", "spaces or backslashes"),
        ("https://example.org\\@evil.example/", "spaces or backslashes"),
        ("https://example.org:99999/", "not a valid URL"),
        ("https://example.org:0/", "port 0"),
        ("https://example.org/\x00", "NUL or control"),
        ("https://example.org/" + "a" * 600, "at most 500"),
        ("http://localhost:5038/", "local address"),
        ("http://api.localhost/", "local address"),
        ("http://127.0.0.1:5432/", "local address"),
        ("http://[::1]/hook", "local address"),
        ("http://[::ffff:127.0.0.1]/hook", "local address"),
        ("http://169.254.169.254/latest/meta-data", "local address"),
        ("http://0.0.0.0/", "local address"),
    ],
)
def test_bad_webhook_urls_are_refused(url, why):
    refused(good(webhook_url=url), "webhook_url", why)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.org/cti",
        "http://10.0.0.5:8080/hook",
        "https://[2001:db8::1]/hook",
        "https://example.org/hook?sig=v1#frag",
    ],
)
def test_good_webhook_urls_are_kept_as_typed(url):
    assert rules.application(good(webhook_url=url), PLAN).webhook_url == url


def test_no_webhook_is_none():
    assert rules.application(good(webhook_url=""), PLAN).webhook_url is None
    assert rules.application(good(webhook_url=None), PLAN).webhook_url is None


def test_codes_are_distinct_in_the_order_given():
    app = rules.application(good(counties=["east", "north", "east"]), PLAN)
    assert app.counties == ("east", "north")


def test_a_webhook_secret_is_new_each_time_and_long():
    a, b = rules.new_webhook_secret(), rules.new_webhook_secret()
    assert a != b and len(a) == 64 and int(a, 16) >= 0


@pytest.mark.parametrize(
    ("changes", "reason", "detail"),
    [
        ({"name": ""}, "required", ""),
        ({"name": "x" * 1_000_000}, "too_long", "200"),
        ({"name": "a\x00b"}, "control", ""),
        ({"name": 42}, "shape", ""),
        ({"licence_number": "<script>"}, "licence", ""),
        ({"phone": "call me"}, "phone", ""),
        ({"email": "not an email"}, "email", ""),
        ({"webhook_url": "ftp://x.example.org"}, "url", ""),
        ({"categories": []}, "none_chosen", ""),
        ({"categories": ["<b>" + "x" * 100]}, "code", "<b>" + "x" * 37),  # cut to 40
        ({"categories": ["family"] * 101}, "too_many", "100"),
        ({"extra": 1}, "unknown_field", "extra"),
    ],
)
def test_a_refusal_says_why_without_words_for_a_translation(changes, reason, detail):
    with pytest.raises(CompanyError) as caught:
        rules.application(good(**changes), PLAN)
    assert (caught.value.reason, caught.value.detail) == (reason, detail)
    assert caught.value.message.isascii(), "the admins' and the API's message stays English"


def test_every_reason_raised_in_the_code_is_a_known_one():
    """A typo in ``reason=`` would show the general text; catch it here instead."""
    root = Path(rules.__file__).resolve().parents[1]
    used = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in (
                "CompanyError",
                "LicenceTaken",
            ):
                used |= {
                    k.value.value
                    for k in node.keywords
                    if k.arg == "reason" and isinstance(k.value, ast.Constant)
                }
    assert len(used) > 10, "the raise sites were not read"
    assert used <= rules.REASONS, used - rules.REASONS
    assert CompanyError("x", "y", reason="no such reason").reason == "invalid"
