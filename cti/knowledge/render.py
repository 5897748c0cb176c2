"""Markdown to HTML that is safe to put in a page: an article's body is typed by an editor
and is hostile until proven otherwise (a stolen editor account must not be able to plant
script in every agent's browser).

Two layers: markdown-it-py parses with raw HTML off (``<script>`` in the text stays text)
and refuses ``javascript:``, ``vbscript:``, ``file:`` and ``data:`` links; then nh3
(the Ammonia sanitiser) keeps only the tags, attributes and URL schemes listed here,
whatever the parser produced. Images are not allowed (a tracking pixel would tell an
outsider who read what); links get ``rel="noopener noreferrer nofollow"``.
"""

from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset(
    {
        "a", "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "del",
        "code", "pre", "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr",
        "th", "td",
    }
)  # fmt: skip
#: No ``style``: the pages' CSP refuses inline styles anyway, and a style can hide or fake
#: parts of the page.
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})

_PARSER = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_PARSER.enable(["table", "strikethrough"])
_PARSER.disable(["image"])


def to_html(markdown: str) -> str:
    """The body as HTML with nothing active in it: no script, no event handler, no style
    sheet, no link but http(s), mailto and tel. Safe to mark as safe in a template."""
    return nh3.clean(
        _PARSER.render(markdown),
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
    )


def excerpt(markdown: str, limit: int = 200) -> str:
    """Plain text of the body's start, for lists (shown escaped, as text)."""
    text = nh3.clean(_PARSER.render(markdown), tags=set())
    text = " ".join(html.unescape(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
