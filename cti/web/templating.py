"""Jinja2 templates with autoescaping: everything shown is escaped unless marked safe, and
nothing caller- or user-supplied is ever marked safe, but for one thing: a knowledge
article's body as ``cti.knowledge.render.to_html`` made it (parsed without HTML, then
sanitised to an allow-list)."""

from __future__ import annotations

from pathlib import Path

from fastapi.templating import Jinja2Templates

from cti.web import navigation

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.autoescape = True
    # The templates ship with the package and change only with it (a restart): no stat()
    # of every template file on every page rendered.
    templates.env.auto_reload = False
    templates.env.globals["nav_links"] = navigation.links_for
    return templates
