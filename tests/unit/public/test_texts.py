"""The public site's texts: both locales complete, placeholders alike, and the locale
chosen from ?lang= and Accept-Language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cti.companies import rules
from cti.public import texts
from cti.public.guard import REASONS
from cti.store.tickets import TicketStatus

TEMPLATES = Path(texts.__file__).resolve().parents[1] / "web" / "templates" / "public"


def test_chinese_translates_every_english_text():
    assert set(texts.ZH) == set(texts.EN)


@pytest.mark.parametrize("key", sorted(texts.EN))
def test_placeholders_are_the_same_in_both(key):
    fields = re.compile(r"\{(\w*)\}")
    assert set(fields.findall(texts.ZH[key])) == set(fields.findall(texts.EN[key]))


def test_every_status_and_refusal_has_a_text():
    for status in TicketStatus:
        assert f"st_{status.value}" in texts.EN
    for reason in REASONS:
        if reason != "no_match":  # not a refusal page: the status form says it
            assert f"r_{reason}" in texts.EN


def test_every_company_rule_refusal_has_a_text():
    for reason in rules.REASONS:
        assert texts.rule_error(reason) == f"c_{reason}"
    assert texts.rule_error("no such reason") == "c_invalid"


def test_every_key_the_templates_read_exists():
    used = set()
    for path in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"\bt\.([a-z_]+)", path.read_text()))
    assert used, "the templates were not read"
    assert used <= set(texts.EN), used - set(texts.EN)


@pytest.mark.parametrize(
    ("asked", "header", "expected"),
    [
        (None, None, "en"),
        ("zh", None, "zh"),
        ("zh", "en-GB,en;q=0.9", "zh"),
        ("en", "zh-CN", "en"),
        ("klingon", "zh-CN,zh;q=0.9", "zh"),
        (None, "fr-FR,fr;q=0.9,zh;q=0.8,en;q=0.7", "zh"),
        (None, "fr-FR,en;q=0.9,zh;q=0.8", "en"),
        (None, "zh-Hant-TW", "zh"),
        (None, "zh;q=0,en", "en"),
        (None, "zh;q=abc,de", "en"),
        (None, "<script>", "en"),
        (None, ",,,;;;", "en"),
    ],
)
def test_choose_locale(asked, header, expected):
    assert texts.choose_locale(asked, header) == expected


def test_a_missing_translation_falls_back_to_english():
    assert texts.texts_for("zh")["site_title"] == texts.ZH["site_title"]
    assert texts.texts_for("xx") is texts.texts_for("en")
