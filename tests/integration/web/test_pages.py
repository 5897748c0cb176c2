"""The navigation bar: on every page, each role sees what it may open, and every link opens."""

from __future__ import annotations

import re

import pytest

from cti.store.users import Role
from cti.web import navigation
from tests.conftest import login

NAV = re.compile(r'<nav aria-label="Main" class="main-nav">(.*?)</nav>', re.S)
LINK = re.compile(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>')


def nav_of(html: str) -> list[tuple[str, bool, str]]:
    (block,) = NAV.findall(html)
    return [(href, bool(current), label) for href, current, label in LINK.findall(block)]


@pytest.mark.parametrize("role", list(Role))
async def test_every_page_in_the_bar_opens_and_shows_the_same_bar(role, client, make_user):
    await login(client, await make_user(role))
    expected = [("/", "Home")] + [(link.href, link.label) for link in navigation.links_for(role)]
    for href, _ in expected:
        page = await client.get(href, headers={"accept": "text/html"})
        assert page.status_code == 200, f"{role} cannot open {href} from the bar"
        bar = nav_of(page.text)
        assert [(h, label) for h, _, label in bar] == expected
        assert [h for h, current, _ in bar if current] == [href]  # says where you are


def test_each_role_sees_only_its_own_pages():
    agent = [link.href for link in navigation.links_for(Role.AGENT)]
    assert agent[0] == "/agent" and agent[-1] == "/api/docs" and "/tickets" in agent
    assert "/tickets" not in {link.href for link in navigation.links_for(Role.COMPANY)}
    admin = {link.href for link in navigation.links_for(Role.ADMIN)}
    assert "/admin/routing" in admin
    for role in (Role.AGENT, Role.INSPECTOR, Role.SUPERVISOR):
        assert "/admin/routing" not in {link.href for link in navigation.links_for(role)}


async def test_no_bar_before_login(client):
    page = await client.get("/login")
    assert page.status_code == 200 and 'class="main-nav"' not in page.text
